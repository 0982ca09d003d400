"""What it costs to answer every call with the newest admin-managed configuration.

Each hook and discovery call asks the database for the latest configuration version (one
indexed `max()`), and rebuilds the card policy only when the number moved. This measures that
question on SQLite (WAL, a file) and on PostgreSQL (Debian's server on 127.0.0.1), unchanged
and right after a change.

Run from the repository root: `.venv/bin/python bench/config_check.py`, with
`--write docs/benchmarks.md` to record the result. Needs PostgreSQL (the test command installs it).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "bench"))
from report import emit  # noqa: E402
from support import PostgresCluster  # noqa: E402

import cds_service.app  # noqa: E402, F401  (the package before tests/cds_service shadows it)
from cds_service.managed_config import LiveConfig, file_config  # noqa: E402
from cds_service.settings import Settings  # noqa: E402
from cds_service.storage.admin_records import ConfigVersionStore  # noqa: E402
from cds_service.storage.database import create_database_engine, migrate  # noqa: E402

CALLS = 3_000
CHANGES = 200
SERVICES = ("diabetes-risk", "hypertension-risk", "note-summary")


def measure(database_url: str) -> tuple[list[float], list[float]]:
    """Milliseconds of `current()` unchanged, and of the first `current()` after a change."""
    engine = create_database_engine(database_url)
    migrate(engine)
    versions = ConfigVersionStore(engine)
    file_values = file_config(Settings(), SERVICES)
    live = LiveConfig(versions, file_values, "http://127.0.0.1:8080", detail_app=True)
    for _ in range(100):  # connections made, caches warm
        live.current()
    unchanged = []
    for _ in range(CALLS):
        started = time.perf_counter()
        live.current()
        unchanged.append((time.perf_counter() - started) * 1000)
    after_change = []
    document = file_values.to_json()
    for n in range(CHANGES):
        document["cards"]["suppress_overridden_days"] = 90 + n % 2
        versions.append(document, [], actor="bench", source=None, based_on=n)
        started = time.perf_counter()
        live.current()
        after_change.append((time.perf_counter() - started) * 1000)
    engine.dispose()
    return unchanged, after_change


def row(name: str, timings: list[float]) -> str:
    ordered = sorted(timings)
    p99 = ordered[int(len(ordered) * 0.99) - 1]
    return f"| {name} | {statistics.median(timings):.3f} | {p99:.3f} |"


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        unchanged, changed = measure(f"sqlite:///{folder}/bench.db")
        rows += [row("SQLite, unchanged", unchanged), row("SQLite, after a change", changed)]
    cluster = PostgresCluster().start()
    try:
        unchanged, changed = measure(cluster.create_database("bench"))
        rows += [
            row("PostgreSQL, unchanged", unchanged),
            row("PostgreSQL, after a change", changed),
        ]
    finally:
        cluster.stop()
    emit(
        "\n".join(
            [
                "## The configuration in force, read at every call",
                "",
                "`.venv/bin/python bench/config_check.py --write docs/benchmarks.md`: "
                f"{CALLS:,} calls of `LiveConfig.current()` with the version unchanged, and "
                f"{CHANGES} right after a change (which rebuild the card policy). Milliseconds.",
                "",
                "| database | median | p99 |",
                "|---|---|---|",
                *rows,
                "",
                "This is what each call pays so that a change is in force on the next call to "
                "every worker, with no window in which two workers answer differently: on "
                "PostgreSQL it is one round trip to the server (and the pool's pre-ping), "
                "beside a hook call's ~11 ms of CPU with a full prefetch (above). The rebuild "
                "after a change happens once per worker per change.",
            ]
        ),
        REPO,
    )


if __name__ == "__main__":
    main()
