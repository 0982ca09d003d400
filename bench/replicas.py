"""Hook calls against one `cdss serve` replica and against two replicas on one PostgreSQL.

Starts a throwaway PostgreSQL server (Debian's binaries, as the tests do) and three setups on
127.0.0.1: (a) one replica on a PostgreSQL database; (b) two replicas, separate processes on
separate ports, on another PostgreSQL database of the same server, both with one load balancer's
URL as `public_base_url` (the `aud` of every token, whichever replica answers) and one
`[privacy] patient_key`, as deploy/ runs them; (c) one replica on SQLite, the reference of the
other load benchmarks. Then, for each chart and concurrency and repeat, it sends the same
`diabetes-risk` calls to each setup in turn (the order alternating), each call with its own
token minted before timing starts; for (b) the load generator's threads connect to the two
ports in turn, standing in for the balancer. Reports p50, p99, req/s, the CPU time per call of
every server process of the setup (each replica's gunicorn master and workers, and PostgreSQL's
processes, from /proc) and the failed calls, as the median (min-max) over the repeats, with the
two/one ratios. Uses the measurements of `bench/hook_load.py` and the HTTP client of
`bench/load.py`.

Run from the repository root:

    .venv/bin/python bench/replicas.py                             # full run, prints the report
    .venv/bin/python bench/replicas.py --write docs/benchmarks.md  # ... and writes its section
    .venv/bin/python bench/replicas.py --quick                     # smoke test
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import secrets
import shlex
import sys
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO / "tests"))
from hook_load import (  # noqa: E402
    SMALL_CHART,
    SYNTHEA_CHART,
    TARGET,
    Measurement,
    charts,
    cpu_seconds,
    prefetch_size,
    spread,
)
from load import (  # noqa: E402
    ISSUER,
    Result,
    add_run_options,
    build_calls,
    percentile,
    report_server_log,
    run_cell,
)
from report import machine_line, publish  # noqa: E402
from support import CdssServer, PostgresCluster  # noqa: E402

ONE, TWO, SQLITE = "one replica, PostgreSQL", "two replicas, PostgreSQL", "one replica, SQLite"
SETUPS = (ONE, TWO, SQLITE)
# The one URL EHRs call; the load balancer in front of the replicas answers there.
LOAD_BALANCER_URL = "https://cds.hospital.example.test"
# diabetes-risk calls make no note summary: TF-IDF spares loading PyTorch in every worker.
NOTE_EMBEDDER = "tfidf"


@dataclass(frozen=True)
class SetupMeasurement:
    """One setup's batch of timed calls, and the share of its CPU that PostgreSQL spent."""

    calls: Measurement
    database_cpu_ms_per_call: float


@dataclass(frozen=True)
class Setup:
    """The replicas of one deployment and, if it has one, its PostgreSQL server's postmaster."""

    name: str
    replicas: tuple[CdssServer, ...]
    postmaster: int | None

    @property
    def ports(self) -> tuple[int, ...]:
        """Where the replicas listen; the load generator's threads take them in turn."""
        return tuple(replica.port for replica in self.replicas)

    def replica_cpu_seconds(self) -> float:
        """CPU time the replicas' gunicorn masters and workers have used so far."""
        return sum(cpu_seconds(replica.process.pid) for replica in self.replicas if replica.process)

    def database_cpu_seconds(self) -> float:
        """CPU time the PostgreSQL server's processes have used so far (none on SQLite)."""
        return cpu_seconds(self.postmaster) if self.postmaster else 0.0


def measure_setup(
    generator: ProcessPoolExecutor,
    args: argparse.Namespace,
    setup: Setup,
    chart: tuple[str, dict[str, Any]],
    concurrency: int,
) -> SetupMeasurement:
    """Warm the setup up, then time `args.requests` calls and the CPU its processes spent: as
    `hook_load.measure`, over every replica and the database server."""
    warm = max(args.warmup, 2 * concurrency)
    calls = build_calls(TARGET, warm + args.requests, LOAD_BALANCER_URL, args.key, chart)
    generator.submit(
        run_cell, setup.ports, calls[:warm], [], concurrency, args.max_seconds
    ).result()
    replicas_before, database_before = setup.replica_cpu_seconds(), setup.database_cpu_seconds()
    result: Result = generator.submit(
        run_cell, setup.ports, [], calls[warm:], concurrency, args.max_seconds
    ).result()
    database = setup.database_cpu_seconds() - database_before
    spent = setup.replica_cpu_seconds() - replicas_before + database
    done = len(result.latencies_ms)
    per_call = 1000 / done if done else float("nan")
    measurement = Measurement(
        p50_ms=percentile(result.latencies_ms, 50),
        p99_ms=percentile(result.latencies_ms, 99),
        per_second=done / result.seconds if result.seconds > 0 else float("nan"),
        cpu_ms_per_call=spent * per_call,
        failed=sum(n for status, n in result.statuses.items() if status != 200),
    )
    return SetupMeasurement(measurement, database * per_call)


