"""`cdss population`: panel-wide work over FHIR Bulk Data (export a population, score it on
Spark). Each command imports what it needs when it runs, so that `cdss --help` stays fast and
the base install, without the [population] extra, still starts."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import click

from cds_service.cli_options import config_option, settings_from
from cds_service.settings import ConfigurationError


@click.group()
def population() -> None:
    """Panel-wide work over FHIR Bulk Data: export the population, then score it."""


@population.command("export")
@click.option("--fhir", "fhir_url", required=True, help="The FHIR server's base URL.")
@click.option(
    "--output",
    "output_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder for the NDJSON files and manifest.json (new, or without an earlier export).",
)
@click.option("--group", default=None, help="Export only this Group's members (Group/ID/$export).")
@click.option("--type", "types", default="", help="Resource types, comma-separated (default: all).")
@click.option("--since", default=None, help="Only resources changed since this FHIR instant.")
@click.option(
    "--token",
    envvar="CDSS_BULK_TOKEN",
    show_envvar=True,
    default=None,
    help="Bearer token for the FHIR server (the variable keeps it off the process list).",
)
@click.option(
    "--timeout",
    "timeout_seconds",
    type=click.FloatRange(min=0, min_open=True),
    default=3600.0,
    show_default=True,
    help="Seconds the server may take to finish the export.",
)
def population_export(
    fhir_url: str,
    output_dir: Path,
    group: str | None,
    types: str,
    since: str | None,
    token: str | None,
    timeout_seconds: float,
) -> None:
    """Run a FHIR Bulk Data $export and download its NDJSON files into --output."""
    import re

    import httpx

    from fhir_adapters.bulk_export import BulkExportClient
    from fhir_adapters.bulk_manifest import BulkExportError, BulkExportRequest, BulkProgress

    # httpx logs every URL at INFO; a status or file URL may carry a signed credential.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    resource_types = tuple(name.strip() for name in types.split(",") if name.strip())
    if not all(name.isalpha() for name in resource_types):
        raise click.BadParameter(
            "resource types are names such as Patient,Observation", param_hint="--type"
        )
    # A FHIR id (the Group's) goes into the URL path; nothing else may.
    if group is not None and not re.fullmatch(r"[A-Za-z0-9\-.]{1,64}", group):
        raise click.BadParameter("not a FHIR id", param_hint="--group")

    def show(progress: BulkProgress) -> None:
        if progress.files_total:
            megabytes = progress.bytes_done / 1_000_000
            line = (
                f"downloaded {progress.files_done}/{progress.files_total} files, {megabytes:.1f} MB"
            )
        else:
            line = f"export running: status poll {progress.polls} {progress.server_progress}"
        click.echo("\r" + line[:78].ljust(78), err=True, nl=False)

    request = BulkExportRequest(
        fhir_url, group, resource_types, since, token, time_limit_seconds=timeout_seconds
    )
    try:
        with httpx.Client(timeout=60.0) as http:
            result = BulkExportClient(http).export(request, output_dir, show)
    except BulkExportError as exc:
        click.echo(err=True)
        raise click.ClickException(str(exc)) from None
    click.echo(err=True)
    for resource_type, count in sorted(result.resources_by_type().items()):
        click.echo(f"{resource_type}: {count}")
    click.echo(f"wrote {len(result.files)} NDJSON files, listed in {result.manifest_path}")


@population.command("score")
@click.option(
    "--input",
    "export",
    required=True,
    help="The export: a folder of NDJSON files, or any path Spark reads (s3a://, hdfs://).",
)
@click.option(
    "--output",
    "output_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder for scores.parquet, worklist.csv and report.html.",
)
@click.option(
    "--master",
    default="local[*]",
    show_default=True,
    help="Spark master URL: local[*], local[N], or a cluster's (spark://host:7077).",
)
@click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The date the panel is scored on, as a hook call on that day (default: today, UTC).",
)
@config_option
@click.option("--replace", is_flag=True, help="Overwrite an earlier run's outputs in --output.")
@click.option(
    "--driver-host",
    default=None,
    help="The address executors reach this machine at (a cluster master only).",
)
@click.option(
    "--conf",
    "spark_conf",
    multiple=True,
    metavar="KEY=VALUE",
    help="A further Spark setting (spark.executor.memory=8g, ...); may be repeated.",
)
@click.option(
    "--scratch",
    "scratch_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for Spark's scratch files (default: a temporary folder, removed after).",
)
def population_score(
    export: str,
    output_dir: Path,
    master: str,
    as_of: datetime | None,
    config_file: Path | None,
    replace: bool,
    driver_host: str | None,
    spark_conf: tuple[str, ...],
    scratch_dir: Path | None,
) -> None:
    """Score every patient of a Bulk Data export on Spark as patient-view would: the work list."""
    import tempfile

    try:
        from cds_service.population import batch
        from cds_service.population.report import WorkListUnreadable
        from cds_service.population.spark_session import PopulationJobError
    except ImportError as exc:
        # The base install has no pyspark: the message names the extra to install.
        raise click.ClickException(str(exc)) from None
    # py4j logs its connections at INFO; they say nothing a user acts on.
    logging.getLogger("py4j").setLevel(logging.WARNING)
    options = {}
    for setting in spark_conf:
        key, equals, value = setting.partition("=")
        if not equals or not key.startswith("spark."):
            raise click.BadParameter("give KEY=VALUE with a spark.* key", param_hint="--conf")
        options[key] = value
    settings = settings_from(config_file)
    run_date = as_of.date() if as_of is not None else datetime.now(UTC).date()
    with tempfile.TemporaryDirectory(prefix="cdss-spark-", dir=scratch_dir) as scratch:
        job = batch.ScoreRun(
            export=export,
            output_dir=output_dir,
            as_of=run_date,
            scratch_dir=Path(scratch),
            master=master,
            driver_host=driver_host,
            replace=replace,
            spark_options=options,
        )
        try:
            result = batch.run(job, settings)
        except (PopulationJobError, WorkListUnreadable, ConfigurationError, OSError) as exc:
            raise click.ClickException(str(exc)) from None
    for line in batch.describe(result):
        click.echo(line)
