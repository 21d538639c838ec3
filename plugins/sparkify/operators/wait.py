"""WaitForS3ObjectSensor: wait for an interval's input without holding a worker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor
from airflow.sdk.exceptions import AirflowSensorTimeout

if TYPE_CHECKING:
    from airflow.sdk import Context


class WaitForS3ObjectSensor(S3KeySensor):
    """
    The amazon provider's ``S3KeySensor``, always deferrable: a late object is waited for by the triggerer, so the
    wait holds no worker slot and no pool slot. After ``timeout`` it fails — without retries, as a sensor's
    timeout does — with the object's location and how long it waited, not the trigger's bare "Trigger timeout".

    :param bucket_name: the bucket (templated).
    :param bucket_key: the object's key (templated).
    :param timeout: how long to wait for it.
    :param poke_interval: how often the triggerer looks.
    :param aws_conn_id: the AWS connection (the provider's default ``aws_default``).
    """

    ui_color = "#e8f4fd"

    def __init__(
        self, *, bucket_name: str, bucket_key: str, timeout: timedelta, poke_interval: timedelta, **kwargs: Any
    ) -> None:
        super().__init__(
            bucket_name=bucket_name,
            bucket_key=bucket_key,
            timeout=timeout.total_seconds(),
            poke_interval=poke_interval.total_seconds(),
            deferrable=True,
            **kwargs,
        )

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context) -> Any:
        try:
            return super().resume_execution(next_method, next_kwargs, context)
        except AirflowSensorTimeout as timed_out:
            raise AirflowSensorTimeout(self.gave_up(context)) from timed_out

    def gave_up(self, context: Context) -> str:
        """What the failure says: which object, how long the task waited for it, and the limit."""
        limit = timedelta(seconds=self.timeout)
        started = getattr(context.get("ti"), "start_date", None)
        waited = datetime.now(UTC) - started if started else limit
        return (
            f"s3://{self.bucket_name}/{self.bucket_key} did not arrive: waited {_hms(waited)} for it "
            f"(limit {_hms(limit)}, SPARKIFY_INPUT_WAIT). Clear this task to wait again once it is delivered."
        )


def _hms(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m{seconds % 60:02d}s"