def replica(
    args: argparse.Namespace, workdir: Path, database_url: str, jwks_file: Path, patient_key: str
) -> CdssServer:
    """One replica's `cdss serve` (not yet started), trusting the benchmark's issuer."""
    return CdssServer(
        workdir=workdir,
        database_url=database_url,
        config={
            "server": {"public_base_url": LOAD_BALANCER_URL, "threads": args.threads},
            # Shared by the replicas of a deployment, as deploy/ has it in a Secret.
            "privacy": {"patient_key": patient_key},
            "notes": {"embedder": NOTE_EMBEDDER},
        },
        issuers=[{"iss": ISSUER, "jwks_file": str(jwks_file)}],
        workers=args.workers,
    )


@contextmanager
def running_setups(args: argparse.Namespace, workdir: Path) -> Iterator[dict[str, Setup]]:
    """PostgreSQL and the three setups' replicas, all started at once; stopped at the end."""
    from cds_service.auth.signing import public_key_set

    jwks_file = workdir / "ehr-jwks.json"
    jwks_file.write_text(json.dumps(public_key_set(args.key)), encoding="utf-8")
    cluster = PostgresCluster().start()
    args.postgres_version = cluster.bin.parent.name
    postmaster = int((cluster.data / "postmaster.pid").read_text().split()[0])
    try:
        one_url, two_url = cluster.create_database("cdss_one"), cluster.create_database("cdss_two")
        sqlite_url = f"sqlite:///{workdir / 'sqlite' / 'cdss.db'}"
        key = secrets.token_hex(32)
        planned = {
            ONE: ((replica(args, workdir / "one", one_url, jwks_file, key),), postmaster),
            TWO: (
                tuple(replica(args, workdir / f"two-{n}", two_url, jwks_file, key) for n in "ab"),
                postmaster,
            ),
            SQLITE: ((replica(args, workdir / "sqlite", sqlite_url, jwks_file, key),), None),
        }
        servers = [server for replicas, _ in planned.values() for server in replicas]
        try:
            with ThreadPoolExecutor(max_workers=len(servers)) as pool:
                for started in [pool.submit(server.start) for server in servers]:
                    started.result()
            yield {name: Setup(name, *plan) for name, plan in planned.items()}
        finally:
            for server in servers:
                server.stop()
                if server.log_file.exists():
                    print(f"replica {server.workdir.name}:", file=sys.stderr)
                    report_server_log(server.log_file)
    finally:
        cluster.stop()


Cells = dict[tuple[str, int, str], list[SetupMeasurement]]


def run(args: argparse.Namespace, workdir: Path) -> Cells:
    """Every chart at every concurrency, each repeat sending to the three setups in turn."""
    measured = {name: chart for name, chart in charts().items() if name in args.charts}
    args.sizes = {name: prefetch_size(chart) for name, chart in measured.items()}
    cells: Cells = {}
    with running_setups(args, workdir) as setups:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=1, mp_context=context) as generator:
            for repeat in range(args.repeats):
                turn = 0
                for name, chart in measured.items():
                    for concurrency in args.concurrency:
                        # Alternating the order spreads slow drifts of the machine.
                        order = SETUPS if (repeat + turn) % 2 == 0 else SETUPS[::-1]
                        turn += 1
                        for setup in order:
                            got = measure_setup(generator, args, setups[setup], chart, concurrency)
                            cells.setdefault((name, concurrency, setup), []).append(got)
                            m = got.calls
                            print(
                                f"repeat {repeat + 1} {name} c={concurrency} {setup}: "
                                f"p50 {m.p50_ms:.1f} ms, p99 {m.p99_ms:.1f} ms, "
                                f"{m.per_second:.1f}/s, CPU {m.cpu_ms_per_call:.1f} ms/call "
                                f"(PostgreSQL {got.database_cpu_ms_per_call:.1f}), "
                                f"failed {m.failed}",
                                file=sys.stderr,
                            )
    return cells


Metric = Callable[[SetupMeasurement], float]
METRICS: dict[str, Metric] = {
    "CPU ms/call": lambda m: m.calls.cpu_ms_per_call,
    "req/s": lambda m: m.calls.per_second,
    "p50 ms": lambda m: m.calls.p50_ms,
    "p99 ms": lambda m: m.calls.p99_ms,
}
DATABASE_CPU = "of which PostgreSQL"


def ratios(cells: Cells, chart: str, concurrency: int, metric: Metric) -> list[float]:
    """Two replicas over one, repeat by repeat (the setups ran back to back)."""
    pairs = zip(cells[chart, concurrency, TWO], cells[chart, concurrency, ONE], strict=True)
    return [metric(two) / metric(one) for two, one in pairs]


