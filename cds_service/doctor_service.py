"""`cdss doctor`: how the service is reached, its budgets, its database and its models.

The database is only looked at: a SQLite file that does not exist is not made, and the
schema is compared with the newest migration, never migrated (`cdss db upgrade` does that,
and `cdss serve` at its start).
"""

from __future__ import annotations

import logging
from pathlib import Path

from cds_service.doctor_findings import Finding, Status
from cds_service.settings import ModelSettings, Settings, StorageSettings, is_loopback_host

# How long a PostgreSQL connection attempt may take before the database counts as unreachable.
CONNECT_TIMEOUT_SECONDS = 5
DB_UPGRADE = "`cdss db upgrade` (`cdss serve` also migrates at its start)"


def server_findings(settings: Settings) -> list[Finding]:
    """Where the service listens, the URL callers sign for, CORS, and the fetch budgets."""
    server = settings.server
    findings = [
        Finding(
            Status.OK,
            "public base URL",
            f"{server.public_base_url} (a caller's JWT aud is this URL + the path); "
            f"listens on {server.host}:{server.port} with {server.workers} worker(s)",
        )
    ]
    if not is_loopback_host(server.host) and server.public_base_url.startswith("http://"):
        findings.append(
            Finding(
                Status.WARNING,
                "public base URL",
                f"an http:// URL while listening on {server.host}, beyond this machine",
                "put TLS at the reverse proxy and set [server] public_base_url to the https URL "
                "EHRs call (and list the proxy in trusted_proxies)",
            )
        )
    origins = server.cors_allowed_origins
    if "*" in origins:
        findings.append(
            Finding(
                Status.WARNING,
                "CORS origins",
                "* (any web page may call the service from a browser)",
                "list only the browser clients you use in [server] cors_allowed_origins",
            )
        )
    else:
        findings.append(
            Finding(Status.OK, "CORS origins", ", ".join(origins) or "none (no browser client)")
        )
    smart = settings.smart
    launchers = (
        f"launched from {len(smart.allowed_issuers)} FHIR server(s)"
        if smart.allowed_issuers
        else "no [smart] allowed_issuers: the cards do not link the detail app"
    )
    findings.append(
        Finding(
            Status.OK,
            "FHIR budgets",
            f"[fhir] fetch_budget_seconds = {settings.fhir.fetch_budget_seconds:g} s for a hook "
            f"call's fetches (max_pages {settings.fhir.max_pages}); [smart] "
            f"fetch_budget_seconds = {smart.fetch_budget_seconds:g} s for the detail app's "
            f"page, {launchers}",
        )
    )
    return findings


