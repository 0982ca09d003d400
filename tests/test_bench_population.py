"""`bench/population.py` end to end in quick mode on a tiny generated export: both paths score
every patient of it, and the section it writes has a row for each path and the projection."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from population import LOOP, PROJECTED_CORES, SECTION, SPARK, main

PATIENTS = 40
PATH_COLUMN, SCORED_COLUMN, PER_SECOND_COLUMN, RATIO_COLUMN = 2, 3, 4, 5


def cells(row: str) -> list[str]:
    """A Markdown table row's cells."""
    return [cell.strip() for cell in row.strip().strip("|").split("|")]


def test_a_quick_run_scores_every_patient_on_both_paths(tmp_path: Path) -> None:
    report = tmp_path / "benchmarks.md"

    main(
        [
            "--quick",
            "--patients",
            str(PATIENTS),
            "--master",
            "local[2]",
            "--workdir",
            str(tmp_path / "work"),
            "--write",
            str(report),
        ]
    )

    text = report.read_text(encoding="utf-8")
    assert text.count(SECTION) == 1
    rows = [cells(line) for line in text.splitlines() if line.startswith(f"| {PATIENTS} |")]
    by_path = {row[PATH_COLUMN]: row for row in rows}
    assert set(by_path) == {LOOP, SPARK}
    assert [row[SCORED_COLUMN] for row in by_path.values()] == [str(PATIENTS)] * 2
    assert all(float(row[PER_SECOND_COLUMN]) > 0 for row in by_path.values())
    assert float(by_path[SPARK][RATIO_COLUMN]) > 0
    projected = [cells(line) for line in text.splitlines() if line.startswith("| ")]
    assert {row[0] for row in projected} >= {str(cores) for cores in PROJECTED_CORES}
    # Nothing of the population is left behind but the outputs in the given folder.
    assert not list((tmp_path / "work").glob("export-*"))
