"""The population job on a local Spark session bound to 127.0.0.1: a small generated export is
scored patient by patient in Spark's Python workers, and the Parquet table and the CSV work list
hold what the scoring function gives for each patient's resources called directly."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from cds_service.population.batch import work_list_columns
from cds_service.population.export_files import export_files, group_by_patient, read_ndjson
from cds_service.population.scoring import PopulationScorer
from cds_service.population.scoring import score_export as score_one_by_one
from cds_service.population.spark_job import (
    ColumnType,
    ExportNotFound,
    OutputExists,
    PopulationSummary,
    ScoreColumn,
    ScoreRowInvalid,
    ScoreValue,
    ScoringFailed,
    patient_key,
    score_export,
    score_row,
    with_members,
)
from cds_service.population.spark_session import (
    SparkSettings,
    default_shuffle_partitions,
    is_local_master,
    spark_session,
)
from cds_service.population.synthetic_export import write_synthetic_export
from fhir_adapters.patient_links import PatientScope

COLUMNS = (
    ScoreColumn("observations", ColumnType.INTEGER),
    ScoreColumn("conditions", ColumnType.INTEGER),
    ScoreColumn("medications", ColumnType.INTEGER),
    ScoreColumn("newest_observation", ColumnType.TEXT),
    ScoreColumn("mean_value", ColumnType.DECIMAL),
    ScoreColumn("has_birth_date", ColumnType.FLAG),
    ScoreColumn("summary", ColumnType.TEXT),
)
PATIENT_IDS = ("p-1", "p-2", "p-3", "p-4", "p-5")
LOINC_HBA1C = "4548-4"


def count_resources(patient_id: str, resources: list[dict[str, Any]]) -> dict[str, ScoreValue]:
    """A stand-in scorer: counts by type, the newest observation's date, the mean value."""
    observations = [r for r in resources if r["resourceType"] == "Observation"]
    values = [float(r["valueQuantity"]["value"]) for r in observations]
    (patient,) = [r for r in resources if r["resourceType"] == "Patient"]
    assert patient["id"] == patient_id
    return {
        "observations": len(observations),
        "conditions": sum(r["resourceType"] == "Condition" for r in resources),
        "medications": sum(r["resourceType"] == "Medication" for r in resources),
        "newest_observation": max((r["effectiveDateTime"] for r in observations), default=None),
        "mean_value": sum(values) / len(values) if values else None,
        "has_birth_date": "birthDate" in patient,
        # A comma and quotes, as a card's summary may hold: the work list must quote the text
        # and double its quotes (RFC 4180) for a spreadsheet to read it back whole.
        "summary": f'{len(observations)} observations, "{patient_id}"',
    }


def observations_since(
    patient_id: str, resources: list[dict[str, Any]], since: str
) -> dict[str, ScoreValue]:
    """A stand-in scorer with a run parameter: the patient's observations on or after `since`."""
    return {
        "patient_id": patient_id,
        "observations": sum(
            r["resourceType"] == "Observation" and r["effectiveDateTime"] >= since
            for r in resources
        ),
    }


def counts_in_words(patient_id: str, resources: list[dict[str, Any]]) -> dict[str, ScoreValue]:
    """A scorer that breaks its columns' contract: a count as text."""
    return {"observations": f"{len(resources)} resources"}


# The hook path's scorer, loaded once per Python worker (models and card policy).
_HOOK_PATH_SCORERS: dict[str, PopulationScorer] = {}


def score_as_the_hook_path_does(
    patient_id: str, resources: list[dict[str, Any]], as_of: str
) -> dict[str, object]:
    """The patient's work-list row from `cds_service.population.scoring`."""
    if "scorer" not in _HOOK_PATH_SCORERS:
        _HOOK_PATH_SCORERS["scorer"] = PopulationScorer.load()
    return (
        _HOOK_PATH_SCORERS["scorer"].score(patient_id, resources, date.fromisoformat(as_of)).flat()
    )


def chart_contents(patient_id: str, resources: list[dict[str, Any]]) -> dict[str, ScoreValue]:
    """The chart as `Type/id` names, sorted: what was grouped, not what it means."""
    return {"contents": " ".join(sorted(f"{r['resourceType']}/{r['id']}" for r in resources))}


