"""`cdss doctor`, run as installed: what it says for each configuration, its exit code (1 only
when `cdss serve` would fail), that it changes nothing, and that no secret reaches its output."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from support import KeySetPublisher, free_port

from cds_service.auth.signing import generate_signing_key, public_key_set
from cds_service.doctor_install import java_major_version

CDSS = Path(sys.executable).with_name("cdss")
PATIENT_KEY = "5a" * 32
ADMIN_DIGESTS = (hashlib.sha256(b"first").hexdigest(), hashlib.sha256(b"second").hexdigest())


def doctor(
    workdir: Path, *arguments: str, environment: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`cdss doctor` in `workdir`, with no CDSS_* variable but those given."""
    clean = {name: value for name, value in os.environ.items() if not name.startswith("CDSS_")}
    return subprocess.run(
        [str(CDSS), "doctor", *arguments],
        cwd=workdir,
        env={**clean, **(environment or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def write_config(folder: Path, text: str) -> Path:
    """A configuration file whose database and patient key are in `folder`."""
    config = folder / "cdss.toml"
    config.write_text(
        f'[storage]\ndatabase_url = "sqlite:///{folder / "cdss.db"}"\n'
        f'[privacy]\npatient_key_file = "{folder / "patient.key"}"\n{text}',
        encoding="utf-8",
    )
    return config


def inline_toml(value: Any) -> str:
    """A value as TOML on one line: inline tables and arrays, JSON's strings and numbers."""
    if isinstance(value, dict):
        return (
            "{ " + ", ".join(f"{json.dumps(k)} = {inline_toml(v)}" for k, v in value.items()) + " }"
        )
    if isinstance(value, list):
        return "[" + ", ".join(inline_toml(item) for item in value) + "]"
    return json.dumps(value)


def lines_about(output: str, subject: str) -> list[str]:
    """The report's lines about `subject`, each as `status subject: detail`, spaces collapsed."""
    lines = [" ".join(line.split()) for line in output.splitlines()]
    return [line for line in lines if line.split(" ", 1)[-1].startswith(f"{subject}:")]


def next_steps(output: str) -> list[str]:
    """The "Next:" lines, without their dash."""
    after = output.split("\nNext:\n", 1)[1]
    return [line.strip().removeprefix("- ") for line in after.splitlines() if line.strip()]


def test_built_in_defaults_serve_and_nothing_is_made(tmp_path: Path) -> None:
    done = doctor(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert lines_about(done.stdout, "configuration") == [
        "ok configuration: built-in defaults (no --config, $CDSS_CONFIG unset); "
        "any CDSS_<SECTION>__<KEY> variable overrides a key"
    ]
    assert lines_about(done.stdout, "database") == [
        f"missing database: sqlite:///{tmp_path / 'cdss.db'}: not made yet"
    ]
    assert lines_about(done.stdout, "trusted issuers")[0].startswith("warning trusted issuers:")
    assert lines_about(done.stdout, "admin tokens")[0].startswith("warning admin tokens: none")
    assert lines_about(done.stdout, "risk models")[0].startswith("ok risk models: 4 verified")
    steps = next_steps(done.stdout)
    assert "make an admin token for /admin: `cdss admin-token`" in steps
    assert "start the service: `cdss serve`" in steps
    # Looked at, not made: no database, no patient key.
    assert list(tmp_path.iterdir()) == []
    assert done.stderr == ""


def test_a_configuration_named_by_cdss_config_is_said_so(tmp_path: Path) -> None:
    config = write_config(tmp_path, "")
    done = doctor(tmp_path, environment={"CDSS_CONFIG": str(config)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert lines_about(done.stdout, "configuration")[0].startswith(
        f"ok configuration: {config} ($CDSS_CONFIG)"
    )
    # `cdss serve` reads $CDSS_CONFIG too: no --config to repeat.
    assert "start the service: `cdss serve`" in next_steps(done.stdout)


def test_an_issuer_key_file_that_is_missing_blocks_serving(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        '[[auth.issuers]]\niss = "https://ehr.example.test"\njwks_file = "keys/ehr.json"\n',
    )
    done = doctor(tmp_path, "--config", str(config))
    assert done.returncode == 1, done.stdout + done.stderr
    assert lines_about(done.stdout, "issuer https://ehr.example.test")[0] == (
        f"error issuer https://ehr.example.test: [[auth.issuers]] #1 jwks_file = "
        f"{tmp_path / 'keys' / 'ehr.json'}: no such file; `cdss serve` will not start"
    )
    assert f"--jwks {tmp_path / 'keys' / 'ehr.json'}" in done.stdout
    steps = next_steps(done.stdout)
    assert steps[0] == "fix each error above, then run `cdss doctor` again"
    assert not any(step.startswith("start the service") for step in steps)


def test_an_invalid_configuration_blocks_serving(tmp_path: Path) -> None:
    config = write_config(tmp_path, "[fhir]\nfetch_budget_seconds = -1\n")
    done = doctor(tmp_path, "--config", str(config))
    assert done.returncode == 1, done.stdout + done.stderr
    (line,) = lines_about(done.stdout, "configuration")
    assert line.startswith(f"error configuration: {config} (--config): invalid configuration")
    assert "fhir.fetch_budget_seconds" in line


def test_no_secret_reaches_the_report(tmp_path: Path) -> None:
    """Admin digests are counted and named, the inline patient key and key sets only described;
    the sandbox's trust is a warning, not an error."""
    ehr_key = generate_signing_key("ES384", kid="ehr-1")
    (tmp_path / "ehr-jwks.json").write_text(json.dumps(public_key_set(ehr_key)))
    inline = inline_toml(public_key_set(generate_signing_key("ES256", kid="inline-1")))
    config = tmp_path / "cdss.toml"
    config.write_text(
        f'[storage]\ndatabase_url = "sqlite:///{tmp_path / "cdss.db"}"\n'
        f'[privacy]\npatient_key = "{PATIENT_KEY}"\n'
        f"[admin]\ntoken_sha256 = {json.dumps(list(ADMIN_DIGESTS))}\n"
        f'token_names = {{ "{ADMIN_DIGESTS[0]}" = "alice" }}\n'
        "[auth]\nsandbox = true\n"
        '[[auth.issuers]]\niss = "https://ehr.example.test"\njwks_file = "ehr-jwks.json"\n'
        'fhir_servers = ["https://ehr.example.test/fhir"]\n'
        '[[auth.issuers]]\niss = "https://other.example.test"\n'
        f"jwks = {inline}\n"
        '[[auth.issuers]]\niss = "https://sandbox.cds-hooks.org"\n'
        'jwks_builtin = "cds-hooks-sandbox"\n',
        encoding="utf-8",
    )
    done = doctor(tmp_path, "--config", str(config))
    assert done.returncode == 0, done.stdout + done.stderr
    assert lines_about(done.stdout, "admin tokens") == [
        "ok admin tokens: 2 configured (alice, 1 unnamed)"
    ]
    assert lines_about(done.stdout, "patient key") == [
        "ok patient key: given inline ([privacy] patient_key; not shown)"
    ]
    assert lines_about(done.stdout, "issuer https://ehr.example.test") == [
        "ok issuer https://ehr.example.test: [[auth.issuers]] #1 jwks_file = "
        f"{tmp_path / 'ehr-jwks.json'}: a JWK Set of 1 usable key(s)",
        "ok issuer https://ehr.example.test: [[auth.issuers]] #1 "
        "fhir_servers: https://ehr.example.test/fhir",
    ]
    assert lines_about(done.stdout, "issuer https://other.example.test")[0].endswith(
        "[[auth.issuers]] #2 jwks (inline): a JWK Set of 1 usable key(s)"
    )
    assert lines_about(done.stdout, "issuer https://sandbox.cds-hooks.org")[0].endswith(
        "jwks_builtin = cds-hooks-sandbox (shipped, pinned): a JWK Set of 2 usable key(s)"
    )
    assert lines_about(done.stdout, "CDS Hooks sandbox")[0].startswith("warning CDS Hooks sandbox")
    everything = done.stdout + done.stderr
    assert PATIENT_KEY not in everything
    for digest in ADMIN_DIGESTS:
        assert digest[:16] not in everything
    for secret in (ehr_key["d"], ehr_key["x"]):
        assert secret not in everything


def test_a_database_password_is_masked_and_an_unreachable_database_blocks_serving(
    tmp_path: Path,
) -> None:
    port = free_port()
    password = "pw-Secr3t-4-doctor"
    done = doctor(
        tmp_path,
        environment={
            "CDSS_STORAGE__DATABASE_URL": f"postgresql://cdss:{password}@127.0.0.1:{port}/cdss"
        },
    )
    assert done.returncode == 1, done.stdout + done.stderr
    (line,) = lines_about(done.stdout, "database")
    assert line.startswith(
        f"error database: postgresql://cdss:***@127.0.0.1:{port}/cdss: cannot connect"
    )
    assert password not in done.stdout + done.stderr


def test_an_unmigrated_database_asks_for_db_upgrade(
    tmp_path: Path, new_database: Callable[[str], str]
) -> None:
    config = tmp_path / "cdss.toml"
    config.write_text(
        f'[storage]\ndatabase_url = "{new_database("postgresql")}"\n'
        f'[privacy]\npatient_key_file = "{tmp_path / "patient.key"}"\n',
        encoding="utf-8",
    )
    before = doctor(tmp_path, "--config", str(config))
    assert before.returncode == 0, before.stdout + before.stderr
    assert lines_about(before.stdout, "database")[0].endswith(": reachable, no schema yet")
    upgrade = "make the schema: `cdss db upgrade` (`cdss serve` also migrates at its start)"
    assert upgrade in next_steps(before.stdout)

    migrated = subprocess.run(
        [str(CDSS), "db", "upgrade", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert migrated.returncode == 0, migrated.stderr
    after = doctor(tmp_path, "--config", str(config))
    assert after.returncode == 0, after.stdout + after.stderr
    assert lines_about(after.stdout, "database")[0].endswith(": schema at the newest migration")
    assert upgrade not in next_steps(after.stdout)
    assert lines_about(after.stdout, "patient key")[0].endswith("(readable by its owner only)")


def test_a_key_set_url_is_fetched_only_when_asked(
    tmp_path: Path, key_publisher: KeySetPublisher
) -> None:
    config = write_config(
        tmp_path,
        f'[[auth.issuers]]\niss = "https://ehr.example.test"\njwks_url = "{key_publisher.url}"\n',
    )
    offline = doctor(tmp_path, "--config", str(config))
    assert offline.returncode == 0, offline.stdout + offline.stderr
    assert lines_about(offline.stdout, "issuer https://ehr.example.test")[0].endswith(
        f"jwks_url = {key_publisher.url}: fetched at the first call "
        "(not checked here; `--online` fetches it)"
    )
    online = doctor(tmp_path, "--config", str(config), "--online")
    assert online.returncode == 0, online.stdout + online.stderr
    assert lines_about(online.stdout, "issuer https://ehr.example.test")[0].endswith(
        f"jwks_url = {key_publisher.url} (fetched): a JWK Set of 1 usable key(s)"
    )


def test_what_stops_serving_is_an_error_and_the_rest_is_not(tmp_path: Path) -> None:
    """Models that are not there and a schema from a newer version stop `cdss serve`; a patient
    key others can read, or an issuer's missing key file with JWT checks off, do not."""
    database = tmp_path / "cdss.db"
    with closing(sqlite3.connect(database)) as connection, connection:
        connection.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
        connection.execute("INSERT INTO alembic_version VALUES ('9999_from_the_future')")
    patient_key = tmp_path / "patient.key"
    patient_key.write_text(PATIENT_KEY + "\n", encoding="ascii")
    patient_key.chmod(0o644)
    (tmp_path / "no-models").mkdir()
    config = write_config(
        tmp_path,
        '[models]\ndirectory = "no-models"\n[auth]\nverify_jwt = false\n'
        '[[auth.issuers]]\niss = "https://ehr.example.test"\njwks_file = "absent.json"\n',
    )
    done = doctor(tmp_path, "--config", str(config))
    assert done.returncode == 1, done.stdout + done.stderr
    assert lines_about(done.stdout, "risk models")[0].startswith(
        f"error risk models: [models] directory {tmp_path / 'no-models'}: model "
    )
    assert lines_about(done.stdout, "database") == [
        f"error database: sqlite:///{database}: schema at 9999_from_the_future, a migration "
        "this version of cdss does not have (a newer one migrated it)"
    ]
    assert lines_about(done.stdout, "patient key") == [
        f"warning patient key: {patient_key} can be read by other users"
    ]
    assert lines_about(done.stdout, "JWT checks")[0].startswith("warning JWT checks: OFF")
    assert "absent.json" not in done.stdout
    assert PATIENT_KEY not in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("banner", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15\nOpenJDK Runtime Environment', 17),
        ('java version "1.8.0_402"\nJava(TM) SE Runtime Environment', 8),
        ('openjdk version "21" 2023-09-19', 21),
        ("Picked up JAVA_TOOL_OPTIONS: -Xmx1g", None),
    ],
)
def test_the_java_major_version_is_read_from_its_banner(banner: str, major: int | None) -> None:
    assert java_major_version(banner) == major
