"""DataQualityOperator: run declared checks, report them all, store the results, fail on error-severity ones."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from sparkify import assets, engines, quality_results
from sparkify.lineage import LineageMixin, quality_lineage
from sparkify.quality import Check, QualityChecksFailedError
from sparkify.runtime import InvalidArgumentError, interval_parameters, logical_date, run_id, utc_now

if TYPE_CHECKING:
    from airflow.sdk import Context


class DataQualityOperator(LineageMixin, BaseOperator):
    """
    Run data-quality checks against the warehouse, for the run's data interval.

    Checks are data (:class:`sparkify.quality.Check`, built with the families in :mod:`sparkify.quality`),
    declared by the DAG; none are built into the operator. Every check runs, even after a failure. The task log
    shows one table of all results (check, severity, status, observed, expected); the results are also stored
    in ``quality_results`` (run id, logical date, check, severity, status, observed, expected, checked at).

    A failed ``error`` check — or one whose query fails — fails the task without retries (the data will not
    change by retrying) and the message names every failed check; a failed ``warn`` check is only reported.

    :param checks: the checks to run; their SQL gets the run's data interval and ``%(run_id)s`` bound.
    :param redshift_conn_id: the warehouse connection, whichever engine serves it (the name is the course's
        and the amazon provider's).
    :param store_results: write the results to ``quality_results`` (default True).
    """

    ui_color = "#89DA59"

    def __init__(
        self,
        *,
        checks: Sequence[Check],
        redshift_conn_id: str = "redshift",
        store_results: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.checks = list(checks)
        self.redshift_conn_id = redshift_conn_id
        self.store_results = store_results

        self._validate_arguments()  # refused when the DAG is parsed

    def _validate_arguments(self) -> None:
        if not self.checks:
            raise InvalidArgumentError("DataQualityOperator was given no checks")
        names = [c.name for c in self.checks]
        if len(set(names)) != len(names):
            raise InvalidArgumentError(f"duplicate check names: {sorted({n for n in names if names.count(n) > 1})}")

    def execute(self, context: Context) -> list[dict[str, Any]]:
        self._validate_arguments()
        engine = engines.resolve(self.redshift_conn_id, self.log)
        bound = {**interval_parameters(context), "run_id": run_id(context)}
        store = (run_id(context), logical_date(context), utc_now()) if self.store_results else None
        started = time.monotonic()
        results = quality_results.run_checks(engine, self.checks, bound, store=store)
        seconds = time.monotonic() - started
        self._lineage = quality_lineage(engine, self.checks, results, self.store_results)
        if self.store_results:
            extra = {"checks": len(results), **bound}
            assets.record_change(context, self.outlets, quality_results.RESULTS_TABLE, len(results), extra, self.log)
        if "ti" in context:  # the publication gate reads them whether the checks passed or not
            context["ti"].xcom_push(key="checks", value=results)
        failed = [r for r in results if r["status"] in quality_results.FAILED]
        self._log_results(bound, results, failed, seconds)
        if failed:
            message = f"{len(failed)} data-quality check(s) failed: {quality_results.describe(failed)}"
            raise QualityChecksFailedError(message, failed)
        return results

    def _log_results(self, bound: dict[str, Any], results: list[dict], failed: list[dict], seconds: float) -> None:
        warned = [r for r in results if r["status"] == "warn"]
        self.log.info(
            "data quality for [%s, %s): %s passed, %s warned, %s failed of %s checks in %.2f s\n%s",
            bound["data_interval_start"],
            bound["data_interval_end"],
            len(results) - len(failed) - len(warned),
            len(warned),
            len(failed),
            len(results),
            seconds,
            quality_results.format_table(results),
        )
        for r in warned:
            self.log.warning("quality warning: %s (observed %s, expected %s)", r["check"], r["observed"], r["expected"])
