"""The synthetic Bulk export: seeded, counted, every resource its patient's, and scorable."""

from __future__ import annotations

import itertools
from datetime import date
from pathlib import Path

import pytest

from cds_service.population.export_files import (
    export_files,
    group_by_patient,
    patient_charts,
    patient_of,
    read_ndjson,
)
from cds_service.population.scoring import score_export, work_list_columns
from cds_service.population.synthetic_export import (
    EXPORTED_TYPES,
    ChartTemplate,
    carebundle_templates,
    main,
    write_synthetic_export,
)

AS_OF = date(2026, 6, 1)
PATIENTS = 30


@pytest.fixture(scope="module")
def templates() -> tuple[ChartTemplate, ...]:
    """The carebundle source charts, made once."""
    return carebundle_templates()


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory, templates: tuple[ChartTemplate, ...]) -> Path:
    """A generated export of `PATIENTS` patients."""
    folder = tmp_path_factory.mktemp("export")
    write_synthetic_export(folder, PATIENTS, seed=11, as_of=AS_OF, templates=templates)
    return folder


def file_bytes(folder: Path) -> dict[str, bytes]:
    """Every file of an export folder, by name."""
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_the_same_seed_writes_the_same_export(
    tmp_path: Path, export: Path, templates: tuple[ChartTemplate, ...]
) -> None:
    write_synthetic_export(tmp_path / "again", PATIENTS, seed=11, as_of=AS_OF, templates=templates)
    write_synthetic_export(tmp_path / "other", PATIENTS, seed=12, as_of=AS_OF, templates=templates)
    assert file_bytes(tmp_path / "again") == file_bytes(export)
    assert file_bytes(tmp_path / "other") != file_bytes(export)


def test_counts_and_links(tmp_path: Path, templates: tuple[ChartTemplate, ...]) -> None:
    counts = write_synthetic_export(tmp_path, PATIENTS, seed=5, as_of=AS_OF, templates=templates)
    assert [path.name for path in export_files(tmp_path)] == [
        "Patient.ndjson",
        *sorted(f"{name}.ndjson" for name in EXPORTED_TYPES if name != "Patient"),
    ]
    patients = [r["id"] for r in read_ndjson(tmp_path / "Patient.ndjson")]
    assert len(patients) == len(set(patients)) == PATIENTS == counts["Patient"]
    ids = set()
    for name in EXPORTED_TYPES:
        resources = list(read_ndjson(tmp_path / f"{name}.ndjson"))
        assert len(resources) == counts[name]
        for resource in resources:
            assert resource["resourceType"] == name
            assert patient_of(resource) in patients
            ids.add((name, resource["id"]))
    assert len(ids) == sum(counts.values())
    assert counts["Observation"] > PATIENTS  # several measurements each


def test_values_vary_between_patients(export: Path) -> None:
    patients = list(read_ndjson(export / "Patient.ndjson"))
    assert {p["gender"] for p in patients} == {"female", "male"}
    assert len({p["birthDate"][:4] for p in patients}) > PATIENTS // 3
    bmis = [
        o["valueQuantity"]["value"]
        for o in read_ndjson(export / "Observation.ndjson")
        if o["code"]["coding"][0]["code"] == "39156-5"
    ]
    assert len(set(bmis)) > len(bmis) // 2


def test_patient_charts_are_the_export_grouped_by_patient(export: Path) -> None:
    everything = itertools.chain.from_iterable(read_ndjson(path) for path in export_files(export))
    grouped = group_by_patient(everything)
    charts = dict(patient_charts(export))
    assert charts == grouped
    order = [r["id"] for r in read_ndjson(export / "Patient.ndjson")]
    assert [patient_id for patient_id, _ in patient_charts(export)] == order


def test_the_export_is_scorable(export: Path) -> None:
    rows = list(score_export(export, AS_OF))
    assert [row.patient_id for row in rows] == [
        r["id"] for r in read_ndjson(export / "Patient.ndjson")
    ]
    assert any(row.diabetes.probability is not None for row in rows)
    assert any(row.hypertension.card_type is not None for row in rows)
    assert all(list(row.flat()) == [name for name, _ in work_list_columns()] for row in rows)


def test_the_command_writes_an_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["--patients", "3", "--output", str(tmp_path), "--seed", "1", "--as-of", "2026-06-01"])
    assert "Patient 3" in capsys.readouterr().out
    assert len(list(read_ndjson(tmp_path / "Patient.ndjson"))) == 3
