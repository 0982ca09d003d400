"""Start-up benchmark: how long `cdss serve` takes until every worker is ready, and its memory.

For each variant (a `cdss` executable: one run can compare two checkouts or venvs) and each
`[notes] embedder`, interleaved over the repeats, it starts `cdss serve --config FILE` as
`scripts/start.sh` does (a temporary TOML: SQLite in a temporary folder, a free port of
127.0.0.1, 2 workers, JWT checks on with the sandbox's pinned keys) and measures

- the wall time until the first, and until both, workers answered `GET /readyz` with 200 (each
  answer names its worker's pid; polled on fresh connections), and the service's CPU time;
- then, from /proc/<pid>/smaps_rollup, each worker's USS (pages only it holds), PSS and RSS, and
  the PSS of the master and every process below it: a page several processes share is counted
  once, so this total shows whether the models are held once or once per worker.

The "floor" row is a bare Flask app under the same gunicorn settings. Each start waits for an
idle machine first, and is repeated when other processes kept more than `--max-other-cpus`
busy meanwhile. Linux only. From the repository root:

    .venv/bin/python bench/startup.py --repeats 3 --embedder tfidf minilm
    .venv/bin/python bench/startup.py --repeats 3 --embedder tfidf minilm \\
        --variant before=/tmp/startup-before/.venv/bin/cdss --variant after=AFTER/.venv/bin/cdss

Compare venvs with the same extras (`pip install -c constraints.txt -e '.[dev]'`): what
is installed changes what the service imports (pandas, in the dev venv: +25 MiB per worker).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

REPO = Path(__file__).resolve().parent.parent
WORKERS = 2
THREADS = 4  # [server] threads, default
POLL_SECONDS = 0.1
PROBES_PER_POLL = 4  # requests in flight at once, so that either worker may take one
TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Variant:
    """What to start: a `cdss` executable, or (`cdss` None) the bare Flask floor."""

    name: str
    cdss: Path | None


@dataclass(frozen=True)
class Memory:
    """One process's memory from smaps_rollup, in MiB."""

    rss: float
    pss: float
    uss: float


@dataclass(frozen=True)
class Sample:
    """One start of a service, measured."""

    first_ready: float
    both_ready: float
    master: Memory
    workers: list[Memory]
    total_pss: float  # the master and every process below it, each shared page counted once
    load: float  # 1-minute load average when the process was started
    cpu_seconds: float  # CPU time of the service's processes until both workers were ready
    others: float  # CPUs kept busy meanwhile by everything else on the machine (average)


def free_port() -> int:
    """A port of 127.0.0.1 nobody listens on now."""
    with socket.create_server(("127.0.0.1", 0)) as sock:
        return int(sock.getsockname()[1])


def write_config(folder: Path, port: int, embedder: str) -> Path:
    """A minimal configuration, shaped like config/cdss.toml."""
    config = folder / "cdss.toml"
    config.write_text(
        f'[server]\npublic_base_url = "http://127.0.0.1:{port}"\nhost = "127.0.0.1"\n'
        f"port = {port}\nworkers = {WORKERS}\n\n"
        f'[storage]\ndatabase_url = "sqlite:///{folder / "cdss.db"}"\n\n'
        f'[privacy]\npatient_key_file = "{folder / "cdss-patient.key"}"\n\n'
        # The sandbox's published key, on loopback: the opt-in the service requires.
        "[auth]\nsandbox = true\n\n"
        '[[auth.issuers]]\niss = "https://sandbox.cds-hooks.org"\n'
        'jwks_builtin = "cds-hooks-sandbox"\n\n'
        f'[notes]\nembedder = "{embedder}"\n',
        encoding="utf-8",
    )
    return config


def memory(pid: int) -> Memory:
    """RSS, PSS and USS (Private_Clean + Private_Dirty) of one process."""
    lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]
    kib = {name.rstrip(":"): int(value) for name, value, *_ in map(str.split, lines)}
    uss = kib["Private_Clean"] + kib["Private_Dirty"]
    return Memory(kib["Rss"] / 1024, kib["Pss"] / 1024, uss / 1024)


def descendants(pid: int) -> list[int]:
    """The processes `pid` started (from any of its threads), then theirs, and so on."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError):
            found += [int(child) for child in (task / "children").read_text().split()]
    return found + [below for child in found for below in descendants(child)]


def cpu_ticks(pid: int) -> int:
    """User and system CPU ticks of one process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def machine_ticks() -> tuple[int, int]:
    """CPU ticks of the whole machine since boot, (busy, all), from /proc/stat."""
    ticks = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(ticks) - ticks[3] - ticks[4], sum(ticks)  # less idle and iowait