def _observation(number: int, patient_id: str | None, value: float) -> dict[str, Any]:
    """An HbA1c result of the given patient (or of nobody)."""
    observation: dict[str, Any] = {
        "resourceType": "Observation",
        "id": f"obs-{number}",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": LOINC_HBA1C}]},
        "effectiveDateTime": f"2025-{1 + number % 12:02d}-{1 + number % 27:02d}",
        "valueQuantity": {"value": value, "unit": "%"},
    }
    if patient_id is not None:
        observation["subject"] = {"reference": f"Patient/{patient_id}"}
    return observation


def _write_ndjson(path: Path, resources: list[dict[str, Any]], blank_line: bool = False) -> None:
    """One resource a line, as a Bulk Data export writes them."""
    lines = [json.dumps(resource) for resource in resources]
    if blank_line:
        lines.insert(1, "")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[Any]], int]:
    """A Bulk Data export of five patients (observations in two files, conditions, two orders
    naming a shared Medication, one observation of nobody, one condition of a patient the export
    lacks), each patient's resources as its chart should hold them, and the number of resources."""
    folder = tmp_path_factory.mktemp("export")
    charts: dict[str, list[Any]] = {}
    for number, patient_id in enumerate(PATIENT_IDS):
        patient: dict[str, Any] = {"resourceType": "Patient", "id": patient_id, "gender": "female"}
        if number % 2 == 0:
            patient["birthDate"] = f"19{60 + number}-03-01"
        charts[patient_id] = [patient]
    observations = [
        _observation(number, PATIENT_IDS[number % 4], 5.0 + number / 4) for number in range(11)
    ]
    for observation in observations:
        charts[observation["subject"]["reference"].removeprefix("Patient/")].append(observation)
    conditions = [
        {
            "resourceType": "Condition",
            "id": f"cond-{number}",
            "subject": {"reference": f"Patient/{patient_id}"},
            "code": {"text": "Prediabetes"},
        }
        for number, patient_id in enumerate(("p-1", "p-3", "p-3", "p-5"))
    ]
    for condition in conditions:
        charts[condition["subject"]["reference"].removeprefix("Patient/")].append(condition)
    medications = [
        {"resourceType": "Medication", "id": name, "code": {"text": name}}
        for name in ("metformin", "lisinopril")
    ]
    orders = [
        {
            "resourceType": resource_type,
            "id": f"order-{patient_id}",
            "subject": {"reference": f"Patient/{patient_id}"},
            "medicationReference": {"reference": reference},
        }
        for resource_type, patient_id, reference in (
            ("MedicationRequest", "p-2", "Medication/metformin"),
            ("MedicationStatement", "p-4", "Medication/metformin/_history/2"),
        )
    ]
    for order in orders:
        charts[order["subject"]["reference"].removeprefix("Patient/")] += [order, medications[0]]
    ghost = {**conditions[0], "id": "cond-ghost", "subject": {"reference": "Patient/p-ghost"}}
    unlinked = _observation(99, None, 6.1)
    _write_ndjson(folder / "Patient.ndjson", [chart[0] for chart in charts.values()])
    _write_ndjson(folder / "Observation.1.ndjson", observations[:6], blank_line=True)
    _write_ndjson(folder / "Observation.2.ndjson", [*observations[6:], unlinked])
    _write_ndjson(folder / "Condition.ndjson", [*conditions, ghost])
    _write_ndjson(folder / "Medication.ndjson", medications)
    _write_ndjson(folder / "MedicationRequest.ndjson", orders[:1])
    _write_ndjson(folder / "MedicationStatement.ndjson", orders[1:])
    resources = len(PATIENT_IDS) + len(observations) + len(conditions) + 2 + 2 + len(orders)
    return folder, charts, resources


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkSession]:
    """One local Spark session for the module, on 127.0.0.1, stopped at the end."""
    settings = SparkSettings(work_dir=tmp_path_factory.mktemp("spark"), master="local[2]")
    with spark_session(settings) as session:
        # The workers import this module by name to find the scoring function.
        session.sparkContext.addPyFile(__file__)
        yield session


