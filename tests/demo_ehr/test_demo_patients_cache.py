"""Synthea's demo patients kept in the demo's folder: reused by a later start of the same run,
made afresh when what decides them (here the seed, or Synthea's version) differs."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from demo_ehr.patients import SyntheaRun, cached_synthea_patients, demo_synthea_run

MARK = "kept-by-an-earlier-start"


def test_a_later_start_of_the_same_run_reuses_the_kept_patients(tmp_path: Path) -> None:
    run = replace(demo_synthea_run(), count=1, seed=7)
    made, reused = cached_synthea_patients(tmp_path, run)
    assert not reused
    assert list(made) == ["synthea-1"]
    assert made["synthea-1"]["resourceType"] == "Bundle"
    # Marked in the file: only a read of the file (not Synthea run again) gives the mark back.
    kept = json.loads(run.cache_file(tmp_path).read_text(encoding="utf-8"))
    kept["patients"]["synthea-1"]["id"] = MARK
    run.cache_file(tmp_path).write_text(json.dumps(kept), encoding="utf-8")

    again, reused = cached_synthea_patients(tmp_path, run)
    assert reused
    assert again["synthea-1"]["id"] == MARK


def test_another_seed_or_synthea_version_is_made_afresh(tmp_path: Path) -> None:
    run = replace(demo_synthea_run(), count=1, seed=7)
    made, _ = cached_synthea_patients(tmp_path, run)

    other_seed = replace(run, seed=8)
    assert other_seed.cache_file(tmp_path) != run.cache_file(tmp_path)
    other, reused = cached_synthea_patients(tmp_path, other_seed)
    assert not reused
    assert other != made
    assert other_seed.cache_file(tmp_path).exists()

    # A file that claims to be this run's but was kept for another version is not taken.
    newer = replace(run, synthea_version=run.synthea_version + ".post1")
    stored = json.loads(run.cache_file(tmp_path).read_text(encoding="utf-8"))
    newer.cache_file(tmp_path).write_text(json.dumps(stored), encoding="utf-8")
    assert cached_synthea_patients(tmp_path, newer)[1] is False


def test_the_run_names_every_part_that_decides_the_patients() -> None:
    run = demo_synthea_run()
    assert run.synthea_version
    variants = [
        replace(run, count=run.count + 1),
        replace(run, seed=run.seed + 1),
        replace(run, age="70-85"),
        replace(run, reference_date="20250101"),
        replace(run, synthea_version="0"),
    ]
    folder = Path("kept")
    names = {variant.cache_file(folder) for variant in [run, *variants]}
    assert len(names) == len(variants) + 1
    assert SyntheaRun().count == 3
