"""After loading the demo's patients, `cdss demo` has SQLite gather statistics on sekmet's
database (its planner then sorts a chart's observations by date quickly): the statistics are
there, and every search answers exactly as before."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing

import pytest

from demo_ehr.fhir_server import SEKMET_DATABASE, SekmetServer
from demo_ehr.patients import carebundle_patient


@pytest.fixture
def loaded_sekmet() -> Iterator[tuple[SekmetServer, str]]:
    """sekmet with one carebundle patient loaded; the patient's id."""
    server = SekmetServer().start()
    try:
        yield server, server.load(carebundle_patient("type2_diabetes"))
    finally:
        server.stop()


def statistics_rows(server: SekmetServer) -> int:
    """Rows of SQLite's planner statistics in sekmet's database (0 when never gathered)."""
    with closing(sqlite3.connect(server.workdir / SEKMET_DATABASE)) as connection:
        known = connection.execute(
            "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'"
        ).fetchone()[0]
        if not known:
            return 0
        rows: int = connection.execute("SELECT count(*) FROM sqlite_stat1").fetchone()[0]
        return rows


def test_statistics_are_gathered_and_searches_answer_as_before(
    loaded_sekmet: tuple[SekmetServer, str],
) -> None:
    server, patient = loaded_sekmet
    searches = [
        ("Observation", {"patient": patient, "_sort": "-date", "_count": "500"}),
        ("Condition", {"patient": patient, "_count": "200"}),
    ]

    def entries(resource_type: str, parameters: dict[str, str]) -> list[str]:
        found = server.get(resource_type, **parameters).get("entry", [])
        return [entry["resource"]["id"] for entry in found]

    before = [entries(*search) for search in searches]
    assert before[0]
    assert statistics_rows(server) == 0

    assert server.refresh_search_statistics()

    assert statistics_rows(server) > 0
    assert [entries(*search) for search in searches] == before


def test_no_database_where_expected_is_said_not_raised() -> None:
    never_started = SekmetServer()
    try:
        assert never_started.refresh_search_statistics() is False
    finally:
        never_started.stop()
