"""`cdss population score`: a FHIR Bulk Data export scored on Spark with the hook path's scorer.

The glue between `scoring` (one patient's work-list row, as `patient-view` would answer for the
chart) and `spark_job` (the export read, grouped by patient and written as Parquet and a CSV
work list): the per-patient scoring function Spark calls in its executors, the work list's
columns, and the run, which ends with `report.write_report`'s page beside the work list.

The scoring function is top-level and takes the run date and the scoring settings as text
through `functools.partial`, so Spark pickles it by name; each executor's Python worker builds
one `PopulationScorer` (models, card policy) on its first patient and keeps it for the rest.
Only what the scorer reads travels to the executors (the model directory, the card settings,
the public URL, the SMART issuers), never the database URL, the patient key or any token.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from pathlib import Path

from cds_service.population import scoring
from cds_service.population.report import write_report
from cds_service.population.scoring import PopulationScorer

# First: without pyspark, this import says which extra to install.
from cds_service.population.spark_session import SparkSettings, spark_session

# isort: split
from cds_service.population.spark_job import (
    NDJSON_GLOB,
    PATIENT_ID_COLUMN,
    SCORES_PARQUET,
    WORK_LIST_CSV,
    ColumnType,
    ExportNotFound,
    OutputExists,
    PopulationSummary,
    ScoreColumn,
    score_export,
)
from cds_service.settings import ModelSettings, ServerSettings, Settings, SmartSettings
from fhir_adapters.fhir_values import Resource

REPORT_HTML = "report.html"

# One scorer per Python worker and scoring settings: Spark keeps its workers alive between
# tasks (`spark.python.worker.reuse`), so the models load once per worker, not once per task.
_SCORERS: dict[str, PopulationScorer] = {}


@dataclass(frozen=True)
class ScoreRun:
    """What one `cdss population score` run is asked to do."""

    export: str
    output_dir: Path
    as_of: date
    scratch_dir: Path
    master: str
    driver_host: str | None = None
    replace: bool = False
    # Further Spark settings (spark.executor.memory, spark.pyspark.python, ...).
    spark_options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ScoreRunResult:
    """What the run read and wrote, and how long Spark took from start to the last file."""

    summary: PopulationSummary
    seconds: float
    report_html: Path

    @property
    def patients_per_second(self) -> float:
        """Patients scored per second of the run (Spark's start included)."""
        return self.summary.patients_scored / self.seconds if self.seconds > 0 else 0.0


def scoring_settings(settings: Settings) -> Settings:
    """The part of the configuration the scorer reads; the rest stays on the driver."""
    return Settings(
        server=ServerSettings(public_base_url=settings.server.public_base_url),
        models=ModelSettings(directory=settings.models.directory),
        cards=settings.cards,
        smart=SmartSettings(allowed_issuers=settings.smart.allowed_issuers),
    )


def score_patient(
    patient_id: str, resources: list[Resource], as_of: str, settings_json: str
) -> dict[str, object]:
    """One patient's work-list row, as `patient-view` would answer for the chart on `as_of`."""
    scorer = _SCORERS.get(settings_json)
    if scorer is None:
        scorer = PopulationScorer.load(Settings.model_validate_json(settings_json))
        _SCORERS[settings_json] = scorer
    return scorer.score(patient_id, resources, date.fromisoformat(as_of)).flat()


def work_list_columns() -> tuple[ScoreColumn, ...]:
    """The score table's columns after the patient id, as `WorkListRow.flat()` names them."""
    return tuple(
        ScoreColumn(name, ColumnType(kind))
        for name, kind in scoring.work_list_columns()
        if name != PATIENT_ID_COLUMN
    )


def check_paths(export: str, output_dir: Path, replace: bool) -> None:
    """Refuse, before Spark starts, a local export with no NDJSON file and an output folder
    that holds an earlier run's files (unless they are to be replaced)."""
    if "://" not in export and not any(Path(export).glob(NDJSON_GLOB)):
        raise ExportNotFound(f"no {NDJSON_GLOB} file in the export folder {export}")
    if replace:
        return
    for name in (SCORES_PARQUET, WORK_LIST_CSV, REPORT_HTML):
        if (output_dir / name).exists():
            raise OutputExists(f"{output_dir / name} exists (give --replace to overwrite it)")


def run(job: ScoreRun, settings: Settings) -> ScoreRunResult:
    """Score every patient of the export on Spark; write the score table, the work list and
    the report."""
    check_paths(job.export, job.output_dir, job.replace)
    # The models are loaded (and verified) here first, so that a bad model directory is one
    # line now rather than an executor's failure after Spark has read the export.
    PopulationScorer.load(settings).close()
    score = partial(
        score_patient,
        as_of=job.as_of.isoformat(),
        settings_json=scoring_settings(settings).model_dump_json(),
    )
    spark = SparkSettings(
        work_dir=job.scratch_dir,
        master=job.master,
        driver_host=job.driver_host,
        options=job.spark_options,
    )
    started = time.monotonic()
    with spark_session(spark) as session:
        summary = score_export(
            session,
            job.export,
            job.output_dir,
            score,
            work_list_columns(),
            replace=job.replace,
        )
    seconds = time.monotonic() - started
    report = write_report(
        summary.work_list_csv, summary.work_list_csv.with_name(REPORT_HTML), job.as_of
    )
    return ScoreRunResult(summary, seconds, report)


def describe(result: ScoreRunResult) -> Sequence[str]:
    """The run's summary lines, counts and paths only (no patient id)."""
    summary = result.summary
    lines = [
        f"patients scored: {summary.patients_scored}",
        f"resources read: {summary.resources_read}",
        f"resources with no patient link (left out): {summary.resources_without_patient}",
        f"shared resources (Medications joined to their patients): {summary.shared_resources}",
        "patients with resources but no Patient resource (not scored): "
        f"{summary.patients_without_patient_resource}",
        f"score table: {summary.scores_parquet}",
        f"work list: {summary.work_list_csv}",
        f"report: {result.report_html}",
    ]
    lines.append(
        f"{result.seconds:.1f} s, {result.patients_per_second:.1f} patients/s (Spark's start "
        "included)"
    )
    return lines
