"""Engine creation and schema migration for SQLite (the embedded default) and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# An execution option marking connections that only read (see `reading`).
READ_ONLY = "cdss_read_only"
# The PostgreSQL advisory lock key that serialises schema migrations (any fixed 64-bit number
# no other program on the database uses; these are the bytes of "cdss-mig").
MIGRATION_LOCK = int.from_bytes(b"cdss-mig", "big")


def normalise_database_url(url: str) -> str:
    """Prefer the psycopg 3 driver for a bare `postgresql://` URL."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def create_database_engine(url: str) -> Engine:
    """An engine whose commits are durable: acknowledged feedback must survive a crash."""
    url = normalise_database_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 15})
    event.listen(engine, "connect", _configure_sqlite_connection)
    event.listen(engine, "begin", _begin_immediate)
    return engine


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own implicit BEGIN is switched off so `_begin_immediate` decides instead.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL syncs the WAL at every commit: NORMAL could lose the last commits on power loss.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _begin_immediate(connection: Any) -> None:
    # Several gunicorn workers write to one file. A deferred transaction that reads and then
    # writes can fail at once with SQLITE_BUSY under WAL; taking the write lock up front makes
    # it wait for the busy timeout instead. A transaction that only reads takes no lock: under
    # WAL it sees a consistent snapshot without blocking writers or being blocked by them.
    if connection.get_execution_options().get(READ_ONLY):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def reading(engine: Engine) -> Engine:
    """The same engine (and pool) for transactions that only read."""
    return engine.execution_options(**{READ_ONLY: True})


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent; safe for replicas starting at once)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Replicas on one database migrate as they start, and a Deployment starts them
            # together: unserialised, both create `alembic_version` and one fails. The lock is
            # the transaction's, so it is released at commit; the next replica then finds the
            # schema at head. (SQLite's BEGIN IMMEDIATE already serialises the writers.)
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def database_is_reachable(engine: Engine) -> bool:
    """True when a trivial query succeeds."""
    try:
        with reading(engine).connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:
        return False
    return True
