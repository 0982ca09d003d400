"""Hook calls against the floor: `cdss serve` and `bench/floor.py` side by side, interleaved.

Starts `cdss serve` (SQLite in a temporary folder, trusting one issuer whose ES384 key this
script holds) and the floor (the same gunicorn settings, the same token checks and `json.loads`,
a fixed card) on 127.0.0.1, then, for each chart and concurrency and repeat, sends the same
`diabetes-risk` calls to one and then the other (the order alternating), each call with its own
token minted before timing starts. Reports p50, p99, req/s and the CPU time per call of each
server's gunicorn master and workers (from /proc), with the cdss/floor ratios, as the median
(min-max) over the repeats. Uses the HTTP client and the server starter of `bench/load.py`.

Run from the repository root:

    .venv/bin/python bench/hook_load.py                             # full run, prints the report
    .venv/bin/python bench/hook_load.py --write docs/benchmarks.md  # ... and writes its section
    .venv/bin/python bench/hook_load.py --quick                     # smoke test
    git worktree add /tmp/before REV                                # an earlier commit ...
    .venv/bin/python bench/hook_load.py --baseline /tmp/before      # ... as a third server
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from load import (  # noqa: E402
    ISSUER,
    Result,
    add_run_options,
    build_calls,
    chart_prefetch,
    hook_request_body,
    percentile,
    report_server_log,
    run_cell,
    start_server,
)
from report import machine_line, publish  # noqa: E402

TARGET = "diabetes-risk"
# The servers compared; "cdss before" only with --baseline (an earlier checkout's cdss).
FLOOR, CDSS, BEFORE = "floor", "cdss", "cdss before"
SYNTHEA_CHART = "synthea-1"  # its complete prefetch: 612 resources, 553 KiB
SMALL_CHART = "synthea-1, newest 50"
SMALL_CHART_RESOURCES = 50
# Where each prefetched resource type says when it was recorded (ISO dates sort as text).
RECORDED_AT_ELEMENTS = ("effectiveDateTime", "authoredOn", "recordedDate", "date", "issued")
CLOCK_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
# Issue 19's targets: CPU per call at most this many times the floor's, by chart; throughput at
# least this share of the floor's at that concurrency; p99 under this at that concurrency.
MAX_CPU_RATIO = {SMALL_CHART: 2.0, SYNTHEA_CHART: 1.5}
MIN_THROUGHPUT_RATIO, THROUGHPUT_CONCURRENCY = 0.65, 4
MAX_P99_MS, P99_CONCURRENCY = 50.0, 2


@dataclass(frozen=True)
class Measurement:
    """One service's batch of timed calls, in one cell of one repeat."""

    p50_ms: float
    p99_ms: float
    per_second: float
    cpu_ms_per_call: float
    failed: int


def charts() -> dict[str, tuple[str, dict[str, Any]]]:
    """The charts measured, by name, each as its complete prefetch: the Synthea patient, and
    the same patient's newest resources only (a small chart that still gets a card)."""
    from demo_ehr.patients import synthea_patients

    full = chart_prefetch(synthea_patients()[SYNTHEA_CHART])
    return {SMALL_CHART: newest_resources(full, SMALL_CHART_RESOURCES), SYNTHEA_CHART: full}


def newest_resources(chart: tuple[str, dict[str, Any]], count: int) -> tuple[str, dict[str, Any]]:
    """The chart cut to about `count` resources: the Patient and, from each search, its newest
    entries, each search keeping its share of the whole."""
    patient_id, prefetch = chart
    searches = {key: value for key, value in prefetch.items() if value["resourceType"] == "Bundle"}
    total = sum(len(search.get("entry", [])) for search in searches.values())
    smaller = dict(prefetch)
    for key, search in searches.items():
        entries = sorted(search.get("entry", []), key=_recorded_at, reverse=True)
        kept = entries[: round(len(entries) * (count - 1) / total)]
        smaller[key] = {**search, "total": len(kept), "entry": kept}
    return patient_id, smaller


def _recorded_at(entry: dict[str, Any]) -> str:
    resource = entry["resource"]
    for element in RECORDED_AT_ELEMENTS:
        if isinstance(resource.get(element), str):
            return str(resource[element])
    return ""


