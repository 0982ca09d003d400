"""Scoring a FHIR Bulk Data export on Apache Spark: every patient of the panel, in the executors.

`spark_session` starts Spark, local by default (`local[*]`, bound to 127.0.0.1, no UI, its
scratch files in a folder of the caller's) or on any master URL. `score_export` reads the
export's NDJSON files, keys each resource by its patient in the JVM, groups each patient's
resources together with the Medications its orders name, as `export_files` does for the
single-process loop (the population is never collected to the driver), calls the injected
scoring function once per patient in the executors, and writes the rows as Parquet and as one
CSV work list.

The scoring function must be a top-level function of an importable module: Spark then pickles
it by name, so each executor's Python process imports its module once and whatever that module
caches at module level (models, value sets) is loaded once per process, not once per task.

    PopulationJobError
    ├── SparkUnavailable   Spark's Java runtime did not start (Java 17+ is needed)
    ├── ExportNotFound     no NDJSON file in the export folder
    ├── OutputExists       the output folder already holds a score table or a work list
    ├── ScoreRowInvalid    a scoring function's row misses a column or has the wrong type
    └── ScoringFailed      a Spark job failed (an executor's error, chained)

Messages name files and columns, never a patient id or a resource's content.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from functools import partial
from pathlib import Path
from types import FunctionType

from cds_service.population.export_files import MEDICATION
from fhir_adapters.fhir_values import Resource
from fhir_adapters.patient_links import PATIENT, PATIENT_ELEMENT, SHARED_RESOURCES

try:
    from pyspark.errors import PySparkException
    from pyspark.sql import Column, DataFrame, Row, SparkSession
    from pyspark.sql import functions as sql
    from pyspark.sql import types as spark_types
except ImportError as exc:  # pragma: no cover - the base install has no pyspark
    raise ImportError(
        "population scoring needs the [population] extra (pip install 'cdss[population]') "
        "and a Java 17+ runtime"
    ) from exc

LOCAL_MASTER = "local[*]"
LOOPBACK = "127.0.0.1"
NDJSON_GLOB = "*.ndjson"
PATIENT_ID_COLUMN = "patient_id"
SCORES_PARQUET = "scores.parquet"
WORK_LIST_CSV = "worklist.csv"
# Two tasks a core keeps a small machine busy without hundreds of tiny shuffle files; a cluster
# keeps Spark's own default (or the settings of spark-defaults.conf).
_TASKS_PER_CORE = 2
_LOCAL_MASTER_FORM = re.compile(r"local(?:\[(?P<threads>\d+|\*)(?:,\d+)?\])?")
# A relative literal reference to a Patient, as fhir_adapters.patient_links reads it (a test
# holds the two equal); in Java's regex dialect, `\z` so that a trailing newline does not match.
_PATIENT_REFERENCE_JAVA = rf"^{PATIENT}/([^/?#\s]+)(?:/_history/[^/?#\s]+)?\z"
# What names a shared Medication, as cds_service.population.export_files reads it (a test holds
# Spark's charts equal to its grouping).
_MEDICATION_USES = ("MedicationRequest", "MedicationStatement")
# Spark's startup lines at WARN (loopback host name, no native Hadoop) say nothing a user acts on.
_LOG4J2_PROPERTIES = """\
rootLogger.level = {level}
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{{HH:mm:ss}} %p %c{{1}}: %m%n
logger.host.name = org.apache.spark.util.Utils
logger.host.level = error
logger.hadoop.name = org.apache.hadoop.util.NativeCodeLoader
logger.hadoop.level = error
"""

ScoreValue = str | int | float | bool | None
# (patient id, the patient's resources) -> the patient's row; a `patient_id` key, if the row
# has one, must be that patient's.
ScoreFunction = Callable[[str, list[Resource]], Mapping[str, object]]


class PopulationJobError(Exception):
    """Root of the population job's errors."""


class SparkUnavailable(PopulationJobError):
    """Spark could not start its Java runtime."""


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
class SparkSettings:
    """Where Spark runs and where it keeps its scratch files."""

    work_dir: Path
    master: str = LOCAL_MASTER
    # The address executors reach the driver at; local masters use the loopback address.
    driver_host: str | None = None
    shuffle_partitions: int | None = None
    driver_memory: str | None = None
    log_level: str = "WARN"
    app_name: str = "cdss-population"
    # Any further Spark settings (spark.executor.memory, spark.executor.cores, ...), applied last.
    options: Mapping[str, str] = field(default_factory=dict)


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


