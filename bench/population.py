"""Population scoring: Spark local against one Python process, over the same generated export.

For each population size, writes a seeded synthetic Bulk export once (carebundle charts with
varied values, `cds_service.population.synthetic_export`; timed, its size on disk reported), then
scores it in turn, the order alternating between repeats, with (a) the single-process loop
(`scoring.score_export`, each row written to a CSV work list as it comes) and (b) the Spark job
(`spark_job.score_export`, the same `PopulationScorer` in Spark's Python workers, Parquet and
a CSV work list). One Spark session serves the whole run; its start-up, and a first job on a
small export that warms the JVM and starts the Python workers, are timed apart and not counted
in patients per second. Reports patients per second and their ratio, CPU seconds (from /proc),
peak resident memory of the driver, the JVM and the Python workers (sampled), and the core-hours
and wall time projected for a million patients on N cores, as the median (min-max) over the
repeats.

Run from the repository root:

    .venv/bin/python bench/population.py --patients 10000 100000               # the report
    .venv/bin/python bench/population.py --patients 10000 100000 --write docs/benchmarks.md
    .venv/bin/python bench/population.py --quick                               # smoke test
"""

from __future__ import annotations

import argparse
import csv
import os
import shlex
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import Any

from cds_service.population.batch import score_patient, scoring_settings, work_list_columns
from cds_service.population.scoring import score_export as score_one_by_one
from cds_service.population.spark_job import ScoreColumn, score_export
from cds_service.population.spark_session import SparkSettings, spark_session
from cds_service.population.synthetic_export import (
    ChartTemplate,
    carebundle_templates,
    write_synthetic_export,
)
from cds_service.settings import Settings

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from hook_load import spread  # noqa: E402
from report import machine_line, publish  # noqa: E402

SECTION = "## Population scoring: Spark local against one process"
LOOP, SPARK = "one process", "Spark local"
DEFAULT_PATIENTS = (10_000,)
# Up to this size three repeats fit in minutes; above it, one (100k: ~25 minutes on 2 cores).
REPEATED_UP_TO, SMALL_REPEATS, LARGE_REPEATS = 10_000, 3, 1
QUICK_PATIENTS = 300
# The first Spark job's export, at most this many patients (never more than the smallest size
# measured): some ten thousand resources through each of Spark's operators, so that the JVM's
# compiler has compiled them, and a task for every Python worker.
WARM_UP_PATIENTS = 500
PROJECTED_CORES = (8, 32, 128)
PER_MILLION = 1_000_000
SAMPLE_SECONDS = 0.1
CLOCK_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
DRIVER, JVM, WORKERS = "driver", "JVM", "Python workers"


@dataclass(frozen=True)
class Run:
    """One timed scoring of one export by one path."""

    patients: int
    seconds: float
    cpu_seconds: float
    peak_rss_mib: dict[str, float]
    # Spark's CPU seconds by process (driver, JVM, Python workers); the loop's is the driver's.
    cpu_by_role: dict[str, float] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        """Patients scored per second of wall time."""
        return self.patients / self.seconds

    @property
    def core_seconds_per_patient(self) -> float:
        """CPU seconds (all the path's processes) per patient."""
        return self.cpu_seconds / self.patients


@dataclass
class Size:
    """One population size: its export and every timed run of each path."""

    patients: int
    generate_seconds: float
    resources: int
    megabytes: float
    runs: dict[str, list[Run]] = field(default_factory=dict)


def descendants(pid: int) -> list[int]:
    """Every live process under `pid` (children, their children, ...)."""
    found: list[int] = []
    pending = [pid]
    while pending:
        parent = pending.pop()
        try:
            tasks = list(Path(f"/proc/{parent}/task").iterdir())
        except FileNotFoundError:
            continue
        for task in tasks:
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except FileNotFoundError:
                continue
            found += children
            pending += children
    return found


def _stat_fields(pid: int) -> list[str]:
    # The fields after the command name (which may hold spaces): proc(5) numbers them from 3.
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()


def tree_cpu_seconds(pid: int) -> dict[str, float]:
    """User and system CPU of `pid` (the driver) and its live descendants (the JVM, the Python
    workers), by role, with that of the children each has reaped (an exited Python worker's
    time goes to its parent's cutime and cstime)."""
    ticks = dict.fromkeys((DRIVER, JVM, WORKERS), 0)
    for process in [pid, *descendants(pid)]:
        try:
            fields = _stat_fields(process)
            role = DRIVER if process == pid else _role(process)
        except FileNotFoundError:  # exited meanwhile
            continue
        ticks[role] += sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
    return {role: count / CLOCK_TICKS_PER_SECOND for role, count in ticks.items()}