def prefetch_size(chart: tuple[str, dict[str, Any]]) -> str:
    """How many resources the prefetch carries (the discovery templates take the risk
    observations only), and the request body's size."""
    _, prefetch = chart
    count = sum(
        len(value.get("entry", [])) if value["resourceType"] == "Bundle" else 1
        for value in prefetch.values()
    )
    return f"a prefetch of {count} resources, {len(hook_request_body(chart)) / 1024:.0f} KiB"


def server_processes(master: int) -> list[int]:
    """The gunicorn master and its workers (its child processes)."""
    children: list[int] = []
    for task in Path(f"/proc/{master}/task").iterdir():
        children += [int(pid) for pid in (task / "children").read_text().split()]
    return [master, *children]


def cpu_seconds(master: int) -> float:
    """User and system CPU time the master and its live workers have used so far."""
    ticks = 0
    for pid in server_processes(master):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:  # a worker that exited meanwhile
            continue
        # The fields after the command name: utime and stime are the 12th and 13th (proc(5)).
        fields = stat.rpartition(")")[2].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / CLOCK_TICKS_PER_SECOND


def measure(
    generator: ProcessPoolExecutor,
    args: argparse.Namespace,
    server: Any,
    master: int,
    chart: tuple[str, dict[str, Any]],
    concurrency: int,
) -> Measurement:
    """Warm one server up, then time `args.requests` calls and the CPU its processes spent."""
    warm = max(args.warmup, 2 * concurrency)
    calls = build_calls(TARGET, warm + args.requests, server.base_url, args.key, chart)
    # Warm-up in its own batch, so that the CPU counted below is the timed calls' alone.
    generator.submit(
        run_cell, server.port, calls[:warm], [], concurrency, args.max_seconds
    ).result()
    before = cpu_seconds(master)
    result: Result = generator.submit(
        run_cell, server.port, [], calls[warm:], concurrency, args.max_seconds
    ).result()
    spent = cpu_seconds(master) - before
    done = len(result.latencies_ms)
    return Measurement(
        p50_ms=percentile(result.latencies_ms, 50),
        p99_ms=percentile(result.latencies_ms, 99),
        per_second=done / result.seconds if result.seconds > 0 else float("nan"),
        cpu_ms_per_call=spent * 1000 / done if done else float("nan"),
        failed=sum(n for status, n in result.statuses.items() if status != 200),
    )


Cells = dict[tuple[str, int, str], list[Measurement]]


def run(args: argparse.Namespace, workdir: Path) -> Cells:
    """Every chart at every concurrency, each repeat sending to the floor and to cdss in turn."""
    measured = charts()
    args.sizes = {name: prefetch_size(chart) for name, chart in measured.items()}
    cells: Cells = {}
    from floor import running_floor  # its Flask app stays out of the load generator

    sys.path.insert(0, str(REPO / "tests"))
    from support import free_port

    server = start_server(args, workdir, args.key)
    before = None
    try:
        if args.baseline is not None:
            (workdir / "before").mkdir()
            before = start_server(args, workdir / "before", args.key, code=args.baseline)
        # The key set start_server wrote for cdss to trust: both accept the same tokens.
        with running_floor(
            workdir,
            workdir / "ehr-jwks.json",
            port=free_port(),
            issuer=ISSUER,
            workers=args.workers,
            threads=args.threads,
        ) as floor:
            servers = {FLOOR: (floor, floor.process.pid), CDSS: (server, server.process.pid)}
            if before is not None:
                servers[BEFORE] = (before, before.process.pid)
            names = list(servers)
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=1, mp_context=context) as generator:
                for repeat in range(args.repeats):
                    turn = 0
                    for name, chart in measured.items():
                        for concurrency in args.concurrency:
                            # Rotating which goes first spreads slow drifts of the machine.
                            first = (repeat + turn) % len(names)
                            order = names[first:] + names[:first]
                            turn += 1
                            for service in order:
                                target, master = servers[service]
                                m = measure(generator, args, target, master, chart, concurrency)
                                cells.setdefault((name, concurrency, service), []).append(m)
                                print(
                                    f"repeat {repeat + 1} {name} c={concurrency} {service}: "
                                    f"p50 {m.p50_ms:.1f} ms, p99 {m.p99_ms:.1f} ms, "
                                    f"{m.per_second:.1f}/s, CPU {m.cpu_ms_per_call:.1f} ms/call, "
                                    f"failed {m.failed}",
                                    file=sys.stderr,
                                )
    finally:
        for started in (server, before):
            if started is not None:
                started.stop()
                report_server_log(started.log_file)
    return cells