def is_local_master(master: str) -> bool:
    """Whether the master URL runs Spark inside this process (`local`, `local[N]`, `local[*]`)."""
    return _LOCAL_MASTER_FORM.fullmatch(master) is not None


def default_shuffle_partitions(master: str) -> int | None:
    """Shuffle partitions for a local master (two a core), or None to keep Spark's default."""
    form = _LOCAL_MASTER_FORM.fullmatch(master)
    if form is None:
        return None
    threads = form.group("threads")
    if threads is None:
        cores = 1
    elif threads == "*":
        cores = os.cpu_count() or 1
    else:
        cores = max(1, int(threads))
    return cores * _TASKS_PER_CORE


def _session_options(settings: SparkSettings) -> dict[str, str]:
    """The Spark configuration a session starts with."""
    work_dir = settings.work_dir.resolve()
    options = {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.catalogImplementation": "in-memory",
        "spark.sql.session.timeZone": "UTC",
        # A Python worker lives on between tasks, so what a scoring module caches is loaded once.
        "spark.python.worker.reuse": "true",
        "spark.local.dir": str(work_dir / "local"),
        "spark.sql.warehouse.dir": str(work_dir / "warehouse"),
        "spark.driver.extraJavaOptions": (
            f"-Djava.io.tmpdir={work_dir / 'tmp'} "
            f"-Dlog4j2.configurationFile=file:{work_dir / 'log4j2.properties'}"
        ),
    }
    driver_host = settings.driver_host
    if driver_host is None and is_local_master(settings.master):
        driver_host = LOOPBACK
    if driver_host is not None:
        options["spark.driver.host"] = driver_host
        options["spark.driver.bindAddress"] = driver_host
    partitions = settings.shuffle_partitions or default_shuffle_partitions(settings.master)
    if partitions is not None:
        options["spark.sql.shuffle.partitions"] = str(partitions)
        options["spark.default.parallelism"] = str(partitions)
    if settings.driver_memory is not None:
        options["spark.driver.memory"] = settings.driver_memory
    return {**options, **settings.options}


@contextmanager
def spark_session(settings: SparkSettings) -> Iterator[SparkSession]:
    """A Spark session started with `settings`, stopped when the block ends.

    The JVM is started once a process: its options (driver memory, temp folder, log settings)
    are those of the process's first session; later sessions reuse it."""
    if SparkSession.getActiveSession() is not None:
        # getOrCreate would hand back that session with its own settings, silently.
        raise SparkUnavailable("a Spark session is already running in this process")
    for folder in ("local", "warehouse", "tmp"):
        (settings.work_dir / folder).mkdir(parents=True, exist_ok=True)
    (settings.work_dir / "log4j2.properties").write_text(
        _LOG4J2_PROPERTIES.format(level=settings.log_level.lower()), encoding="utf-8"
    )
    builder = SparkSession.builder.master(settings.master).appName(settings.app_name)
    for key, value in _session_options(settings).items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except PySparkException as exc:
        raise SparkUnavailable(
            "Spark did not start: it needs a Java 17+ runtime (scripts/install-system.sh)"
        ) from exc
    try:
        session.sparkContext.setLogLevel(settings.log_level)
        if is_local_master(settings.master):
            # Local executors start Python workers with `python3` from PATH unless told; this
            # interpreter is the one that has the project and its scoring modules.
            session.sparkContext.pythonExec = sys.executable
        yield session
    finally:
        session.stop()


def patient_key(resource_type: Column) -> Column:
    """The patient id a resource names (its own id for a Patient), null when it names none."""
    reference: Column = sql.lit(None).cast("string")
    for element_type, element in PATIENT_ELEMENT.items():
        reference = sql.when(
            resource_type == element_type, sql.get_json_object("value", f"$.{element}.reference")
        ).otherwise(reference)
    linked = sql.regexp_extract(reference, _PATIENT_REFERENCE_JAVA, 1)
    own_id = sql.get_json_object("value", "$.id")
    key = sql.when(resource_type == PATIENT, own_id).otherwise(linked)
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
    resources = lines.where(sql.trim("value") != "")
    resource_type = sql.get_json_object("value", "$.resourceType")
    own_id = sql.get_json_object("value", "$.id")
    return resources.select(
        patient_key(resource_type).alias(PATIENT_ID_COLUMN),
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
        sql.get_json_object("value", "$.medicationReference.reference"), "(?s)/_history/.*", ""
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