@pytest.fixture(scope="module")
def scored(
    spark: SparkSession,
    export: tuple[Path, dict[str, list[Any]], int],
    tmp_path_factory: pytest.TempPathFactory,
) -> PopulationSummary:
    """The export scored with `count_resources`."""
    folder, _, _ = export
    return score_export(spark, folder, tmp_path_factory.mktemp("scores"), count_resources, COLUMNS)


def _csv_text(value: ScoreValue) -> str:
    """A value as Spark's CSV writer spells it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def test_each_patients_row_is_what_the_function_gives(
    spark: SparkSession, export: tuple[Path, dict[str, list[Any]], int], scored: PopulationSummary
) -> None:
    """Parquet and CSV hold, patient by patient, the function's own answer on that chart."""
    _, charts, _ = export
    expected = {
        patient_id: {"patient_id": patient_id, **count_resources(patient_id, chart)}
        for patient_id, chart in charts.items()
    }
    table = spark.read.parquet(str(scored.scores_parquet))
    assert table.columns == ["patient_id", *(column.name for column in COLUMNS)]
    rows = {row["patient_id"]: row.asDict() for row in table.collect()}
    assert rows == expected
    with scored.work_list_csv.open(encoding="utf-8", newline="") as handle:
        work_list = list(csv.reader(handle))
    assert work_list[0] == table.columns
    assert work_list[1:] == [
        [_csv_text(value) for value in expected[patient_id].values()]
        for patient_id in sorted(expected)
    ]
    assert not list(scored.work_list_csv.parent.glob("*.parts"))


def test_summary_counts_what_was_read_and_left_out(
    export: tuple[Path, dict[str, list[Any]], int], scored: PopulationSummary
) -> None:
    """Every resource is counted; the observation of nobody and the patient the export lacks
    are counted and left out; both Medications are counted as shared."""
    _, _, resources = export
    assert (
        scored.patients_scored,
        scored.resources_read,
        scored.resources_without_patient,
        scored.shared_resources,
        scored.patients_without_patient_resource,
    ) == (len(PATIENT_IDS), resources, 1, 2, 1)
    assert scored.scores_parquet.name == "scores.parquet"
    assert scored.work_list_csv.name == "worklist.csv"


def test_charts_are_grouped_as_the_single_process_loop_groups_them(
    spark: SparkSession, export: tuple[Path, dict[str, list[Any]], int], tmp_path: Path
) -> None:
    """Each patient's chart in Spark holds what export_files.group_by_patient gives it (the
    patient's resources and the Medications its orders name), for every patient it scores."""
    folder, _, _ = export
    grouped = group_by_patient(
        resource for path in export_files(folder) for resource in read_ndjson(path)
    )
    summary = score_export(
        spark, folder, tmp_path, chart_contents, [ScoreColumn("contents", ColumnType.TEXT)]
    )
    rows = spark.read.parquet(str(summary.scores_parquet)).collect()
    assert {row["patient_id"]: row["contents"] for row in rows} == {
        patient_id: chart_contents(patient_id, chart)["contents"]
        for patient_id, chart in grouped.items()
        if any(resource["resourceType"] == "Patient" for resource in chart)
    }


def test_a_partial_of_a_top_level_function_carries_its_parameter(
    spark: SparkSession, export: tuple[Path, dict[str, list[Any]], int], tmp_path: Path
) -> None:
    """A run parameter reaches the executors through functools.partial; a `patient_id` the
    function echoes is the row's own."""
    folder, charts, _ = export
    summary = score_export(
        spark,
        folder,
        tmp_path,
        partial(observations_since, since="2025-06-01"),
        [ScoreColumn("observations", ColumnType.INTEGER)],
    )
    rows = spark.read.parquet(str(summary.scores_parquet)).collect()
    assert {row["patient_id"]: row["observations"] for row in rows} == {
        patient_id: observations_since(patient_id, chart, "2025-06-01")["observations"]
        for patient_id, chart in charts.items()
    }


