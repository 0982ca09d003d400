"""Starting Apache Spark for the population job: local by default, any master URL by choice.

A local master (`local`, `local[N]`, `local[*]`) runs the driver and the executors in one JVM
bound to 127.0.0.1, with no web UI, so nothing listens beyond the loopback address and nothing
reaches the network; its scratch files (shuffle, spill, temp, the log settings) stay in a folder
of the caller's, and its Python workers run this interpreter. A cluster master
(`spark://host:7077`, ...) gets the driver address the caller names.

    PopulationJobError       (the root of cds_service.population.spark_job's errors too)
    └── SparkUnavailable     Spark's Java runtime did not start (Java 17+ is needed)
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

# Said wherever pyspark is missing: the base install has no Spark.
POPULATION_EXTRA_MISSING = (
    "population scoring needs the [population] extra (pip install 'cdss[population]') "
    "and a Java 17+ runtime"
)

try:
    from pyspark.errors import PySparkException
    from pyspark.sql import SparkSession
except ImportError as exc:  # pragma: no cover - the base install has no pyspark
    raise ImportError(POPULATION_EXTRA_MISSING) from exc

LOCAL_MASTER = "local[*]"
LOOPBACK = "127.0.0.1"

# Two tasks a core keeps a small machine busy without hundreds of tiny shuffle files; a cluster
# keeps Spark's own default (or the settings of spark-defaults.conf).
_TASKS_PER_CORE = 2
_LOCAL_MASTER_FORM = re.compile(r"local(?:\[(?P<threads>\d+|\*)(?:,\d+)?\])?")

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


class PopulationJobError(Exception):
    """Root of the population job's errors."""


class SparkUnavailable(PopulationJobError):
    """Spark could not start its Java runtime."""


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
