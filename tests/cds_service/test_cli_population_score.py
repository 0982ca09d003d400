"""`cdss population export` then `cdss population score` end to end: the installed commands on a
generated export served by a Bulk Data server on 127.0.0.1, Spark local with two cores, and the
work list held row by row to the single-process scorer on the same folder."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from bulk_front import BulkFront
from support import CDSS

from cds_service.population.batch import REPORT_HTML, scoring_settings, work_list_columns
from cds_service.population.scoring import score_export as score_one_by_one
from cds_service.population.spark_job import ColumnType
from cds_service.population.synthetic_export import write_synthetic_export
from cds_service.settings import Settings

AS_OF = date(2026, 6, 1)
PATIENTS = 30
TOKEN = "population-score-token"


def cdss(*args: str, **environment: str) -> subprocess.CompletedProcess[str]:
    """Run the installed `cdss` with no CDSS_* settings of the caller's and the given variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDSS_")}
    return subprocess.run(
        [str(CDSS), *args],
        env={**env, **environment},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def csv_text(value: object, kind: ColumnType) -> str:
    """A row value as the work list spells it (null and empty text are both empty)."""
    if value is None:
        return ""
    if kind is ColumnType.FLAG:
        return str(value).lower()
    return str(value)


def test_an_export_downloaded_and_scored_on_spark_gets_the_single_process_rows(
    tmp_path: Path,
) -> None:
    """The work list holds, for each of 30 generated patients, exactly the row the hook path's
    scorer gives in one process on the same files; the Parquet table is written beside it."""
    source = tmp_path / "source"
    counts = write_synthetic_export(source, PATIENTS, seed=2020, as_of=AS_OF)
    outputs = [(name, source / f"{name}.ndjson") for name, count in counts.items() if count]
    front = BulkFront(outputs, access_token=TOKEN).start()
    try:
        exported = cdss(
            "population", "export", "--fhir", front.base_url, "--output", str(tmp_path / "export"),
            CDSS_BULK_TOKEN=TOKEN,
        )  # fmt: skip
    finally:
        front.stop()
    assert exported.returncode == 0, exported.stderr
    out = tmp_path / "scores"
    scored = cdss(
        "population", "score", "--input", str(tmp_path / "export"), "--output", str(out),
        "--master", "local[2]", "--as-of", AS_OF.isoformat(),
    )  # fmt: skip
    assert scored.returncode == 0, scored.stderr

    expected = {row.patient_id: row.flat() for row in score_one_by_one(tmp_path / "export", AS_OF)}
    assert len(expected) == PATIENTS
    kinds = {column.name: column.type for column in work_list_columns()}
    with (out / "worklist.csv").open(encoding="utf-8", newline="") as handle:
        # Read as any spreadsheet reads CSV (RFC 4180), with no escape character.
        work_list = list(csv.DictReader(handle))
    assert [row["patient_id"] for row in work_list] == sorted(expected)
    for row in work_list:
        patient = expected[row["patient_id"]]
        assert list(row) == list(patient)
        for name, kind in kinds.items():
            if kind is ColumnType.DECIMAL and patient[name] is not None:
                # Java and Python may spell a double differently (1.0E-4, 0.0001); the number
                # must be the same.
                assert float(row[name]) == patient[name], name
            else:
                assert row[name] == csv_text(patient[name], kind), name
    assert any(row["diabetes_card"] for row in work_list)
    assert list((out / "scores.parquet").glob("part-*.parquet"))

    lines = scored.stdout.splitlines()
    assert f"patients scored: {PATIENTS}" in lines
    assert f"resources read: {sum(counts.values())}" in lines
    assert "resources with no patient link (left out): 0" in lines
    assert any(line.endswith("patients/s (Spark's start included)") for line in lines)
    assert f"report: {out / REPORT_HTML}" in lines
    report = (out / REPORT_HTML).read_text(encoding="utf-8")
    assert "<svg" in report
    assert not any(patient_id in scored.stdout + scored.stderr + report for patient_id in expected)

    again = cdss("population", "score", "--input", str(tmp_path / "export"), "--output", str(out))
    assert again.returncode == 1
    assert again.stderr.strip().splitlines()[-1] == (
        f"Error: {out / 'scores.parquet'} exists (give --replace to overwrite it)"
    )


def test_an_input_without_ndjson_files_is_one_line_before_spark_starts(tmp_path: Path) -> None:
    """A folder with no export in it is named in one line, exit 1, and nothing is written."""
    (tmp_path / "empty").mkdir()
    done = cdss(
        "population", "score", "--input", str(tmp_path / "empty"), "--output",
        str(tmp_path / "out"),
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"Error: no *.ndjson file in the export folder {tmp_path / 'empty'}"
    ]
    assert not (tmp_path / "out").exists()


def test_no_java_runtime_is_one_line_naming_it(tmp_path: Path) -> None:
    """Spark's launcher finds no Java: the last line says a Java 17+ runtime is needed."""
    write_synthetic_export(tmp_path / "export", 1, seed=1, as_of=AS_OF)
    done = cdss(
        "population", "score", "--input", str(tmp_path / "export"), "--output",
        str(tmp_path / "out"), "--master", "local[1]",
        JAVA_HOME=str(tmp_path / "no-java"),
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "Error: Spark did not start: it needs a Java 17+ runtime (scripts/install-system.sh)"
    )


def test_without_pyspark_the_command_names_the_extra(tmp_path: Path) -> None:
    """On an install without the [population] extra, the command says which extra to install."""
    program = (
        "import sys\n"
        "sys.modules['pyspark'] = None  # as if the extra were not installed\n"
        "from cds_service.cli import main\n"
        "main(sys.argv[1:])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program, "population", "score", "--input", str(tmp_path),
         "--output", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "Error: population scoring needs the [population] extra "
        "(pip install 'cdss[population]') and a Java 17+ runtime"
    ]


@pytest.mark.parametrize("setting", ["spark.executor.memory", "executor.memory=8g"])
def test_a_spark_setting_must_be_a_spark_key_with_a_value(tmp_path: Path, setting: str) -> None:
    """`--conf` takes KEY=VALUE with a spark.* key, and says so otherwise (exit 2)."""
    done = cdss(
        "population", "score", "--input", str(tmp_path), "--output", str(tmp_path / "out"),
        "--conf", setting,
    )  # fmt: skip
    assert done.returncode == 2
    assert "give KEY=VALUE with a spark.* key" in done.stderr


def test_only_what_the_scorer_reads_travels_to_the_executors(tmp_path: Path) -> None:
    """The card policy, model directory, public URL and SMART issuers go with the job; the
    database URL and the patient key stay on the driver."""
    settings = Settings.model_validate(
        {
            "server": {"public_base_url": "https://cdss.example.org"},
            "storage": {"database_url": "postgresql://cdss:db-password@db.example.org/cdss"},
            "privacy": {"patient_key": "patient-key-" + "k" * 40},
            "models": {"directory": str(tmp_path / "models")},
            "cards": {"diabetes": {"moderate_from": 0.2, "high_from": 0.6}},
            "smart": {"allowed_issuers": ["https://ehr.example.org/fhir"]},
        }
    )
    shipped = scoring_settings(settings).model_dump_json()
    assert "db-password" not in shipped
    assert "patient-key-" not in shipped
    received = Settings.model_validate_json(shipped)
    assert received.cards == settings.cards
    assert received.cards.diabetes.moderate_from == 0.2
    assert received.models.directory == tmp_path / "models"
    assert received.server.public_base_url == "https://cdss.example.org"
    assert received.smart.allowed_issuers == ("https://ehr.example.org/fhir",)
