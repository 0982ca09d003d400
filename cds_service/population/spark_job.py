"""Scoring a FHIR Bulk Data export on Apache Spark: every patient of the panel, in the executors.

`spark_session.spark_session` starts Spark (local by default, bound to 127.0.0.1); with it,
`score_export` reads the export's NDJSON files, keys each resource by its patient in the JVM,
groups each patient's resources together with the Medications its orders name, as
`export_files` does for the single-process loop (the population is never collected to the
driver), calls the injected scoring function once per patient in the executors, and writes the
rows as Parquet and as one CSV work list.

The scoring function must be a top-level function of an importable module: Spark then pickles
it by name, so each executor's Python process imports its module once and whatever that module
caches at module level (models, value sets) is loaded once per process, not once per task.

    PopulationJobError     (cds_service.population.spark_session)
    ├── SparkUnavailable   Spark's Java runtime did not start (spark_session)
    ├── ExportNotFound     no NDJSON file in the export folder
    ├── OutputExists       the output folder already holds a score table or a work list
    ├── ScoreRowInvalid    a scoring function's row misses a column or has the wrong type
    └── ScoringFailed      a Spark job failed (an executor's error, chained)

Messages name files and columns, never a patient id or a resource's content.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from functools import partial
from pathlib import Path
from types import FunctionType

from cds_service.population.export_files import MEDICATION

# First: without pyspark, this import says which extra to install.
from cds_service.population.spark_session import PopulationJobError
from fhir_adapters.fhir_values import Resource
from fhir_adapters.patient_links import PATIENT, PATIENT_ELEMENT, SHARED_RESOURCES

# isort: split
from pyspark.errors import PySparkException
from pyspark.sql import Column, DataFrame, Row, SparkSession
from pyspark.sql import functions as sql
from pyspark.sql import types as spark_types

NDJSON_GLOB = "*.ndjson"
PATIENT_ID_COLUMN = "patient_id"
SCORES_PARQUET = "scores.parquet"
WORK_LIST_CSV = "worklist.csv"
# A relative literal reference to a Patient, as fhir_adapters.patient_links reads it (a test
# holds the two equal); in Java's regex dialect, `\z` so that a trailing newline does not match.
_PATIENT_REFERENCE_JAVA = rf"^{PATIENT}/([^/?#\s]+)(?:/_history/[^/?#\s]+)?\z"
# What names a shared Medication, as cds_service.population.export_files reads it (a test holds
# Spark's charts equal to its grouping).
_MEDICATION_USES = ("MedicationRequest", "MedicationStatement")
ScoreValue = str | int | float | bool | None
# (patient id, the patient's resources) -> the patient's row; a `patient_id` key, if the row
# has one, must be that patient's.
ScoreFunction = Callable[[str, list[Resource]], Mapping[str, object]]


class ExportNotFound(PopulationJobError):
    """The export folder holds no NDJSON file."""


class OutputExists(PopulationJobError):
    """The output folder already holds what the job would write."""


class ScoreRowInvalid(PopulationJobError):
    """A scoring function returned a row that does not fit the declared columns."""


class ScoringFailed(PopulationJobError):
    """A Spark job failed; the cause is chained."""


class ColumnType(Enum):
    """The JSON scalar a score column holds."""

    TEXT = "text"
    INTEGER = "integer"
    DECIMAL = "decimal"
    FLAG = "flag"


# Whole numbers as 64-bit, decimals as doubles: what Parquet and the CSV reader round-trip.
_SPARK_TYPES: dict[ColumnType, Callable[[], spark_types.DataType]] = {
    ColumnType.TEXT: spark_types.StringType,
    ColumnType.INTEGER: spark_types.LongType,
    ColumnType.DECIMAL: spark_types.DoubleType,
    ColumnType.FLAG: spark_types.BooleanType,
}


@dataclass(frozen=True)
class ScoreColumn:
    """One column a scoring function fills for every patient (null where it has no value)."""

    name: str
    type: ColumnType


@dataclass(frozen=True)
class PopulationSummary:
    """What a scoring run read and wrote."""

    patients_scored: int
    resources_read: int
    # Neither a patient's nor shared between patients (a Medication): left out.
    resources_without_patient: int
    # Medications, joined to the chart of each patient whose orders name them.
    shared_resources: int
    # Patients whose resources name them but whose Patient resource is not in the export.
    patients_without_patient_resource: int
    scores_parquet: Path
    work_list_csv: Path


# The top-level members the keys are read from. Each line's JSON is parsed once, by
# json_tuple: read with get_json_object, the whole resource was parsed again for every member
# and every branch of the key, most of the JVM's CPU in a run (bench/population.py).
RESOURCE_TYPE, RESOURCE_ID, MEDICATION_REFERENCE = "resourceType", "id", "medicationReference"
_MEMBERS = (
    RESOURCE_TYPE,
    RESOURCE_ID,
    *sorted(set(PATIENT_ELEMENT.values())),
    MEDICATION_REFERENCE,
)


def with_members(lines: DataFrame) -> DataFrame:
    """The lines (`value`: a resource's JSON) with the top-level members the keys need, as
    text columns (a member that is an object, as JSON text; absent, null)."""
    return lines.select("value", sql.json_tuple("value", *_MEMBERS).alias(*_MEMBERS))


def patient_key() -> Column:
    """The patient id a resource names (its own id for a Patient), null when it names none;
    from the columns of `with_members`."""
    resource_type = sql.col(RESOURCE_TYPE)
    reference: Column = sql.lit(None).cast("string")
    for element_type, element in PATIENT_ELEMENT.items():
        reference = sql.when(
            resource_type == element_type, sql.get_json_object(sql.col(element), "$.reference")
        ).otherwise(reference)
    linked = sql.regexp_extract(reference, _PATIENT_REFERENCE_JAVA, 1)
    key = sql.when(resource_type == PATIENT, sql.col(RESOURCE_ID)).otherwise(linked)
    return sql.when(key != "", key)


def _keyed_resources(session: SparkSession, export: str) -> DataFrame:
    """One row a resource: its patient id (or null), whether it is the Patient, its JSON text."""
    if "://" in export:
        # An object store: its listing is Spark's (Hadoop's) to make.
        sources = [f"{export.rstrip('/')}/{NDJSON_GLOB}"]
    else:
        # Files named one by one: a glob makes Spark look for (and warn of) no streaming metadata.
        sources = [str(path) for path in sorted(Path(export).glob(NDJSON_GLOB))]
        if not sources:
            raise ExportNotFound(f"no {NDJSON_GLOB} file in the export folder {export}")
    try:
        lines = session.read.text(sources)
    except PySparkException as exc:
        raise ExportNotFound(f"no {NDJSON_GLOB} file in the export folder {export}") from exc
    resources = with_members(lines.where(sql.trim("value") != ""))
    resource_type, own_id = sql.col(RESOURCE_TYPE), sql.col(RESOURCE_ID)
    return resources.select(
        patient_key().alias(PATIENT_ID_COLUMN),
        sql.coalesce(resource_type == PATIENT, sql.lit(False)).alias("is_patient"),
        sql.when(
            resource_type.isin(*sorted(SHARED_RESOURCES)) & (own_id != ""),
            sql.concat(resource_type, sql.lit("/"), own_id),
        ).alias("shared_as"),
        _medication_named(resource_type).alias("names_medication"),
        "value",
    )


def _medication_named(resource_type: Column) -> Column:
    """The `Medication/{id}` an order or statement names by reference, else null."""
    reference = sql.regexp_replace(
        sql.get_json_object(sql.col(MEDICATION_REFERENCE), "$.reference"), "(?s)/_history/.*", ""
    )
    named = reference.startswith(f"{MEDICATION}/") & resource_type.isin(*_MEDICATION_USES)
    return sql.when(named, reference)


def _count_resources(keyed: DataFrame) -> tuple[int, int, int, int]:
    """Resources read, resources of no patient (nor shared), shared resources, and patients
    without a Patient resource."""
    per_patient = keyed.groupBy(PATIENT_ID_COLUMN).agg(
        sql.count(sql.lit(1)).alias("resources"),
        sql.count("shared_as").alias("shared"),
        sql.max("is_patient").alias("has_patient"),
    )
    linked = sql.col(PATIENT_ID_COLUMN).isNotNull()
    unlinked = sql.col("resources") - sql.col("shared")
    totals = per_patient.agg(
        sql.coalesce(sql.sum("resources"), sql.lit(0)).alias("read"),
        sql.coalesce(sql.sum(sql.when(~linked, unlinked)), sql.lit(0)).alias("none"),
        sql.coalesce(sql.sum(sql.when(~linked, sql.col("shared"))), sql.lit(0)).alias("shared"),
        sql.count(sql.when(linked & ~sql.col("has_patient"), sql.lit(1))).alias("orphans"),
    ).first()
    assert totals is not None  # a global aggregate always has its one row
    return (
        int(totals["read"]),
        int(totals["none"]),
        int(totals["shared"]),
        int(totals["orphans"]),
    )


def _charts(keyed: DataFrame) -> DataFrame:
    """Each patient with a Patient resource: the id and the resources' JSON text (with each
    Medication the patient's orders name, once), Patient first and the rest in text order, so
    that a run's input to the scorer is reproducible."""
    own = keyed.where(sql.col(PATIENT_ID_COLUMN).isNotNull())
    # A Medication exported twice under one id is taken once (the greater text, reproducibly).
    shared = keyed.where(sql.col(PATIENT_ID_COLUMN).isNull() & sql.col("shared_as").isNotNull())
    shared = shared.groupBy("shared_as").agg(sql.max("value").alias("value"))
    named = own.where(sql.col("names_medication").isNotNull()).select(
        PATIENT_ID_COLUMN, sql.col("names_medication").alias("shared_as")
    )
    medications = (
        named.distinct()
        .join(shared, "shared_as")
        .select(PATIENT_ID_COLUMN, sql.lit(False).alias("is_patient"), "value")
    )
    charts = own.select(PATIENT_ID_COLUMN, "is_patient", "value").unionByName(medications)
    entry = sql.struct((~sql.col("is_patient")).alias("after_patient"), sql.col("value"))
    return (
        charts.groupBy(PATIENT_ID_COLUMN)
        .agg(
            sql.sort_array(sql.collect_list(entry)).alias("entries"),
            sql.max("is_patient").alias("has_patient"),
        )
        .where("has_patient")
        .select(PATIENT_ID_COLUMN, sql.col("entries.value").alias("resources"))
    )


def _checked_value(column: ScoreColumn, value: object) -> ScoreValue:
    """The value as the column's type holds it; ScoreRowInvalid when it is another kind."""
    kind = column.type
    # bool before int: to Python a flag is an int, but a flag is no count and a count no flag.
    if value is None or (isinstance(value, bool) and kind is ColumnType.FLAG):
        return value
    if isinstance(value, str) and kind is ColumnType.TEXT:
        return value
    if isinstance(value, int) and not isinstance(value, bool) and kind is ColumnType.INTEGER:
        return value
    if (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and kind is ColumnType.DECIMAL
    ):
        return float(value)
    raise ScoreRowInvalid(
        f"column {column.name!r} holds {kind.name.lower()}, not {type(value).__name__}"
    )


def score_row(
    score: ScoreFunction, columns: Sequence[ScoreColumn], patient_id: str, resources: list[Resource]
) -> tuple[ScoreValue, ...]:
    """The patient's row: the id, then each column of what `score` gives, checked."""
    scored = dict(score(patient_id, resources))
    if scored.pop(PATIENT_ID_COLUMN, patient_id) != patient_id:
        raise ScoreRowInvalid("the scoring function gave a row of another patient")
    unknown = set(scored) - {column.name for column in columns}
    if unknown:
        raise ScoreRowInvalid(f"the scoring function gave undeclared columns {sorted(unknown)}")
    return (patient_id, *(_checked_value(column, scored.get(column.name)) for column in columns))


def _score_partition(
    score: ScoreFunction, columns: Sequence[ScoreColumn], charts: Iterable[Row]
) -> Iterator[tuple[ScoreValue, ...]]:
    """The rows of one partition's patients (runs in an executor's Python worker)."""
    for chart in charts:
        resources = [json.loads(text) for text in chart["resources"]]
        yield score_row(score, columns, chart[PATIENT_ID_COLUMN], resources)


def _schema(columns: Sequence[ScoreColumn]) -> spark_types.StructType:
    """The score table's schema: the patient id, then the declared columns."""
    fields = [spark_types.StructField(PATIENT_ID_COLUMN, spark_types.StringType(), False)]
    fields += [
        spark_types.StructField(column.name, _SPARK_TYPES[column.type](), True)
        for column in columns
    ]
    return spark_types.StructType(fields)


def _require_top_level(score: Callable[..., object]) -> None:
    """Refuse a lambda, a nested function or a bound method: Spark would pickle it by value,
    with its closure or instance, into every task, and its caches would not be the module's.
    A `functools.partial` of a top-level function (to pass a run date, say) is accepted."""
    if isinstance(score, partial):
        _require_top_level(score.func)
        return
    qualname = getattr(score, "__qualname__", "")
    if not isinstance(score, FunctionType) or "<" in qualname or "." in qualname:
        raise ScoreRowInvalid(
            "the scoring function must be a top-level function of an importable module"
        )


def _write_work_list(session: SparkSession, scores: Path, output_dir: Path) -> Path:
    """The score table as one CSV file with a header, sorted by patient id."""
    parts = output_dir / f"{WORK_LIST_CSV}.parts"
    # One task reads the (small) score table and sorts it: no shuffle, and the file's order does
    # not depend on how partitions would merge.
    (
        session.read.parquet(str(scores))
        .coalesce(1)
        .sortWithinPartitions(PATIENT_ID_COLUMN)
        .write.option("header", True)
        # A quote inside a quoted text doubled (RFC 4180), as spreadsheets and Python's csv
        # read it; Spark's own default escapes it with a backslash, which they misread.
        .option("escape", '"')
        .csv(str(parts))
    )
    (part,) = parts.glob("part-*.csv")
    work_list = output_dir / WORK_LIST_CSV
    part.replace(work_list)
    shutil.rmtree(parts)
    return work_list


def score_export(
    session: SparkSession,
    export: str | Path,
    output_dir: Path,
    score: ScoreFunction,
    columns: Sequence[ScoreColumn],
    *,
    replace: bool = False,
) -> PopulationSummary:
    """Score every patient of a Bulk Data export with `score` and write the score table
    (`scores.parquet`) and the work list (`worklist.csv`) into `output_dir`."""
    _require_top_level(score)
    declared = [column.name for column in columns]
    if PATIENT_ID_COLUMN in declared or len(set(declared)) != len(declared):
        raise ScoreRowInvalid(f"columns must be unique and not {PATIENT_ID_COLUMN!r}: {declared}")
    scores = output_dir / SCORES_PARQUET
    work_list = output_dir / WORK_LIST_CSV
    for existing in (scores, work_list, output_dir / f"{WORK_LIST_CSV}.parts"):
        if existing.exists():
            if not replace:
                raise OutputExists(f"{existing} exists (replace it with replace=True)")
            if existing.is_dir():
                shutil.rmtree(existing)
            else:
                existing.unlink()
    output_dir.mkdir(parents=True, exist_ok=True)
    try:
        keyed = _keyed_resources(session, str(export))
        read, unlinked, shared, orphans = _count_resources(keyed)
        rows = _charts(keyed).rdd.mapPartitions(partial(_score_partition, score, tuple(columns)))
        table = session.createDataFrame(rows, _schema(columns), verifySchema=False)
        table.write.parquet(str(scores))
        scored = session.read.parquet(str(scores)).count()
        _write_work_list(session, scores, output_dir)
    except PySparkException as exc:
        raise ScoringFailed("the population scoring job failed; the cause is chained") from exc
    return PopulationSummary(
        patients_scored=scored,
        resources_read=read,
        resources_without_patient=unlinked,
        shared_resources=shared,
        patients_without_patient_resource=orphans,
        scores_parquet=scores,
        work_list_csv=work_list,
    )
