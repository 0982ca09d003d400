"""Configuration: defaults, a TOML file, `CDSS_*` overrides, and errors that name the key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cds_service.settings import ConfigurationError, load_settings

CONFIG = """
[server]
public_base_url = "https://cds.example.org/"
workers = 3
[storage]
database_url = "sqlite:///state/cdss.db"
[[auth.issuers]]
iss = "https://ehr.example.org"
jwks_file = "keys/ehr-jwks.json"
jku_allowed = ["https://ehr.example.org/jwks"]
[admin]
token_sha256 = ["%s"]
""" % ("ab" * 32)


def test_file_values_and_paths_relative_to_the_file(tmp_path: Path) -> None:
    config = tmp_path / "cdss.toml"
    config.write_text(CONFIG)

    settings = load_settings(config, environ={})

    assert settings.server.public_base_url == "https://cds.example.org"
    assert settings.server.workers == 3
    assert settings.storage.database_url == f"sqlite:///{tmp_path}/state/cdss.db"
    [issuer] = settings.auth.issuers
    assert issuer.jwks_file == tmp_path / "keys" / "ehr-jwks.json"
    assert issuer.jku_allowed == ("https://ehr.example.org/jwks",)
    assert settings.privacy.patient_key_file == tmp_path / "cdss-patient.key"
    assert settings.auth.verify_jwt is True


def test_environment_overrides_every_key(tmp_path: Path) -> None:
    config = tmp_path / "cdss.toml"
    config.write_text(CONFIG)
    environ = {
        "CDSS_SERVER__WORKERS": "5",
        "CDSS_SERVER__CORS_ALLOWED_ORIGINS": '["*"]',
        "CDSS_STORAGE__DATABASE_URL": "postgresql://cdss@db/cdss",
        "CDSS_AUTH__VERIFY_JWT": "false",
        "CDSS_AUTH__ISSUERS": '[{iss = "https://other.example.org", jwks_url = "https://other.example.org/jwks"}]',
        "CDSS_FHIR__FETCH_BUDGET_SECONDS": "0.3",
        "UNRELATED": "ignored",
    }

    settings = load_settings(config, environ=environ)

    assert settings.server.workers == 5
    assert settings.server.cors_allowed_origins == ("*",)
    assert settings.storage.database_url == "postgresql://cdss@db/cdss"
    assert settings.auth.verify_jwt is False
    assert [issuer.iss for issuer in settings.auth.issuers] == ["https://other.example.org"]
    assert settings.fhir.fetch_budget_seconds == 0.3


def test_cdss_config_names_the_file(tmp_path: Path) -> None:
    config = tmp_path / "elsewhere.toml"
    config.write_text("[server]\nport = 9191\n")

    assert load_settings(environ={"CDSS_CONFIG": str(config)}).server.port == 9191


@pytest.mark.parametrize(
    ("text", "environ", "named"),
    [
        ('[server]\nworkers = "many"\n', {}, "server.workers"),
        ('[server]\npublic_base_url = "cds.example.org"\n', {}, "server.public_base_url"),
        ("[servr]\nport = 1\n", {}, "servr"),
        ('[[auth.issuers]]\niss = "x"\n', {}, "auth.issuers.0"),
        ('[admin]\ntoken_sha256 = ["secret"]\n', {}, "admin.token_sha256"),
        ('[admin]\ntoken_names = { "j.smith" = "x" }\n', {}, "admin.token_names"),
        ("[cards.diabetes]\nmoderate_from = 0.5\nhigh_from = 0.4\n", {}, "cards.diabetes"),
        (
            "[cards.hypertension_incidence]\nmoderate_from = 0.05\nhigh_from = 0.1\n"
            'indicators = { high = "warning" }\n',
            {},
            "at most info",
        ),
        ("", {"CDSS_SERVER__PORT": "0"}, "server.port"),
        ("[server\n", {}, "not valid TOML"),
    ],
)
def test_invalid_configuration_names_the_key(
    tmp_path: Path, text: str, environ: dict[str, str], named: str
) -> None:
    config = tmp_path / "cdss.toml"
    config.write_text(text)

    with pytest.raises(ConfigurationError, match=named.replace(".", r"\.")):
        load_settings(config, environ=environ)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot be read"):
        load_settings(tmp_path / "absent.toml", environ={})


# Where the Docker image listens: beyond loopback.
ALL_INTERFACES = "0.0.0.0"  # noqa: S104
SANDBOX_ISSUER_TABLE = '[[auth.issuers]]\niss = "https://sandbox.cds-hooks.org"\n'
SANDBOX_PINNED = SANDBOX_ISSUER_TABLE + 'jwks_builtin = "cds-hooks-sandbox"\n'


@pytest.mark.parametrize(
    ("text", "environ", "named"),
    [
        (SANDBOX_PINNED, {}, "[auth] sandbox = true"),
        (SANDBOX_ISSUER_TABLE + 'jwks_url = "https://x.example/jwks"\n', {}, "sandbox = true"),
        (
            '[[auth.issuers]]\niss = "https://copy.example"\njwks_builtin = "cds-hooks-sandbox"\n',
            {},
            "sandbox = true",
        ),
        (
            '[[auth.issuers]]\niss = "https://copy.example"\n'
            'jku_allowed = ["https://sandbox.cds-hooks.org/.well-known/jwks.json"]\n',
            {},
            "sandbox = true",
        ),
        (
            "[auth]\nsandbox = true\n" + SANDBOX_PINNED,
            {"CDSS_SERVER__HOST": ALL_INTERFACES},
            "[auth] synthetic_data_only = true",
        ),
        ('[server]\nhost = "10.0.0.5"\n[auth]\nsandbox = true\n', {}, "synthetic_data_only"),
    ],
)
def test_sandbox_trust_is_an_explicit_local_opt_in(
    tmp_path: Path, text: str, environ: dict[str, str], named: str
) -> None:
    config = tmp_path / "cdss.toml"
    config.write_text(text)

    with pytest.raises(ConfigurationError, match=re.escape(named)):
        load_settings(config, environ=environ)


@pytest.mark.parametrize(
    ("text", "environ"),
    [
        ("[auth]\nsandbox = true\n" + SANDBOX_PINNED, {}),
        ("[auth]\nsandbox = true\n" + SANDBOX_PINNED, {"CDSS_SERVER__HOST": "localhost"}),
        ("[auth]\nsandbox = true\n" + SANDBOX_PINNED, {"CDSS_SERVER__HOST": "::1"}),
        (
            "[auth]\nsandbox = true\nsynthetic_data_only = true\n" + SANDBOX_PINNED,
            {"CDSS_SERVER__HOST": ALL_INTERFACES},
        ),
    ],
)
def test_sandbox_trust_opted_into_loads(tmp_path: Path, text: str, environ: dict[str, str]) -> None:
    config = tmp_path / "cdss.toml"
    config.write_text(text)

    settings = load_settings(config, environ=environ)

    assert settings.auth.sandbox is True
    assert [issuer.iss for issuer in settings.auth.issuers] == ["https://sandbox.cds-hooks.org"]


def test_the_shipped_configuration_does_not_trust_the_sandbox() -> None:
    # scripts/serve.sh and the Docker image (listening on 0.0.0.0) start from this file.
    shipped = Path(__file__).parents[2] / "config" / "cdss.toml"

    for environ in ({}, {"CDSS_SERVER__HOST": ALL_INTERFACES}):
        settings = load_settings(shipped, environ=environ)
        assert settings.auth.sandbox is False
        assert not any(issuer.trusts_sandbox_key for issuer in settings.auth.issuers)
