"""The benchmark behind ``make bench``: staging and hourly runs at N× the course volume, as ratios.

    python -m bench [--scales 1 10 100] [--curve-scales 300] [--hours 3] [--backfill-hours 24]
                    [--backfill-repeat 3] [--big-mb 1024] [--dag-songs 2000] [--catalogue-songs 14896]
                    [--repeat 3] [--no-peers] [--no-course-month] [--out bench/results.md]

For every scale N, one bucket holds a generated month of events at N× the course volume (and ``--dag-songs``
song objects), one warehouse database is made for it, and, side by side in this one run:

1. staging the month's events: ours vs raw ``COPY`` of the same rows from a local CSV (the limit), vs dlt and
   sling (the loaders users would otherwise pick, ``bench/peers.py``) and vs the amazon provider's
   ``S3ToSqlOperator`` — ``bench/stage_bench.py``;
2. an hourly run of sparkify_etl vs ``sparkify_floor`` (same ten-task shape, tasks that do nothing) under
   ``airflow dags test`` and as a day's backfill under the scheduler (``--backfill-repeat`` alternating pairs,
   medians) — ``bench/dag_bench.py``.

At each ``--curve-scales`` N only the staging of 1. is measured (without ``S3ToSqlOperator``): more points for
the plot of staging time against events. Then, once: the course month (``--course``, when present) through
``sparkify_etl_daily`` backfilled under the scheduler against ``sparkify_floor_daily``; peak RSS while staging one
``--big-mb`` events object; and stage_songs in an hour with no new song files over a catalogue of
``--catalogue-songs`` objects (wall and CPU, the operator alone in a process of its own, median of 3 idle runs).
Writes ``--out`` (Markdown) and a PNG beside it, and prints each target with pass/MISS.
A benchmark, not a test: nothing asserts.
"""

from __future__ import annotations

import argparse
import logging
import re
import statistics
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

from bench import dag_bench, stage_bench
from bench.stage_bench import ROOT, stack
from tools.progress import progress


def tag(scale: float) -> str:
    return re.sub(r"[^0-9a-z]", "_", f"x{scale:g}")


