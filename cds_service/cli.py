"""The `cdss` command: run the service, migrate its database, make keys and tokens for testing.

Each command imports what it needs when it runs: the models, the database layer and the web
app take seconds to import, and `cdss --help` or `cdss token` need none of them
(tests/cds_service/test_cli_imports.py holds the line).
"""

from __future__ import annotations

import json
import logging
import secrets
import sys
from pathlib import Path
from typing import Any

import click

from cds_service.cli_options import config_option, settings_from
from cds_service.population.commands import population
from cds_service.settings import (
    ENV_CONFIG_FILE,
    SIGNING_ALGORITHMS,
    ConfigurationError,
    Settings,
)

log = logging.getLogger("cdss")


def prepare(settings: Settings) -> None:
    """What must happen once before workers start: the schema migrated, the patient key made."""
    from cds_service.privacy import load_or_create_patient_key
    from cds_service.storage.database import create_database_engine, migrate

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
    # Alembic announces each of its plugins at INFO when first imported, which the commands now
    # do after logging is set up; its migration lines ("Running upgrade ...") stay.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


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
    from pydantic import ValidationError

    from cds_service.components import JWT_CHECKS_OFF_WARNING, load_shared_models
    from cds_service.server import run_gunicorn

    settings = settings_from(config_file)
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
    prepare(settings_from(config_file))
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
    from cds_service.auth.signing import generate_signing_key, public_key_set

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
    from cds_service.doctor_install import DEMO_INSTALL, missing_demo_parts

    missing = missing_demo_parts()
    if missing:
        raise click.ClickException(
            f"the demo needs the [demo] extra: {DEMO_INSTALL}; not installed: {', '.join(missing)}"
        )
    from demo_ehr.runner import DemoPorts, run_demo

    try:
        run_demo(workdir, DemoPorts(ehr=ehr_port, cds=cds_port, fhir=fhir_port), click.echo)
    except (RuntimeError, OSError) as exc:
        raise click.ClickException(str(exc)) from None


main.add_command(population)


@main.command("admin-token")
def admin_token() -> None:
    """Make an admin token: give the token to the administrator, its digest to the config."""
    from cds_service.access_settings import token_digest

    secret = secrets.token_urlsafe(32)
    click.echo(f"token:  {secret}\nsha256: {token_digest(secret)}")
    click.echo("Add the digest to [admin] token_sha256; the token itself is not stored anywhere.")


@main.command()
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    # Click reads $CDSS_CONFIG here, so the report can say which of the two named the file.
    envvar=ENV_CONFIG_FILE,
    help="TOML configuration file (default: $CDSS_CONFIG, else built-in defaults).",
)
@click.option(
    "--online", is_flag=True, help="Also fetch each issuer's jwks_url (a 3-second timeout)."
)
def doctor(config_file: Path | None, online: bool) -> None:
    """Say what is installed and configured, and what to do next (exit 1: serve would fail)."""
    from click.core import ParameterSource

    from cds_service.doctor import ConfigurationSource, examine, render

    context = click.get_current_context()
    named_by = context.get_parameter_source("config_file")
    source = ConfigurationSource(
        config_file, from_environment=named_by is ParameterSource.ENVIRONMENT
    )
    report = examine(source, online=online)
    for line in render(report):
        click.echo(line)
    context.exit(1 if report.blocks_serving else 0)


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
    from cds_service.auth.signing import sign_cds_token

    private_jwk = json.loads(key_file.read_text(encoding="utf-8"))
    click.echo(
        sign_cds_token(
            private_jwk, issuer=issuer, audience=audience, lifetime_seconds=lifetime, tenant=tenant
        )
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