def spread(values: list[float], digits: int = 1) -> str:
    """The median (min-max) of the repeats; one repeat, its value."""
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"{mid:.{digits}f} ({low:.{digits}f}-{high:.{digits}f})"


Metric = Callable[[Measurement], float]
METRICS: dict[str, Metric] = {
    "CPU ms/call": lambda m: m.cpu_ms_per_call,
    "req/s": lambda m: m.per_second,
    "p50 ms": lambda m: m.p50_ms,
    "p99 ms": lambda m: m.p99_ms,
}


def ratios(
    cells: Cells, chart: str, concurrency: int, metric: Metric, of: str = CDSS, to: str = FLOOR
) -> list[float]:
    """`of` over `to` (by default cdss over the floor), repeat by repeat (they ran back to
    back)."""
    pairs = zip(cells[chart, concurrency, of], cells[chart, concurrency, to], strict=True)
    return [metric(mine) / metric(theirs) for mine, theirs in pairs]


def target_rows(cells: Cells, args: argparse.Namespace) -> list[str]:
    """Issue 19's targets, each against the medians of this run."""

    def median_ratio(chart: str, concurrency: int, metric: str) -> float:
        return statistics.median(ratios(cells, chart, concurrency, METRICS[metric]))

    rows = []
    for chart, limit in MAX_CPU_RATIO.items():
        worst = max(median_ratio(chart, c, "CPU ms/call") for c in args.concurrency)
        what = f"CPU per call <= {limit}x the floor, {chart}"
        rows.append((what, f"{worst:.2f}x (worst concurrency)", worst <= limit))
    for chart in MAX_CPU_RATIO:
        if THROUGHPUT_CONCURRENCY in args.concurrency:
            got = median_ratio(chart, THROUGHPUT_CONCURRENCY, "req/s")
            what = (
                f"throughput >= {MIN_THROUGHPUT_RATIO}x the floor at concurrency "
                f"{THROUGHPUT_CONCURRENCY}, {chart}"
            )
            rows.append((what, f"{got:.2f}x", got >= MIN_THROUGHPUT_RATIO))
        if P99_CONCURRENCY in args.concurrency:
            p99 = statistics.median(m.p99_ms for m in cells[chart, P99_CONCURRENCY, CDSS])
            what = (
                f"cdss p99 at concurrency {P99_CONCURRENCY} < {MAX_P99_MS:.0f} ms "
                f"(idle machine), {chart}"
            )
            rows.append((what, f"{p99:.1f} ms", p99 < MAX_P99_MS))
    return [f"| {what} | {got} | {'yes' if met else 'no'} |" for what, got, met in rows]