def target_for_dag_ratio(scale: float) -> float | None:
    """≤ 1.3× the floor at 1× (and below), ≤ 1.6× at 100× (and above); none in between."""
    if scale <= 1:
        return 1.3
    if scale >= 100:
        return 1.6
    return None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scales", type=float, nargs="+", default=[1, 10, 100], help="N× the course volume")
    p.add_argument(
        "--curve-scales", type=float, nargs="*", default=[], help="N× at which only staging is measured (the plot)"
    )
    p.add_argument("--hours", type=int, default=3, help="hours timed under airflow dags test, per DAG and scale")
    p.add_argument("--backfill-hours", type=int, default=24, help="hours of the backfill, per DAG and scale")
    p.add_argument("--big-mb", type=int, default=1024, help="size of the one events object of the peak-RSS run")
    p.add_argument("--dag-songs", type=int, default=2000, help="song objects in each scale's bucket")
    p.add_argument("--catalogue-songs", type=int, default=14_896, help="song objects of the idle stage_songs run")
    p.add_argument("--repeat", type=int, default=3, help="staging runs of ours and of raw COPY (median)")
    p.add_argument("--backfill-repeat", type=int, default=3, help="alternating ETL/floor backfills (median)")
    p.add_argument(
        "--course",
        type=Path,
        default=ROOT.parent / "shared" / "data" / "sparkify",
        help="course data for the daily month backfill (skipped when absent)",
    )
    p.add_argument("--no-peers", action="store_true", help="without dlt and sling (no peers' virtualenv)")
    p.add_argument("--no-course-month", action="store_true", help="skip the course month through the daily DAG")
    p.add_argument("--skip-dags", action="store_true", help="staging measurements only")
    p.add_argument("--no-warm-up", action="store_true", help="no untimed warm-up hour before dags test (smoke runs)")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results.md")
    a = p.parse_args()
    logging.disable(logging.INFO)
    stage_bench.use_local_stack()
    stack.servers_up()
    from tools.datagen import generate, scaled_volume
    from tools.seed import seed

    work = Path(tempfile.mkdtemp(prefix="sparkify-bench-"))
    started = time.monotonic()
    rows: dict[float, dict] = {}
    scales = sorted({*a.scales, *a.curve_scales})
    phases = len(scales) + 1 + (0 if a.skip_dags or a.no_course_month else 1)
    with progress("make bench", phases, "phases") as phase_done:
        for scale in scales:
            full = scale in a.scales  # else a point of the staging curve only
            print(f"--- {scale:g}× the course volume{'' if full else ' (staging only)'}", flush=True)
            folder = work / tag(scale)
            data = generate(
                folder,
                seed=11,
                start=date(2018, 11, 1),
                days=30,
                **{**scaled_volume(scale), "n_songs": a.dag_songs},  # not scaled: see docs/benchmark.md
            )
            bucket = f"bench-{tag(scale).replace('_', '-')}-{uuid.uuid4().hex[:6]}"
            seed(folder, bucket)
            dsn = stage_bench.scratch_db(f"bench_{tag(scale)}")
            staging = stage_bench.measure_staging(
                bucket, dsn, folder, work, a.repeat, s3_to_sql=full, peers=not a.no_peers
            )
            print(
                f"staging, rows/s: ours {staging.rps(staging.ours):,.0f}, raw COPY {staging.rps(staging.raw):,.0f}"
                + "".join(f", {name} {staging.rps(runs):,.0f}" for name, runs in staging.peers.items())
                + (f", S3ToSqlOperator {staging.rps(staging.s3_to_sql):,.0f}" if staging.s3_to_sql else ""),
                flush=True,
            )
            mb = sum(f.stat().st_size for f in (folder / "log_data").rglob("*.json")) / 1e6
            result = {"data": data, "staging": staging, "mb": mb}
            if full and not a.skip_dags:
                env = dag_bench.run_env(dsn, bucket)  # postgres://… is a connection URI
                result["dags_test"] = dag_bench.measure_dags_test(env, a.hours, warm_up=not a.no_warm_up)
                print(
                    f"dags test: ETL {statistics.median(result['dags_test'].etl):.1f} s, floor "
                    f"{statistics.median(result['dags_test'].floor):.1f} s",
                    flush=True,
                )
                result["backfill"] = dag_bench.measure_backfill(env, a.backfill_hours, a.backfill_repeat)
                print(f"backfill: ETL {result['backfill'].etl} s, floor {result['backfill'].floor} s", flush=True)
            rows[scale] = result
            stage_bench.empty_bucket(bucket)
            phase_done()

        month = None
        if not a.skip_dags and not a.no_course_month and (a.course / "song_data").is_dir():
            print("--- the course month through sparkify_etl_daily", flush=True)
            bucket = f"bench-course-{uuid.uuid4().hex[:6]}"
            seed(a.course, bucket)
            dsn = stage_bench.scratch_db("bench_course_month")
            month = dag_bench.measure_daily_month(dag_bench.run_env(dsn, bucket))
            print(f"daily month: ETL {month.etl[0]:.1f} s, floor {month.floor[0]:.1f} s", flush=True)
            stage_bench.empty_bucket(bucket)

        print("--- peak RSS and idle stage_songs", flush=True)
        bucket = f"bench-once-{uuid.uuid4().hex[:6]}"
        catalogue = work / "catalogue"
        generate(catalogue, seed=12, n_songs=a.catalogue_songs, days=1, events_per_day=1, n_users=2)
        seed(catalogue, bucket)
        stage_bench.scratch_db("bench_once")
        big_key, big_bytes, big_events = stage_bench.write_big_object(bucket, a.big_mb, seed=5)
        base = stage_bench.baseline_rss()
        peak = stage_bench.peak_rss_staging(bucket, big_key)
        idle = stage_bench.stage_songs_idle(bucket)
        stage_bench.empty_bucket(bucket)

    a.out.parent.mkdir(parents=True, exist_ok=True)
    report = Report(a, rows, big_bytes, big_events, peak, base, idle, month)
    a.out.write_text(report.markdown(time.monotonic() - started))
    report.plot(a.out.with_suffix(".png"))
    print(a.out.read_text())
    print(f"written to {a.out} and {a.out.with_suffix('.png')}")