def _role(pid: int) -> str:
    comm = Path(f"/proc/{pid}/comm").read_text().strip()
    return JVM if comm == "java" else WORKERS


def resident_mib(pid: int) -> dict[str, float]:
    """Resident memory now: the driver, the JVM, and all other descendants (Python workers)."""
    totals = dict.fromkeys((DRIVER, JVM, WORKERS), 0.0)
    for process in [pid, *descendants(pid)]:
        try:
            pages = int(Path(f"/proc/{process}/statm").read_text().split()[1])
            role = DRIVER if process == pid else _role(process)
        except (FileNotFoundError, ProcessLookupError):
            continue
        totals[role] += pages * PAGE_KIB / 1024
    return totals


@contextmanager
def sampled_peaks() -> Iterator[dict[str, float]]:
    """The peak resident memory of each role while the block runs, sampled every 0.1 s."""
    peaks = dict.fromkeys((DRIVER, JVM, WORKERS), 0.0)
    stop = threading.Event()

    def sample() -> None:
        while True:
            for role, mib in resident_mib(os.getpid()).items():
                peaks[role] = max(peaks[role], mib)
            if stop.wait(SAMPLE_SECONDS):
                return

    sampler = threading.Thread(target=sample, name="rss-sampler", daemon=True)
    sampler.start()
    try:
        yield peaks
    finally:
        stop.set()
        sampler.join()


def run_loop(export: Path, output: Path, as_of: date) -> Run:
    """The single-process loop, writing each row to a CSV work list as it comes; it loads its
    scorer itself, as a Spark run's fresh workers do."""
    with sampled_peaks() as peaks:
        started, cpu = time.perf_counter(), time.process_time()
        patients = 0
        with output.open("w", encoding="utf-8", newline="") as handle:
            writer: csv.DictWriter[str] | None = None
            for row in score_one_by_one(export, as_of):
                flat = row.flat()
                if writer is None:
                    writer = csv.DictWriter(handle, fieldnames=list(flat))
                    writer.writeheader()
                writer.writerow(flat)
                patients += 1
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    return Run(patients, seconds, cpu_seconds, {DRIVER: peaks[DRIVER]})


def run_spark(
    session: Any, export: Path, output: Path, columns: list[ScoreColumn], as_of: date
) -> Run:
    """The Spark job with the hook path's scorer (`batch.score_patient`, as `cdss population
    score` runs it), its CPU taken over the whole process tree."""
    scorer = partial(
        score_patient,
        as_of=as_of.isoformat(),
        settings_json=scoring_settings(Settings()).model_dump_json(),
    )
    with sampled_peaks() as peaks:
        started, before = time.perf_counter(), tree_cpu_seconds(os.getpid())
        summary = score_export(session, export, output, scorer, columns, replace=True)
        seconds = time.perf_counter() - started
        after = tree_cpu_seconds(os.getpid())
    by_role = {role: after[role] - before[role] for role in after}
    return Run(summary.patients_scored, seconds, sum(by_role.values()), dict(peaks), by_role)


def megabytes_on_disk(folder: Path) -> float:
    """The size of a folder's files in MB (10^6 bytes)."""
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file()) / 1e6


def write_export(
    export: Path, patients: int, seed: int, as_of: date, templates: Sequence[ChartTemplate]
) -> Size:
    """One size's export, written afresh and timed."""
    shutil.rmtree(export, ignore_errors=True)
    started = time.perf_counter()
    counts = write_synthetic_export(export, patients, seed, as_of, templates)
    seconds = time.perf_counter() - started
    return Size(patients, seconds, sum(counts.values()), megabytes_on_disk(export))


