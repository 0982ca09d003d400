"""The `cdss` command: run the service, migrate its database, make keys and tokens for testing."""

from __future__ import annotations

import json
import logging
import secrets
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from cds_service.admin.access import token_digest
from cds_service.auth.signing import generate_signing_key, public_key_set, sign_cds_token
from cds_service.components import JWT_CHECKS_OFF_WARNING, load_shared_models
from cds_service.privacy import load_or_create_patient_key
from cds_service.settings import SIGNING_ALGORITHMS, ConfigurationError, Settings, load_settings
from cds_service.storage.database import create_database_engine, migrate

log = logging.getLogger("cdss")

config_option = click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="TOML configuration file (default: $CDSS_CONFIG, else built-in defaults).",
)


def _settings(config_file: Path | None) -> Settings:
    try:
        return load_settings(config_file)
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from None


def prepare(settings: Settings) -> None:
    """What must happen once before workers start: the schema migrated, the patient key made."""
    engine = create_database_engine(settings.storage.database_url)
    try:
        migrate(engine)
    finally:
        engine.dispose()
    load_or_create_patient_key(settings.privacy.patient_key_file, settings.privacy.patient_key)


@click.group()
def main() -> None:
    """A CDS Hooks 2.0 service for diabetes and hypertension risk and note summaries."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


@main.command()
@click.option("--host", default=None, help="Address to listen on (default: [server] host).")
@click.option("--port", type=int, default=None, help="Port to listen on (default: [server] port).")
@click.option(
    "--workers", type=int, default=None, help="Worker processes (default: [server] workers)."
)
@config_option
def serve(
    host: str | None, port: int | None, workers: int | None, config_file: Path | None
) -> None:
    """Run the production server (gunicorn; its workers share the models loaded once)."""
    from cds_service.server import run_gunicorn  # gunicorn is needed only here

    settings = _settings(config_file)
    server = settings.server.model_copy(
        update={
            key: value
            for key, value in {"host": host, "port": port, "workers": workers}.items()
            if value is not None
        }
    )
    try:
        # Validated again: a command-line host is held to the same rules as a configured one
        # (sandbox trust only on loopback, unless the data is synthetic).
        settings = Settings.model_validate({**settings.model_dump(), "server": server.model_dump()})
    except ValidationError as exc:
        raise click.ClickException(str(exc)) from None
    if not settings.auth.verify_jwt:
        log.warning(JWT_CHECKS_OFF_WARNING)
    try:
        shared = load_shared_models(settings)
        prepare(settings)
    except (ConfigurationError, ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    run_gunicorn(settings, shared)


models_option = click.option(
    "--models",
    "models_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory of model artifacts (default: the ones shipped in the package).",
)


@main.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to write artifacts, metrics and model cards (default: the package's own).",
)
def train(out_dir: Path | None) -> None:
    """Rebuild every model from NHANES 2017-18: artifacts, metrics.json and model cards."""
    pipeline = _training_pipeline()
    pipeline.train_all(out_dir or pipeline.SHIPPED_DIRECTORY, click.echo)


@main.command()
@click.option(
    "--json",
    "json_file",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Where to write the evaluation document.",
)
@models_option
def evaluate(json_file: Path, models_dir: Path | None) -> None:
    """Score the artifacts on the held-out NHANES rows, against the baselines."""
    from models.artifacts import ArtifactError

    pipeline = _training_pipeline()
    try:
        metrics = pipeline.evaluate_all(models_dir or pipeline.SHIPPED_DIRECTORY)
    except ArtifactError as exc:
        raise click.ClickException(str(exc)) from None
    json_file.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    for name, item in metrics["models"].items():
        low, high = item["auroc_ci"]
        click.echo(
            f"{name}: {item['kind']}, AUROC {item['auroc']:.3f} ({low:.3f}-{high:.3f}), "
            f"calibration slope {item['calibration_slope']:.2f}, "
            f"intercept {item['calibration_intercept']:+.2f}"
        )
        for baseline, figures in item["baselines"].items():
            click.echo(f"  {baseline}: AUROC {figures['auroc']:.3f}")
    click.echo(f"wrote {json_file}")


def _training_pipeline() -> Any:
    # The learners and the survey data are an extra: the service itself runs without them.
    try:
        from models.training import pipeline
    except ImportError as exc:
        raise click.ClickException(
            f"training needs the [train] extra (pip install 'cdss[train]'): {exc}"
        ) from None
    return pipeline


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@config_option
def db_upgrade(config_file: Path | None) -> None:
    """Apply every pending schema migration."""
    prepare(_settings(config_file))
    click.echo("database is up to date")


@main.group()
def keys() -> None:
    """Signing keys for a local EHR (to call this service the way an EHR does)."""


@keys.command("generate")
@click.option(
    "--algorithm", type=click.Choice(SIGNING_ALGORITHMS), default="ES384", show_default=True
)
@click.option("--kid", default=None, help="Key id (default: a random UUID).")
@click.option(
    "--private", "private_file", type=click.Path(dir_okay=False, path_type=Path), required=True
)
@click.option("--jwks", "jwks_file", type=click.Path(dir_okay=False, path_type=Path), required=True)
def keys_generate(algorithm: str, kid: str | None, private_file: Path, jwks_file: Path) -> None:
    """Write a private JWK (keep it secret) and the public JWK Set the service trusts."""
    private_jwk = generate_signing_key(algorithm, kid)
    private_file.parent.mkdir(parents=True, exist_ok=True)
    private_file.touch(mode=0o600, exist_ok=False)
    private_file.write_text(json.dumps(private_jwk, indent=2) + "\n", encoding="utf-8")
    jwks_file.write_text(json.dumps(public_key_set(private_jwk), indent=2) + "\n", encoding="utf-8")
    click.echo(f"private key: {private_file}\npublic key set: {jwks_file}")


@main.command()
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("var/demo"),
    show_default=True,
    help="Where the demo keeps its database, keys and logs.",
)
@click.option("--ehr-port", type=int, default=8090, show_default=True)
@click.option("--cds-port", type=int, default=8080, show_default=True)
@click.option("--fhir-port", type=int, default=8091, show_default=True)
def demo(workdir: Path, ehr_port: int, cds_port: int, fhir_port: int) -> None:
    """Try it locally: synthetic patients, the service, and a small EHR that calls it."""
    try:
        from demo_ehr.runner import DemoPorts, run_demo
    except ImportError as exc:
        raise click.ClickException(
            f"the demo needs the [demo] extra (pip install 'cdss[demo]'): {exc}"
        ) from None
    try:
        run_demo(workdir, DemoPorts(ehr=ehr_port, cds=cds_port, fhir=fhir_port), click.echo)
    except (RuntimeError, OSError) as exc:
        raise click.ClickException(str(exc)) from None


@main.group()
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
    settings = _settings(config_file)
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


@main.command("admin-token")
def admin_token() -> None:
    """Make an admin token: give the token to the administrator, its digest to the config."""
    secret = secrets.token_urlsafe(32)
    click.echo(f"token:  {secret}\nsha256: {token_digest(secret)}")
    click.echo("Add the digest to [admin] token_sha256; the token itself is not stored anywhere.")


@main.command()
@click.option(
    "--key", "key_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True
)
@click.option("--iss", "issuer", required=True, help="The issuer the service trusts for this key.")
@click.option("--aud", "audience", required=True, help="The exact URL that will be called.")
@click.option(
    "--lifetime", type=int, default=300, show_default=True, help="Seconds until it expires."
)
@click.option("--tenant", default=None)
def token(key_file: Path, issuer: str, audience: str, lifetime: int, tenant: str | None) -> None:
    """Print a CDS Hooks JWT for one call (its jti is single-use: one token, one call)."""
    private_jwk = json.loads(key_file.read_text(encoding="utf-8"))
    click.echo(
        sign_cds_token(
            private_jwk, issuer=issuer, audience=audience, lifetime_seconds=lifetime, tenant=tenant
        )
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