class Report:
    def __init__(self, a, rows, big_bytes, big_events, peak, base, idle, month):
        self.a, self.rows = a, rows
        self.big_bytes, self.big_events, self.peak, self.base = big_bytes, big_events, peak, base
        self.idle, self.month = idle, month

    @property
    def peer_names(self) -> list[str]:
        """The peers measured at any scale (dlt, sling), in a stable order."""
        return sorted({name for r in self.rows.values() for name in r["staging"].peers})

    def checks(self) -> list[tuple[str, float, str, bool | None]]:
        largest = max(self.a.scales)
        st = self.rows[largest]["staging"]
        ours = st.rps(st.ours)
        at_100 = largest >= 100  # the staging targets are set at 100×
        out = [
            (
                f"staging vs raw COPY at {largest:g}× (rows/s ratio)",
                ours / st.rps(st.raw),
                f">= {1.0 if at_100 else '—'}",
                ours / st.rps(st.raw) >= 1.0 if at_100 else None,
            ),
        ]
        fastest = st.fastest_peer()
        if fastest:
            ratio = ours / st.rps(st.peers[fastest])
            out.append(
                (f"staging vs the fastest peer ({fastest}) at {largest:g}× (rows/s ratio)", ratio,
                 f">= {2 if at_100 else '—'}", ratio >= 2 if at_100 else None)
            )  # fmt: skip
        if st.s3_to_sql:
            out.append((f"staging vs S3ToSqlOperator at {largest:g}× (rows/s ratio)", ours / st.rps(st.s3_to_sql),
                        "—", None))  # fmt: skip
        out += [
            (f"peak RSS staging one {self.big_bytes / 1e6:,.0f} MB object (MiB)", self.peak, "< 300", self.peak < 300),
            ("stage_songs, no new files: objects read", self.idle.read, "== 0", self.idle.read == 0),
            (
                f"stage_songs, no new files, {self.idle.listed:,} objects: operator CPU s",
                self.idle.cpu,
                "<= 1",
                self.idle.cpu <= 1,
            ),
            (
                f"stage_songs, no new files, {self.idle.listed:,} objects: wall s",
                self.idle.wall,
                "<= 1",
                self.idle.wall <= 1,
            ),
        ]
        if self.month:
            out.append(
                (
                    "course month through sparkify_etl_daily, 30 runs: wall s",
                    self.month.etl[0],
                    "<= 180",
                    self.month.etl[0] <= 180,
                )
            )
            out.append(("course month, daily: ETL / floor", self.month.ratio, "—", None))
        for scale, r in sorted(self.rows.items()):
            target = target_for_dag_ratio(scale)
            backfill = f"{self.a.backfill_hours}-hour backfill"
            for way, label in (("dags_test", "airflow dags test, one hour"), ("backfill", backfill)):
                if way in r:
                    ratio = r[way].ratio
                    verdict = ratio <= target if target else None
                    out.append((f"{label} at {scale:g}×: ETL / floor", ratio, f"<= {target or '—'}", verdict))
        return out

    def gate_cost(self) -> list[str]:
        """What keeping unchecked data from the analysts costs: shape measurement while staging, the publish task."""
        lines = [
            "## What the gate costs",
            "",
            "*Source contract*: staging the month with the log_data contract measured (as the DAG stages it, the "
            "*ours* column of section 1) and without it, medians of the alternating runs. *Publish*: the publish "
            "task's own time in the timed hourly `dags test` runs, as it logs it, and its share of the ETL run "
            "(sparkify_floor has a publish task too, so the ETL / floor ratios of section 3 include the gate).",
            "",
            "| scale | staging with contract s | without s | contract cost | publish s | share of the ETL run |",
            "|---:|---:|---:|---:|---:|---:|",
        ]
        for scale, r in sorted(self.rows.items()):
            if scale not in self.a.scales:
                continue
            st, dt = r["staging"], r.get("dags_test")
            measured, bare = statistics.median(st.ours), statistics.median(st.unmeasured)
            publish = statistics.median(dt.publish) if dt and dt.publish else float("nan")
            share = publish / statistics.median(dt.etl) if dt and dt.etl else float("nan")
            lines.append(
                f"| {scale:g}× | {measured:.2f} | {bare:.2f} | {measured / bare - 1:+.0%} | {publish:.2f} | "
                f"{share:.1%} |"
            )
        return [*lines, ""]

    def markdown(self, elapsed: float) -> str:
        a = self.a
        lines = [
            "# Benchmark: staging and hourly runs at N× the course volume",
            "",
            f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `python -m bench --scales "
            f"{' '.join(f'{s:g}' for s in a.scales)}"
            + (f" --curve-scales {' '.join(f'{s:g}' for s in a.curve_scales)}" if a.curve_scales else "")
            + f" --hours {a.hours} --backfill-hours {a.backfill_hours} --backfill-repeat {a.backfill_repeat} "
            f"--big-mb {a.big_mb} --dag-songs {a.dag_songs} --catalogue-songs {a.catalogue_songs} "
            f"--repeat {a.repeat}` ({elapsed / 60:.0f} min).",
            "",
            f"Machine: {stage_bench.machine()}.",
            "",
            "Each scale's bucket holds a generated month (30 daily objects) of events at N× the course volume and "
            f"{a.dag_songs:,} song objects (docs/benchmark.md says why the song catalogue is not scaled here).",
            "",
            "## 1. Staging the month's events into the embedded warehouse",
            "",
            f"Seconds, median of {a.repeat} alternating runs of ours, raw COPY"
            + ("" if a.no_peers else ", dlt and sling")
            + "; one run of S3ToSqlOperator (not run at the staging-only scales). Every tool ends with the same "
            "typed rows in a table like `staging_events` with its indexes (a peer's rows are checked equal to ours: "
            "count and checksum). *Fastest peer*: dlt or sling (docs/benchmark.md says how each is configured).",
            "",
        ]
        peer_names = self.peer_names
        lines += [
            "| scale | events | MB | ours s | raw COPY s | "
            + "".join(f"{name} s | " for name in peer_names)
            + "S3ToSqlOperator s | ours rows/s | ours / raw | "
            + ("ours / fastest peer |" if peer_names else "ours / S3ToSqlOperator |"),
            "|---:|---:|---:|---:|---:|" + "---:|" * len(peer_names) + "---:|---:|---:|---:|",
        ]
        for scale, r in sorted(self.rows.items()):
            st = r["staging"]
            ours = st.rps(st.ours)
            peer_cells = "".join(
                f"{statistics.median(st.peers[n]):.2f} | " if n in st.peers else "— | " for n in peer_names
            )
            fastest = st.fastest_peer()
            versus = (
                (f"{ours / st.rps(st.peers[fastest]):.2f} ({fastest})" if fastest else "—")
                if peer_names
                else (f"{ours / st.rps(st.s3_to_sql):.1f}" if st.s3_to_sql else "—")
            )
            lines.append(
                f"| {scale:g}× | {st.rows:,} | {r['mb']:,.1f} | {statistics.median(st.ours):.2f} | "
                f"{statistics.median(st.raw):.2f} | {peer_cells}"
                f"{f'{st.s3_to_sql:.2f}' if st.s3_to_sql else '—'} | {ours:,.0f} | {ours / st.rps(st.raw):.2f} "
                f"| {versus} |"
            )
        if peer_names:
            lines += [
                "",
                "Peak RSS (MiB, VmHWM) while staging the month: ours in a fresh process like a task's, each peer's "
                "own process (raw COPY's work is the server's).",
                "",
                "| scale | ours | " + " | ".join(peer_names) + " |",
                "|---:|---:|" + "---:|" * len(peer_names),
            ]
            for scale, r in sorted(self.rows.items()):
                rss = r["staging"].peak_rss_mib
                cells = " | ".join(f"{rss[n]:,.0f}" if n in rss else "—" for n in ["ours", *peer_names])
                lines.append(f"| {scale:g}× | {cells} |")
        lines += [
            "",
            f"## 2. Peak memory staging one {self.big_bytes / 1e6:,.0f} MB events object",
            "",
            f"{self.big_events:,} events; peak RSS (VmHWM) of the staging process: {self.peak:,.0f} MiB "
            f"(the same process importing the operator and exiting: {self.base:,.0f} MiB).",
            "",
        ]
        dag_rows = [(s, r) for s, r in sorted(self.rows.items()) if "dags_test" in r]
        if dag_rows:
            lines += [
                "## 3. An hourly run of sparkify_etl vs Airflow's floor (sparkify_floor: same shape, no work)",
                "",
                f"`airflow dags test`: median wall time over {a.hours} hours (after an untimed warm-up hour). "
                f"Backfill: `airflow backfill create` of {a.backfill_hours} hours, LocalExecutor, 4 runs at a time, "
                f"from the command to the last run's end; medians of {a.backfill_repeat} alternating ETL/floor "
                "backfills, each pair on its own day. *ETL's stage_songs*: what the idle stage_songs task reports "
                f"for itself (listing the {a.dag_songs:,} song objects, reading none), median over the timed hours.",
                "",
                "| scale | events/hour | dags test ETL s | floor s | ratio | ETL's stage_songs s | backfill ETL s "
                "| floor s | ratio |",
                "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            ]
            for scale, r in dag_rows:
                dt, bf = r["dags_test"], r["backfill"]
                per_hour = r["data"]["events"] / 30 / 24
                lines.append(
                    f"| {scale:g}× | {per_hour:,.0f} | {statistics.median(dt.etl):.1f} | "
                    f"{statistics.median(dt.floor):.1f} | {dt.ratio:.2f} | "
                    f"{statistics.median(dt.stage_songs) if dt.stage_songs else float('nan'):.1f} | "
                    f"{statistics.median(bf.etl):.1f} | {statistics.median(bf.floor):.1f} | "
                    f"{bf.ratio:.2f} |"
                )
            lines.append("")
        lines += [
            "## 4. stage_songs in an hour with no new song files",
            "",
            f"The operator alone in a fresh process (as in a task), after it staged the catalogue: median of "
            f"{len(self.idle.cpus)} idle runs {self.idle.wall:.2f} s wall, {self.idle.cpu:.2f} s CPU of its process "
            f"(runs: {', '.join(f'{c:.2f}' for c in self.idle.cpus)} s CPU); {self.idle.listed:,} objects listed, "
            f"{self.idle.read} read.",
            "",
        ]
        lines += self.gate_cost()
        if self.month:
            lines += [
                "## 5. The course month through sparkify_etl_daily",
                "",
                f"30 daily runs backfilled under the scheduler (LocalExecutor, 2 at a time), from the command to "
                f"the last run's end: {self.month.etl[0]:.0f} s; sparkify_floor_daily's 30 runs: "
                f"{self.month.floor[0]:.0f} s; ratio {self.month.ratio:.2f}.",
                "",
            ]
        lines += [
            "## Targets",
            "",
            "| measure | value | target | |",
            "|---|---:|---|---|",
        ]
        for name, value, target, ok in self.checks():
            verdict = "—" if ok is None else "pass" if ok else "MISS"
            lines.append(f"| {name} | {value:,.2f} | {target} | {verdict} |")
        lines += ["", "![staging time against events for every tool, and ETL/floor ratios by scale](results.png)", ""]
        return "\n".join(lines)

    def plot(self, path: Path) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        scales = sorted(self.rows)
        fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
        tools = [("StageToRedshiftOperator (ours)", lambda st: st.ours), ("raw COPY from a local CSV (limit)",
                 lambda st: st.raw)]  # fmt: skip
        for name in self.peer_names:
            tools.append((name, lambda st, name=name: st.peers.get(name)))
        tools.append(("S3ToSqlOperator", lambda st: st.s3_to_sql))
        for label, runs_of in tools:
            points = [(self.rows[s]["staging"].rows, runs_of(self.rows[s]["staging"])) for s in scales]
            points = [(n, statistics.median(r) if isinstance(r, list) else r) for n, r in points if r]
            if points:
                left.plot(*zip(*points, strict=True), marker="o", label=label)
        left.set(
            xscale="log",
            yscale="log",
            xlabel="events staged (a month at 1×, 10×, 100×, … the course volume)",
            ylabel="seconds",
            title="Staging a month of events: time against events",
        )
        left.legend()
        left.grid(True, which="both", alpha=0.3)
        dag_scales = [s for s in scales if "dags_test" in self.rows[s]]
        if dag_scales:
            for label, way in (
                ("airflow dags test (one hour)", "dags_test"),
                (f"{self.a.backfill_hours}-hour backfill", "backfill"),
            ):
                right.plot(dag_scales, [self.rows[s][way].ratio for s in dag_scales], marker="o", label=label)
            right.axhline(1.3, color="grey", linestyle="--", linewidth=1, label="target at 1× (1.3)")
            right.axhline(1.6, color="grey", linestyle=":", linewidth=1, label="target at 100× (1.6)")
            right.axhline(1.0, color="black", linewidth=0.5)
            right.set(
                xscale="log",
                xlabel="N× the course volume",
                ylabel="sparkify_etl time / floor time",
                title="An hourly run vs Airflow's floor",
            )
            right.legend()
            right.grid(True, which="both", alpha=0.3)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)


if __name__ == "__main__":
    main()