def test_an_executors_error_ends_the_job_with_its_cause_chained(
    spark: SparkSession, export: tuple[Path, dict[str, list[Any]], int], tmp_path: Path
) -> None:
    """A row that breaks the columns' contract in an executor fails the run as ScoringFailed,
    the worker's error (naming the column, not the patient) chained to it."""
    with pytest.raises(ScoringFailed, match="population scoring job failed") as failed:
        score_export(spark, export[0], tmp_path, counts_in_words, COLUMNS)
    cause = str(failed.value.__cause__)
    assert "'observations' holds integer, not str" in cause
    assert not any(patient_id in cause for patient_id in PATIENT_IDS)


def test_spark_rows_are_the_single_process_rows_of_the_hook_path_scorer(
    spark: SparkSession, tmp_path: Path
) -> None:
    """With the hook path's scorer plugged in, Spark writes for each of 40 generated patients
    the row the single-process loop gives (estimates, bands, cards, factors, actions)."""
    as_of = date(2026, 6, 1)
    write_synthetic_export(tmp_path / "export", 40, seed=20, as_of=as_of)
    expected = {row.patient_id: row.flat() for row in score_one_by_one(tmp_path / "export", as_of)}
    summary = score_export(
        spark,
        tmp_path / "export",
        tmp_path / "scores",
        partial(score_as_the_hook_path_does, as_of=as_of.isoformat()),
        work_list_columns(),
    )
    rows = spark.read.parquet(str(summary.scores_parquet)).collect()
    assert {row["patient_id"]: row.asDict() for row in rows} == expected
    assert any(row["diabetes_card"] for row in rows)


REFERENCES = [
    "Patient/p-1",
    "Patient/p-1/_history/3",
    "Patient/",
    "Patient/a/b",
    "Patient/p 1",
    "Patient/p-1\n",
    "patient/p-1",
    "Group/p-1",
    "urn:uuid:0b7a7b4e-8e5b-4f4e-9d0c-3d1f3a2b1c00",
    "https://fhir.example.test/Patient/p-1",
    "#p-1",
]


def test_patient_key_reads_references_as_the_hook_path_does(spark: SparkSession) -> None:
    """The JVM's key for each reference form is the id fhir_adapters.patient_links reads."""
    resources = [
        json.dumps({"resourceType": "Observation", "subject": {"reference": reference}})
        for reference in REFERENCES
    ]
    resources += [
        json.dumps({"resourceType": "FamilyMemberHistory", "patient": {"reference": "Patient/f"}}),
        json.dumps({"resourceType": "Observation", "patient": {"reference": "Patient/x"}}),
        json.dumps({"resourceType": "Patient", "id": "p-9"}),
        json.dumps({"resourceType": "Patient", "id": ""}),
        "not json",
    ]
    frame = spark.createDataFrame([(text,) for text in resources], ["value"])
    keys = [row[0] for row in with_members(frame).select(patient_key()).collect()]
    reader = PatientScope(None)
    assert keys == [
        *(reader.patient_named(reference) for reference in REFERENCES),
        "f",
        None,
        "p-9",
        None,
        None,
    ]


def _listening_addresses(pid: int) -> list[str]:
    """The local addresses (hex, as /proc/net shows them) of the process's listening TCP sockets."""
    inodes = set()
    addresses = []
    try:
        for descriptor in Path(f"/proc/{pid}/fd").iterdir():
            target = os.readlink(descriptor)
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
        for table in ("tcp", "tcp6"):
            for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                    addresses.append(fields[1].split(":")[0])
    except OSError:  # a worker that ended meanwhile listens nowhere
        return []
    return addresses