def measure(args: argparse.Namespace, workdir: Path) -> tuple[dict[str, float], list[Size]]:
    """Start Spark once, warm it up, then generate and score each size, the paths alternating."""
    as_of, templates = args.as_of, carebundle_templates()
    fixed: dict[str, float] = {}
    sizes: list[Size] = []
    warm_up = workdir / "warm-up-export"
    args.warm_up_patients = min(WARM_UP_PATIENTS, *args.patients)
    write_synthetic_export(warm_up, args.warm_up_patients, args.seed + 1, as_of, templates)
    columns = list(work_list_columns())
    started = time.perf_counter()
    settings = SparkSettings(
        work_dir=workdir / "spark", master=args.master, driver_memory=args.driver_memory
    )
    with spark_session(settings) as session:
        fixed["start-up"] = time.perf_counter() - started
        # The first job loads Spark's classes and JIT-compiles them, and starts the Python
        # workers, which import the project and load the models: timed here, not counted below.
        fixed["warm-up"] = run_spark(session, warm_up, workdir / "warm-up", columns, as_of).seconds
        run_loop(warm_up, workdir / "warm-up.csv", as_of)
        for patients in args.patients:
            export = workdir / f"export-{patients}"
            size = write_export(export, patients, args.seed, as_of, templates)
            repeats = args.repeats or (
                SMALL_REPEATS if patients <= REPEATED_UP_TO else LARGE_REPEATS
            )
            for repeat in range(repeats):
                # Alternating which goes first spreads slow drifts of the machine.
                order = [LOOP, SPARK] if repeat % 2 == 0 else [SPARK, LOOP]
                for path in order:
                    if path == LOOP:
                        run = run_loop(export, workdir / f"loop-{patients}.csv", as_of)
                    else:
                        run = run_spark(
                            session, export, workdir / f"spark-{patients}", columns, as_of
                        )
                    size.runs.setdefault(path, []).append(run)
                    print(
                        f"{patients} patients, repeat {repeat + 1}, {path}: {run.patients} "
                        f"scored in {run.seconds:.1f} s, {run.per_second:.0f}/s, "
                        f"CPU {run.cpu_seconds:.1f} s",
                        file=sys.stderr,
                    )
            shutil.rmtree(export)
            sizes.append(size)
    return fixed, sizes


def _cpu_split(runs: list[Run]) -> str:
    """The JVM's and the Python workers' shares of a Spark run's CPU, medians."""
    if not runs[0].cpu_by_role:
        return ""
    jvm = statistics.median(run.cpu_by_role[JVM] for run in runs)
    workers = statistics.median(run.cpu_by_role[WORKERS] for run in runs)
    return f" (JVM {jvm:.1f}, Python workers {workers:.1f})"


def _peak(runs: list[Run], role: str) -> str:
    values = [run.peak_rss_mib[role] for run in runs if role in run.peak_rss_mib]
    return spread(values, 0) if values else "-"


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.2f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min"