def render(args: argparse.Namespace, cells: Cells) -> str:
    """The Markdown section."""
    command = shlex.join([".venv/bin/python", "bench/hook_load.py", *sys.argv[1:]])
    cores = os.cpu_count() or 1
    lines = [
        "## Hook calls against the floor\n",
        f"Command: `{command}`\n",
        machine_line(args.started, args.load_at_start),
        f"Every server: gunicorn gthread, {args.workers} workers, {args.threads} threads each, "
        f"on 127.0.0.1; cdss on SQLite. Each cell: `POST /cds-services/{TARGET}`, "
        f"{args.requests} timed calls after a warm-up, every call with its own ES384 token; "
        f"{args.repeats} repeat(s), the servers back to back in each, the order rotating. "
        "Values: median (min-max) over the repeats; ratios are taken repeat by repeat. "
        + "; ".join(f"{name}: {size}" for name, size in args.sizes.items())
        + f" ({SYNTHEA_CHART}: the test suite's Synthea patient; {SMALL_CHART}: its Patient "
        "and the newest entries of each search, in proportion: the calls of both run the model "
        "and issue a card).\n",
    ]
    compared = [(CDSS, FLOOR)]
    if args.baseline is not None:
        lines.append(
            f"{BEFORE}: the same service at {args.baseline_revision} (an earlier checkout, "
            f"`git worktree add DIR {args.baseline_revision}`, given as `--baseline DIR` and "
            "served from its own tree), a third server interleaved with the other two, so that "
            "before and after meet the same moments of the machine.\n"
        )
        compared = [(CDSS, FLOOR), (BEFORE, FLOOR), (CDSS, BEFORE)]
    for of, to in compared:
        lines += [
            f"### {of} / {to}\n",
            "| chart | concurrency | " + " | ".join(METRICS) + " |",
            "|---|---:|" + "---:|" * len(METRICS),
        ]
        for chart in args.sizes:
            for c in args.concurrency:
                row = [
                    spread(ratios(cells, chart, c, metric, of, to), 2)
                    for metric in METRICS.values()
                ]
                lines.append(f"| {chart} | {c} | " + " | ".join(row) + " |")
        lines.append("")
    lines += [
        "### Each service\n",
        "| chart | concurrency | service | " + " | ".join(METRICS) + " | failed calls |",
        "|---|---:|---|" + "---:|" * (len(METRICS) + 1),
    ]
    for chart in args.sizes:
        for c in args.concurrency:
            for service in (FLOOR, BEFORE, CDSS):
                runs = cells.get((chart, c, service))
                if runs is None:
                    continue
                row = [spread([metric(m) for m in runs]) for metric in METRICS.values()]
                failed = sum(m.failed for m in runs)
                lines.append(f"| {chart} | {c} | {service} | " + " | ".join(row) + f" | {failed} |")
    lines += ["", "### Targets (issue 19)\n", "| target | this run | met |", "|---|---:|---|"]
    lines += [*target_rows(cells, args), "", NOTE.format(cores=cores), ""]
    return "\n".join(lines)


NOTE = (
    "The floor (`bench/floor.py`) runs under `cdss serve`'s own gunicorn configuration and "
    "does what no CDS service can skip: it checks the bearer token as the service does "
    "(ES384, issuer, exact audience, `exp`, the required claims), parses the body with "
    "`json.loads` and answers a fixed card; it keeps no replay store, builds no record, runs "
    "no model and writes nothing. CPU per call is the user and system time of each server's "
    "gunicorn master and workers (`/proc/<pid>/stat`, {cores} cores, 10 ms ticks) over the "
    "timed calls, divided by their number. The load generator is a separate process on the "
    "same cores, so req/s is a lower bound, and on a loaded machine the latencies include "
    "waiting for a core; the ratios hold better than the absolute figures."
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="timed calls per cell")
    parser.add_argument("--repeats", type=int, default=3, help="runs of every cell")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--warmup", type=int, default=10, help="uncounted calls per cell")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="an earlier checkout (git worktree add DIR REV) served as a third server, "
        "'cdss before', interleaved with the floor and this tree's cdss",
    )
    # --quick: 1 repeat, few calls, concurrency 1 and 4.
    add_run_options(parser, max_seconds=300)
    args = parser.parse_args(argv)
    if args.quick:
        args.requests, args.repeats, args.concurrency, args.warmup = 30, 1, [1, 4], 5
    return args


def main(argv: list[str] | None = None) -> None:
    """Run the comparison and print (and maybe write) the report."""
    from cds_service.auth.signing import generate_signing_key

    args = parse_args(argv)
    args.load_at_start, args.started = os.getloadavg(), datetime.now(UTC)
    args.key = generate_signing_key("ES384", kid="bench-es384")
    if args.baseline is not None:
        args.baseline = args.baseline.resolve()
        args.baseline_revision = subprocess.run(
            ["git", "-C", str(args.baseline), "rev-parse", "--short", "HEAD"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="cdss-floor-bench-") as folder:
        cells = run(args, Path(folder))
    publish(render(args, cells), args.write, REPO)


if __name__ == "__main__":
    main()
