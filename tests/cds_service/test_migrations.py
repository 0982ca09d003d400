"""The migrations build exactly the schema `tables` declares, on both database backends."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from cds_service.storage.database import create_database_engine, migrate
from cds_service.storage.tables import metadata


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migrations_reach_the_declared_schema(
    backend: str, new_database: Callable[[str], str]
) -> None:
    engine = create_database_engine(new_database(backend))
    try:
        migrate(engine)
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), metadata)
    finally:
        engine.dispose()
    assert differences == []