def render(args: argparse.Namespace, fixed: dict[str, float], sizes: list[Size]) -> str:
    """The Markdown section."""
    command = shlex.join([".venv/bin/python", "bench/population.py", *args.argv])
    cores = os.cpu_count() or 1
    lines = [
        f"{SECTION}\n",
        f"Command: `{command}`\n",
        machine_line(args.started, args.load_at_start, _spark_detail(args)),
        f"Spark session start-up {fixed['start-up']:.1f} s and its first job (the warm-up, "
        f"{args.warm_up_patients} patients of another seed) {fixed['warm-up']:.1f} s, "
        "neither counted below.\n",
        "| patients | export: resources, MB, s to write | path | patients scored | "
        "patients/s | Spark/one process | CPU s | core-ms/patient | peak RSS MiB: driver | "
        "JVM | Python workers |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size in sizes:
        loop, spark = size.runs[LOOP], size.runs[SPARK]
        ratio = spread([s.per_second / o.per_second for s, o in zip(spark, loop, strict=True)], 2)
        export = f"{size.resources}, {size.megabytes:.0f} MB, {size.generate_seconds:.1f} s"
        for path, runs in ((LOOP, loop), (SPARK, spark)):
            scored = "/".join(sorted({str(run.patients) for run in runs}))
            lines.append(
                f"| {size.patients} | {export} | {path} | {scored} | "
                f"{spread([r.per_second for r in runs], 0)} | {ratio if path == SPARK else ''} | "
                f"{spread([r.cpu_seconds for r in runs])}{_cpu_split(runs)} | "
                f"{spread([r.core_seconds_per_patient * 1000 for r in runs], 2)} | "
                f"{_peak(runs, DRIVER)} | {_peak(runs, JVM)} | {_peak(runs, WORKERS)} |"
            )
    largest = sizes[-1]
    spark_cost = statistics.median(r.core_seconds_per_patient for r in largest.runs[SPARK])
    loop_cost = statistics.median(r.core_seconds_per_patient for r in largest.runs[LOOP])
    start = fixed["start-up"] + fixed["warm-up"]
    lines += [
        "",
        f"### A million patients, projected from the {largest.patients}-patient runs\n",
        "| cores | Spark: core-hours | Spark: wall time | one process: core-hours | "
        "one process: wall time (one core) |",
        "|---:|---:|---:|---:|---:|",
    ]
    for n in PROJECTED_CORES:
        lines.append(
            f"| {n} | {spark_cost * PER_MILLION / 3600:.2f} | "
            f"{_hours(spark_cost * PER_MILLION / n + start)} | "
            f"{loop_cost * PER_MILLION / 3600:.2f} | {_hours(loop_cost * PER_MILLION)} |"
        )
    lines += ["", NOTE.format(cores=cores, repeats=_repeats_text(args)), ""]
    return "\n".join(lines)


def _spark_detail(args: argparse.Namespace) -> str:
    memory = args.driver_memory or "Spark's default"
    return f"; Spark master `{args.master}`, driver heap {memory}"


def _repeats_text(args: argparse.Namespace) -> str:
    if args.repeats:
        return f"{args.repeats} repeat(s) of each size"
    return (
        f"{SMALL_REPEATS} repeats up to {REPEATED_UP_TO} patients, {LARGE_REPEATS} above "
        "(`--repeats` sets one number for all)"
    )


NOTE = (
    "Method. Each size's export is written once (carebundle charts, values varied per patient, "
    "half without glycaemic tests, a quarter without blood pressures) and scored by both paths "
    "in one run, {repeats}, the order alternating; values are the median (min-max) over the "
    "repeats, the ratio taken repeat by repeat. One process: `scoring.score_export` (it indexes "
    "the files by patient, then reads back and scores one chart at a time), each row written "
    "to a CSV as it comes, the scorer loaded in the run. Spark local: `spark_job.score_export` "
    "with the same `PopulationScorer` in the executors' Python workers "
    "(`batch.score_patient`, as `cdss population score` runs it: pickled by name, so each "
    "worker loads the models once), writing Parquet and the CSV work list; its Python "
    "workers are started afresh when idle for a minute, so a run may include loading the "
    "models again. CPU s: "
    "for one process, the driver's own time (`time.process_time`); for Spark, the user and "
    "system time of the driver, the JVM and the Python workers, with their reaped children "
    "(`/proc/<pid>/stat`), the JVM's and the workers' shares in brackets. The warm-up job "
    "(before any size, also run through the loop) loads and compiles Spark's classes and "
    "starts the Python workers, which import the project and load the models. Peak RSS: "
    "sampled every 0.1 s from `/proc/<pid>/statm` "
    "(the Python workers summed; the driver is the process that also runs the loop, so its "
    "Spark row keeps the loop's heap); the driver collects no patient rows in either path, and "
    "the one-process index holds a file number and an offset a resource. Projection: "
    "core-seconds per patient measured here (CPU s / patients) times a million, divided by "
    "N cores, plus this run's session start-up and warm-up as a fixed cost; this assumes the "
    "per-patient work scales linearly across executors, and ignores the shuffle that groups "
    "each patient's resources across the network, reading the export from an object store, "
    "skew (a few very long charts in one task), executor start-up and the cluster's own "
    "overhead. This machine has {cores} cores, so Spark local's gain over one process here is "
    "bounded by {cores}; its JVM's JSON parsing and grouping count in its CPU."
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, nargs="+", default=list(DEFAULT_PATIENTS))
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--master", default="local[*]", help="Spark master URL")
    parser.add_argument(
        "--repeats",
        type=int,
        help=f"runs of each path per size (default {SMALL_REPEATS} up to {REPEATED_UP_TO} "
        f"patients, {LARGE_REPEATS} above)",
    )
    parser.add_argument(
        "--driver-memory",
        help="the Spark driver's heap, e.g. 4g (a local master's executors live in it; "
        "Spark's default is 1g)",
    )
    parser.add_argument("--workdir", type=Path, help="exports and outputs (default: a temp dir)")
    parser.add_argument("--write", type=Path, help="also write the report (relative: to the repo)")
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK_PATIENTS} patients, 1 repeat (smoke test)"
    )
    args = parser.parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else argv
    if args.quick:
        given = argv if argv is not None else sys.argv[1:]
        if "--patients" not in given:
            args.patients = [QUICK_PATIENTS]
        args.repeats = 1
    args.as_of = datetime.now(UTC).date()
    return args


def main(argv: list[str] | None = None) -> None:
    """Run the comparison and print (and maybe write) the report."""
    args = parse_args(argv)
    args.load_at_start, args.started = os.getloadavg(), datetime.now(UTC)
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        fixed, sizes = measure(args, args.workdir.resolve())
    else:
        with tempfile.TemporaryDirectory(prefix="cdss-population-bench-") as folder:
            fixed, sizes = measure(args, Path(folder))
    publish(render(args, fixed, sizes), args.write, REPO)


if __name__ == "__main__":
    main()