def wait_until_idle(seconds: float, busy_below: float = 0.1) -> None:
    """Wait, at most `seconds`, for one second in which under `busy_below` of the CPUs worked."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        before = machine_ticks()
        time.sleep(1)
        after = machine_ticks()
        if (after[0] - before[0]) < busy_below * (after[1] - before[1]):
            return


def ask(port: int, path: str, count: int) -> list[tuple[int, Any]]:
    """Status and JSON body of `count` `GET path`, each on a fresh connection, sent together
    (so that either worker may take one); none while the port is not listening yet."""
    conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=60) for _ in range(count)]
    try:
        for conn in conns:  # every request waits in the listen queue until a worker takes it
            conn.request("GET", path, headers={"Connection": "close"})
        return [(r.status, json.loads(r.read())) for r in (c.getresponse() for c in conns)]
    except (OSError, http.client.HTTPException):
        return []
    finally:
        for conn in conns:
            conn.close()


@contextlib.contextmanager
def running(command: list[str], folder: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The service as its own process group, stopped (whatever happens) on leaving."""
    # Without `CDSS_*` variables, the service reads only the TOML written here. (Not imported
    # from cds_service.settings: the bench must run whatever state the checkout is in.)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDSS_")}  # noqa: TID251
    with (folder / "serve.log").open("wb") as log:
        process = subprocess.Popen(
            command, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def measure(variant: Variant, embedder: str, args: argparse.Namespace) -> Sample:
    """Start the service once, wait for both workers, read the memory, stop it."""
    with tempfile.TemporaryDirectory(prefix="cdss-startup-") as name:
        folder, port = Path(name), free_port()
        command = (
            [sys.executable, str(Path(__file__).resolve()), "--serve-floor", str(port)]
            if variant.cdss is None
            else [str(variant.cdss), "serve", "--config", str(write_config(folder, port, embedder))]
        )
        wait_until_idle(args.idle_wait)
        load, own_start, machine_start = os.getloadavg()[0], os.times(), machine_ticks()
        start = time.monotonic()
        with running(command, folder) as process:
            ready: dict[int, float] = {}
            while len(ready) < WORKERS:
                if process.poll() is not None or time.monotonic() - start > args.timeout:
                    log = (folder / "serve.log").read_text(errors="replace")
                    raise RuntimeError(f"{variant.name}/{embedder}: not ready:\n{log[-3000:]}")
                for status, body in ask(port, "/readyz", PROBES_PER_POLL):
                    if status == 200:
                        ready.setdefault(body["worker"], time.monotonic() - start)
                time.sleep(POLL_SECONDS)
            tree = [process.pid, *descendants(process.pid)]
            wall, own_end, machine_end = time.monotonic() - start, os.times(), machine_ticks()
            service = sum(cpu_ticks(pid) for pid in tree) / TICK
            if set(ready) - set(tree):
                raise RuntimeError(f"pids {sorted(ready)} answered, the service's are {tree}")
            master, per_worker = memory(process.pid), [memory(pid) for pid in ready]
            total_pss = sum(memory(pid).pss for pid in tree)
            served = [status for status, _ in ask(port, "/cds-services", args.check_serving)]
            if served != [200] * args.check_serving:
                raise RuntimeError(f"{variant.name}/{embedder}: GET /cds-services: {served}")
    own = own_end.user + own_end.system - own_start.user - own_start.system
    others = (machine_end[0] - machine_start[0]) / TICK - service - own
    times = sorted(ready.values())
    return Sample(times[0], times[-1], master, per_worker, total_pss, load, service, others / wall)


def serve_floor(port: int) -> NoReturn:
    """A bare Flask app under gunicorn with the service's settings: the floor to compare with."""
    from flask import Flask
    from gunicorn.app.base import BaseApplication

    class Floor(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            options = {
                "bind": f"127.0.0.1:{port}", "workers": WORKERS, "worker_class": "gthread",
                "threads": THREADS, "timeout": 30, "graceful_timeout": 10, "accesslog": "-",
            }  # fmt: skip
            if "control_socket_disable" in self.cfg.settings:
                options["control_socket_disable"] = True
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Flask:
            app = Flask("floor")
            app.get("/readyz")(lambda: {"status": "ready", "worker": os.getpid()})
            app.get("/cds-services", endpoint="discovery")(lambda: {"services": []})
            return app

    Floor().run()
    sys.exit(0)


def render(args: argparse.Namespace, results: dict[tuple[str, str], list[Sample]]) -> str:
    """The Markdown section."""

    def spread(values: list[float]) -> str:
        return " / ".join(f"{v:.1f}" for v in (min(values), statistics.median(values), max(values)))

    def median(values: list[float], digits: int = 0) -> str:
        return f"{statistics.median(values):.{digits}f}"

    command = shlex.join([".venv/bin/python", "bench/startup.py", *sys.argv[1:]])
    lines = [
        "## Start-up: time to ready and memory per worker\n",
        f"Command: `{command}`\n",
        f"Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. Machine: `os.cpu_count()` = "
        f"{os.cpu_count()}, Python {platform.python_version()}, {platform.system()} "
        f"{platform.machine()}; load average when the run began: "
        f"{' / '.join(f'{v:.2f}' for v in args.load_at_start)} (1 / 5 / 15 min).\n",
        f"{WORKERS} gunicorn workers (gthread), SQLite, 127.0.0.1; {args.repeats} starts per row, "
        "interleaved. Seconds until the first and until both workers answered `GET /readyz` "
        "(min / median / max) and the service's CPU seconds meanwhile (median); memory (MiB) then, "
        "median over workers and starts. USS: pages only that worker holds; service PSS: master "
        "and workers, a shared page counted once. Other CPUs: busy with other work during the "
        f"start (average; {args.measured_again} starts above {args.max_other_cpus} were measured "
        "again).\n",
        "| variant | embedder | first ready s | both ready s | CPU s | worker USS | worker PSS "
        "| worker RSS | master PSS | service PSS | load at start | other CPUs |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for (variant, embedder), samples in results.items():
        workers = [m for s in samples for m in s.workers]
        cells = [
            variant, embedder, spread([s.first_ready for s in samples]),
            spread([s.both_ready for s in samples]), median([s.cpu_seconds for s in samples], 1),
            median([m.uss for m in workers]), median([m.pss for m in workers]),
            median([m.rss for m in workers]), median([s.master.pss for s in samples]),
            median([s.total_pss for s in samples]), spread([s.load for s in samples]),
            median([s.others for s in samples], 2),
        ]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--variant", action="append", default=[], metavar="NAME=CDSS",
        help="a cdss executable, and its name in the table (repeatable; default: "
        "current=.venv/bin/cdss of this checkout)")  # fmt: skip
    add("--embedder", nargs="+", default=["tfidf"], choices=["tfidf", "minilm"])
    add("--repeats", type=int, default=3, help="starts per row")
    add("--no-floor", action="store_true", help="leave out the bare Flask app")
    add("--check-serving", type=int, default=0, metavar="N",
        help="once ready, send N `GET /cds-services` and require 200s")  # fmt: skip
    add("--timeout", type=float, default=300, help="seconds to wait for both workers")
    add("--idle-wait", type=float, default=60, help="at most this long, wait for an idle machine")
    add("--max-other-cpus", type=float, default=0.25,
        help="measure a start again (twice at most) if other work kept more CPUs busy")  # fmt: skip
    add("--write", type=Path, help="also put the section into this file (docs/benchmarks.md)")
    add("--serve-floor", type=int, metavar="PORT", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def variants(args: argparse.Namespace) -> list[Variant]:
    """The variants named on the command line, then the floor."""
    found = []
    for given in args.variant or [f"current={REPO / '.venv' / 'bin' / 'cdss'}"]:
        name, _, path = given.partition("=")
        if not name or not Path(path).is_file():
            raise SystemExit(f"--variant {given}: expected NAME=PATH of a cdss executable")
        found.append(Variant(name, Path(path).absolute()))
    return found if args.no_floor else [*found, Variant("floor", None)]


def main(argv: list[str] | None = None) -> None:
    """Measure every row, print the section (and maybe write it)."""
    args = parse_args(argv)
    if args.serve_floor is not None:
        serve_floor(args.serve_floor)
    # A SIGTERM stops the service under test too (the `finally` of `running`).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    args.load_at_start, args.measured_again = os.getloadavg(), 0
    results: dict[tuple[str, str], list[Sample]] = {}
    for repeat in range(args.repeats):
        for variant in variants(args):
            for embedder in ["-"] if variant.cdss is None else args.embedder:
                for attempt in range(3):
                    sample = measure(variant, embedder, args)
                    print(f"{repeat + 1}/{args.repeats} {variant.name} {embedder}: ready "
                          f"{sample.first_ready:.1f} / {sample.both_ready:.1f} s, worker USS "
                          f"{[round(m.uss) for m in sample.workers]} MiB, service PSS "
                          f"{sample.total_pss:.0f} MiB, other CPUs {sample.others:.2f}",
                          file=sys.stderr)  # fmt: skip
                    if sample.others <= args.max_other_cpus or attempt == 2:
                        break
                    args.measured_again += 1
                results.setdefault((variant.name, embedder), []).append(sample)
    section = render(args, results)
    print(section)
    if args.write:
        sys.path.insert(0, str(REPO / "bench"))
        from report import replace_section

        target = args.write if args.write.is_absolute() else REPO / args.write
        replace_section(target, section)
        print(f"wrote {target}", file=sys.stderr)


if __name__ == "__main__":
    main()