def _descendants(pid: int) -> list[int]:
    """The process's children, grandchildren and so on."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, waiting = [], [pid]
    while waiting:
        for child in children.get(waiting.pop(), []):
            found.append(child)
            waiting.append(child)
    return found


# 127.0.0.1 in /proc/net/tcp, and ::1 and ::ffff:127.0.0.1 in /proc/net/tcp6 (little-endian words).
_LOOPBACK = {"0100007F", "00000000000000000000000001000000", "0000000000000000FFFF00000100007F"}


@pytest.mark.skipif(not Path("/proc/self/net/tcp").exists(), reason="reads Linux's /proc")
def test_local_spark_listens_on_loopback_only(
    spark: SparkSession, scored: PopulationSummary
) -> None:
    """After a job, the driver, its JVM and its Python workers listen on loopback only."""
    addresses = [
        address for pid in _descendants(os.getpid()) for address in _listening_addresses(pid)
    ]
    assert addresses, "the driver's RPC endpoint should be listening"
    assert set(addresses) <= _LOOPBACK


def test_an_existing_work_list_is_not_overwritten(
    spark: SparkSession, export: tuple[Path, dict[str, list[Any]], int], tmp_path: Path
) -> None:
    """Without replace=True, a work list already there stops the job before it starts."""
    (tmp_path / "worklist.csv").write_text("patient_id\n", encoding="utf-8")
    with pytest.raises(OutputExists, match=r"worklist\.csv"):
        score_export(spark, export[0], tmp_path, count_resources, COLUMNS)


def test_a_folder_without_ndjson_is_refused(spark: SparkSession, tmp_path: Path) -> None:
    """An empty export folder is named in the error."""
    with pytest.raises(ExportNotFound, match=r"\*\.ndjson"):
        score_export(spark, tmp_path, tmp_path / "out", count_resources, COLUMNS)


def test_a_lambda_is_refused(spark: SparkSession, tmp_path: Path) -> None:
    """A scorer Spark would ship by value (a lambda) is refused: its caches would be per task."""
    with pytest.raises(ScoreRowInvalid, match="top-level"):
        score_export(spark, tmp_path, tmp_path, lambda patient_id, resources: {}, COLUMNS)


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({"observations": "3"}, "'observations' holds integer, not str"),
        ({"observations": True}, "'observations' holds integer, not bool"),
        ({"has_birth_date": 1}, "'has_birth_date' holds flag, not int"),
        ({"newest_observation": 2025}, "'newest_observation' holds text, not int"),
        ({"mean_value": "6.1"}, "'mean_value' holds decimal, not str"),
        ({"risk": 0.2}, r"undeclared columns \['risk'\]"),
        ({"patient_id": "p-other"}, "a row of another patient"),
    ],
)
def test_a_row_that_does_not_fit_the_columns_is_refused(
    answer: dict[str, ScoreValue], message: str
) -> None:
    """The error names the column and the kinds, never the patient or the value."""
    with pytest.raises(ScoreRowInvalid, match=message) as refused:
        score_row(lambda patient_id, resources: answer, COLUMNS, "p-secret", [])
    assert "p-secret" not in str(refused.value)


def test_a_whole_number_fills_a_decimal_column_and_missing_columns_are_null() -> None:
    """An int in a decimal column becomes a float; a column the scorer leaves out is null."""
    row = score_row(lambda patient_id, resources: {"mean_value": 6}, COLUMNS, "p-1", [])
    by_name = dict(zip(["patient_id", *(column.name for column in COLUMNS)], row, strict=True))
    assert by_name == {**dict.fromkeys(by_name), "patient_id": "p-1", "mean_value": 6.0}
    assert isinstance(by_name["mean_value"], float)


@pytest.mark.parametrize(
    ("master", "local", "partitions"),
    [
        ("local", True, 2),
        ("local[3]", True, 6),
        ("local[*]", True, 2 * (os.cpu_count() or 1)),
        ("local[2,4]", True, 4),
        ("spark://scheduler.example.test:7077", False, None),
        ("yarn", False, None),
    ],
)
def test_local_masters_get_two_shuffle_partitions_a_core(
    master: str, local: bool, partitions: int | None
) -> None:
    """A local master is bound to loopback and sized by its threads; a cluster keeps its own."""
    assert is_local_master(master) is local
    assert default_shuffle_partitions(master) == partitions


def test_without_pyspark_the_error_names_the_extra() -> None:
    """The base install has no pyspark: importing the job says which extra to install."""
    blocked = "import sys; sys.modules['pyspark'] = None\nimport cds_service.population.spark_job\n"
    answer = subprocess.run(
        [sys.executable, "-c", blocked], capture_output=True, text=True, check=False, timeout=120
    )
    assert answer.returncode != 0
    assert "pip install 'cdss[population]'" in answer.stderr
