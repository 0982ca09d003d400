"""`bench/replicas.py` end to end in quick mode: PostgreSQL, one replica on it, two replicas on
one database of it behind the load generator's stand-in balancer, and one on SQLite, each
answering every timed hook call; the section it writes has a row for each setup and the ratio."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from replicas import SETUPS, main

SECTION = "## Two replicas on PostgreSQL against one"
FAILED_CALLS_COLUMN = -1


def cells(row: str) -> list[str]:
    """A Markdown table row's cells."""
    return [cell.strip() for cell in row.strip().strip("|").split("|")]


def test_a_quick_run_reports_every_setup_with_no_failed_call(tmp_path: Path) -> None:
    report = tmp_path / "benchmarks.md"

    # One worker per replica: four replicas start on a machine shared with the rest of the suite.
    main(["--quick", "--workers", "1", "--threads", "2", "--write", str(report)])

    text = report.read_text(encoding="utf-8")
    assert SECTION in text
    rows = [cells(line) for line in text.splitlines() if line.startswith("| synthea-1")]
    by_setup = {row[2]: row for row in rows if len(row) > 7}
    assert set(by_setup) == set(SETUPS)
    assert all(row[FAILED_CALLS_COLUMN] == "0" for row in by_setup.values())
    # The two/one row: chart, concurrency and four ratios, each a positive number.
    (ratio_row,) = [row for row in rows if len(row) == 6]
    assert all(float(ratio) > 0 for ratio in ratio_row[2:])