def masked_database_url(url: str) -> str:
    """The database URL with its password as `***` (or a placeholder when it does not parse)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(not a database URL)"


def database_findings(storage: StorageSettings) -> list[Finding]:
    """Whether the database answers, and whether its schema is at the newest migration."""
    # Alembic says at INFO, as it is imported, which plugins and dialect it set up: nothing a
    # reader of this report acts on.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError
    from sqlalchemy.pool import NullPool

    from cds_service.storage.database import normalise_database_url

    subject = "database"
    shown = masked_database_url(storage.database_url)
    try:
        url = make_url(normalise_database_url(storage.database_url))
    except ArgumentError:
        return [
            Finding(
                Status.ERROR,
                subject,
                "[storage] database_url is not a SQLAlchemy URL",
                "e.g. sqlite:///var/cdss.db or postgresql://user:password@host/db",
            )
        ]
    if url.get_backend_name() == "sqlite":
        missing = _sqlite_file_missing(url.database, shown)
        if missing is not None:
            return [missing]
        connect_args = {}
    else:
        connect_args = {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
    # A plain engine, not the service's: no folder made, no journal mode or pragma changed.
    engine = create_engine(url, poolclass=NullPool, connect_args=connect_args)
    try:
        with engine.connect() as connection:
            return [_schema_finding(connection, shown)]
    except SQLAlchemyError as exc:
        return [
            Finding(
                Status.ERROR,
                subject,
                f"{shown}: cannot connect ({_driver_reason(exc, url.password)})",
                "check that the server runs, the host, port, user and password, and that this "
                "machine may reach it",
            )
        ]
    finally:
        engine.dispose()


def _sqlite_file_missing(database: str | None, shown: str) -> Finding | None:
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    path = Path(database)
    if path.exists():
        return None
    folder = next((parent for parent in path.parents if parent.exists()), None)
    if folder is None or not folder.is_dir():
        return Finding(
            Status.ERROR,
            "database",
            f"{shown}: its folder cannot be made",
            "set [storage] database_url to a path in a folder this user may write",
        )
    return Finding(
        Status.MISSING,
        "database",
        f"{shown}: not made yet",
        f"{DB_UPGRADE} makes it",
        next_step=f"make the database: {DB_UPGRADE}",
    )


def _schema_finding(connection: object, shown: str) -> Finding:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from alembic.util.exc import CommandError

    from cds_service.storage.database import MIGRATIONS_DIR

    scripts = ScriptDirectory(str(MIGRATIONS_DIR))
    newest = set(scripts.get_heads())
    current = set(MigrationContext.configure(connection).get_current_heads())  # type: ignore[arg-type]
    if current == newest:
        return Finding(Status.OK, "database", f"{shown}: schema at the newest migration")
    if not current:
        return Finding(
            Status.MISSING,
            "database",
            f"{shown}: reachable, no schema yet",
            f"run {DB_UPGRADE}",
            next_step=f"make the schema: {DB_UPGRADE}",
        )
    try:
        for revision in current:
            scripts.get_revision(revision)
    except CommandError:
        return Finding(
            Status.ERROR,
            "database",
            f"{shown}: schema at {', '.join(sorted(current))}, a migration this version of "
            "cdss does not have (a newer one migrated it)",
            "run the cdss version that migrated it, or a database of this version",
        )
    return Finding(
        Status.WARNING,
        "database",
        f"{shown}: schema at {', '.join(sorted(current))}, behind the newest "
        f"({', '.join(sorted(newest))})",
        f"run {DB_UPGRADE}",
        next_step=f"bring the schema up to date: {DB_UPGRADE}",
    )


def _driver_reason(exc: Exception, password: str | None) -> str:
    # The driver's own first line says why (refused, unknown host, authentication); it is not
    # supposed to hold the password, and is masked should it ever do so.
    original = getattr(exc, "orig", None) or exc
    lines = str(original).strip().splitlines()
    reason = f"{type(original).__name__}: {lines[0]}" if lines else type(original).__name__
    return reason.replace(password, "***") if password else reason


def model_findings(models: ModelSettings) -> list[Finding]:
    """Whether each risk model's artifact is there and unaltered, and its model card beside it."""
    from models.artifacts import ArtifactError
    from models.model_card_files import CARDS_DIRECTORY
    from models.registry import SHIPPED_DIRECTORY, load_risk_models

    directory = models.directory or SHIPPED_DIRECTORY
    where = "shipped" if models.directory is None else "[models] directory"
    try:
        # Reading the artifacts verifies their content hashes; numpy alone, a second or so.
        names = sorted(load_risk_models(models.directory).content_hashes())
    except ArtifactError as exc:
        return [
            Finding(
                Status.ERROR,
                "risk models",
                f"{where} {directory}: {exc}",
                "`cdss train --out DIR` rebuilds them (the [train] extra), or leave [models] "
                "directory unset for the shipped ones",
            )
        ]
    findings = [
        Finding(
            Status.OK,
            "risk models",
            f"{len(names)} verified by content hash ({where}, {directory}): {', '.join(names)}",
        )
    ]
    cards = directory / CARDS_DIRECTORY
    without_card = [name for name in names if not (cards / f"{name}.md").is_file()]
    if without_card:
        findings.append(
            Finding(
                Status.WARNING,
                "model cards",
                f"not in {cards} for {', '.join(without_card)}: the risk cards link "
                "/model-cards/<name>, which answers 404",
                "`cdss train --out DIR` writes them beside the artifacts",
            )
        )
    return findings