def render(args: argparse.Namespace, cells: Cells) -> str:
    """The Markdown section."""
    command = shlex.join([".venv/bin/python", "bench/replicas.py", *args.argv])
    lines = [
        "## Two replicas on PostgreSQL against one\n",
        f"Command: `{command}`\n",
        machine_line(
            args.started,
            args.load_at_start,
            f", PostgreSQL {args.postgres_version} on 127.0.0.1 (fsync on)",
        ),
        f"Every replica: `cdss serve`, gunicorn gthread, {args.workers} workers, {args.threads} "
        f"threads each, on 127.0.0.1, the note embedder `{NOTE_EMBEDDER}` (diabetes-risk calls "
        f"make no note summary). {ONE}: one replica on its own database; {TWO}: two replicas "
        "(two processes, two ports) on another database of the same PostgreSQL server, with one "
        "load balancer's URL as `public_base_url` (the `aud` of every token) and one "
        "`[privacy] patient_key`; the load generator's threads connect to the two ports in turn "
        "and take the next call from one queue, standing in for the balancer; "
        f"{SQLITE}: the reference of the other load benchmarks. Each cell: "
        f"`POST /cds-services/{TARGET}`, {args.requests} timed calls after a warm-up, every "
        f"call with its own ES384 token; {args.repeats} repeat(s), the setups back to back in "
        "each, the order alternating. Values: median (min-max) over the repeats; ratios are "
        "taken repeat by repeat. "
        + "; ".join(f"{name}: {size}" for name, size in args.sizes.items())
        + ".\n",
        "### Two replicas / one\n",
        "| chart | concurrency | " + " | ".join(METRICS) + " |",
        "|---|---:|" + "---:|" * len(METRICS),
    ]
    for chart in args.sizes:
        for c in args.concurrency:
            row = [spread(ratios(cells, chart, c, metric), 2) for metric in METRICS.values()]
            lines.append(f"| {chart} | {c} | " + " | ".join(row) + " |")
    columns = [*METRICS, DATABASE_CPU]
    lines += [
        "",
        "### Each setup\n",
        "| chart | concurrency | setup | " + " | ".join(columns) + " | failed calls |",
        "|---|---:|---|" + "---:|" * (len(columns) + 1),
    ]
    for chart in args.sizes:
        for c in args.concurrency:
            for setup in SETUPS:
                runs = cells[chart, c, setup]
                row = [spread([metric(m) for m in runs]) for metric in METRICS.values()]
                database = [m.database_cpu_ms_per_call for m in runs]
                row.append("-" if setup == SQLITE else spread(database))
                failed = sum(m.calls.failed for m in runs)
                lines.append(f"| {chart} | {c} | {setup} | " + " | ".join(row) + f" | {failed} |")
    lines += ["", "### What this shows\n", NOTE.format(cores=os.cpu_count() or 1), ""]
    return "\n".join(lines)


NOTE = (
    "All replicas, PostgreSQL and the load generator share this machine's {cores} cores, so "
    "two replicas cannot add compute here: with two, the same cores run twice the gunicorn "
    "workers. What the two/one row measures is what coordinating through one PostgreSQL "
    "database costs (each token's `jti` kept unique across the replicas by the database's "
    "unique key, the live configuration and the patient's feedback history read from the "
    "shared database by whichever replica answers) and whether throughput holds when the calls "
    "are spread over two processes that share nothing else. The gain of replicas comes from "
    "more machines: each replica on its own cores, PostgreSQL on its own, where throughput "
    "can grow with the replicas until the database is the bottleneck; this benchmark cannot "
    "show that. CPU per call is the user and system time, over the timed calls, of every "
    "server process of the setup: each replica's gunicorn master and workers and, on "
    "PostgreSQL, the server's processes (`/proc/<pid>/stat`, 10 ms ticks), divided by the "
    "number of calls; the last column is PostgreSQL's share. The load generator is a separate "
    "process on the same cores, so req/s is a lower bound, and on a loaded machine the "
    "latencies include waiting for a core; the ratios hold better than the absolute figures."
)


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="timed calls per cell")
    parser.add_argument("--repeats", type=int, default=3, help="runs of every cell")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--warmup", type=int, default=10, help="uncounted calls per cell")
    # --quick: 1 repeat, few calls, the small chart, concurrency 4.
    add_run_options(parser, max_seconds=300)
    args = parser.parse_args(argv)
    args.charts = [SMALL_CHART] if args.quick else [SMALL_CHART, SYNTHEA_CHART]
    if args.quick:
        args.requests, args.repeats, args.concurrency, args.warmup = 30, 1, [4], 5
    args.argv = argv
    return args


def main(argv: list[str] | None = None) -> None:
    """Run the comparison and print (and maybe write) the report."""
    from cds_service.auth.signing import generate_signing_key

    args = parse_args(sys.argv[1:] if argv is None else argv)
    args.load_at_start, args.started = os.getloadavg(), datetime.now(UTC)
    args.key = generate_signing_key("ES384", kid="bench-es384")
    with tempfile.TemporaryDirectory(prefix="cdss-replicas-bench-") as folder:
        cells = run(args, Path(folder))
    publish(render(args, cells), args.write, REPO)


if __name__ == "__main__":
    main()
