"""The `cdss` commands that need no service import none of it: `cdss --help` answered in 11 s
when the command line imported the models, pandas and the database layer to sign a JWT."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# What the service's heavy parts pull in; a command that only signs or prints needs none.
HEAVY_LIBRARIES = (
    "alembic",
    "flask",
    "gunicorn",
    "numpy",
    "pandas",
    "shap",
    "sklearn",
    "spacy",
    "sqlalchemy",
    "torch",
    "xgboost",
)
# Runs one command in a fresh interpreter and writes which heavy libraries it loaded.
PROBE = """
import json, sys
from cds_service.cli import main
report, arguments = sys.argv[1], sys.argv[2:]
try:
    main(arguments, standalone_mode=False)
finally:
    loaded = [name for name in {heavy!r} if name in sys.modules]
    with open(report, "w", encoding="utf-8") as file:
        json.dump(loaded, file)
"""


def loaded_by(tmp_path: Path, *arguments: str) -> list[str]:
    """The heavy libraries `cdss <arguments>` imported before it finished."""
    report = tmp_path / "loaded.json"
    program = PROBE.format(heavy=HEAVY_LIBRARIES)
    done = subprocess.run(
        [sys.executable, "-c", program, str(report), *arguments],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    loaded: list[str] = json.loads(report.read_text(encoding="utf-8"))
    return loaded


@pytest.mark.parametrize(
    "arguments",
    [
        ("--help",),
        ("serve", "--help"),
        ("population", "score", "--help"),
        ("admin-token",),
    ],
    ids=["help", "serve-help", "population-help", "admin-token"],
)
def test_commands_that_need_no_service_import_none_of_it(
    tmp_path: Path, arguments: tuple[str, ...]
) -> None:
    assert loaded_by(tmp_path, *arguments) == []


def test_signing_a_token_imports_no_service(tmp_path: Path) -> None:
    assert loaded_by(tmp_path, "keys", "generate", "--private", "k.json", "--jwks", "j.json") == []
    token = ("token", "--key", "k.json", "--iss", "https://ehr.example", "--aud", "https://cds/x")
    assert loaded_by(tmp_path, *token) == []


def test_serving_does_import_the_service(tmp_path: Path) -> None:
    """The probe can see an import: `cdss db upgrade` needs the database layer and loads it."""
    config = tmp_path / "cdss.toml"
    config.write_text(
        f'[storage]\ndatabase_url = "sqlite:///{tmp_path / "cdss.db"}"\n'
        f'[privacy]\npatient_key_file = "{tmp_path / "patient.key"}"\n',
        encoding="utf-8",
    )
    assert {"alembic", "sqlalchemy"} <= set(
        loaded_by(tmp_path, "db", "upgrade", "--config", str(config))
    )
