"""The service's configuration: one typed object built from defaults, a TOML file and `CDSS_*`.

Precedence, lowest first: the defaults below, the TOML file (`--config FILE` or `CDSS_CONFIG`),
then environment variables. An environment variable names a key by its path in the file, sections
joined by a double underscore: `CDSS_SERVER__PUBLIC_BASE_URL`, `CDSS_STORAGE__DATABASE_URL`,
`CDSS_AUTH__ISSUERS` (a TOML or JSON array of tables). A value is read as a TOML value when it
parses as one (`true`, `8`, `["a", "b"]`) and as a plain string otherwise.

Relative paths in the file (`jwks_file`, `patient_key_file`, a SQLite database) are relative to
the file, so a configuration means the same whatever directory the service starts from.

This is the only module that reads `os.environ`.
"""

from __future__ import annotations

import ipaddress
import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, IPvAnyNetwork, ValidationError, field_validator, model_validator

from cds_service.access_settings import (
    SANDBOX_ISSUER,
    SANDBOX_KEY_SET,
    SIGNING_ALGORITHMS,
    AdminSettings,
    AuthSettings,
    IssuerSettings,
)
from cds_service.settings_base import Section

ENV_PREFIX = "CDSS_"
ENV_CONFIG_FILE = "CDSS_CONFIG"
ENV_NESTING = "__"

__all__ = [
    "SANDBOX_ISSUER",
    "SANDBOX_KEY_SET",
    "SIGNING_ALGORITHMS",
    "AdminSettings",
    "AuthSettings",
    "ConfigurationError",
    "IssuerSettings",
    "Settings",
    "is_loopback_host",
    "load_settings",
]


class ConfigurationError(Exception):
    """The configuration cannot be used; the message says which key and why."""


class ServerSettings(Section):
    """How the service is reached and run."""

    public_base_url: str = "http://127.0.0.1:8080"
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    workers: int = Field(default=2, ge=1, le=64)
    threads: int = Field(default=4, ge=1, le=64)
    # Browsers (the public CDS Hooks sandbox) need CORS; "*" allows any origin.
    cors_allowed_origins: tuple[str, ...] = ("https://sandbox.cds-hooks.org",)
    # Reverse proxies (addresses or CIDR networks) whose X-Forwarded-For and X-Forwarded-Proto
    # are believed; from any other peer, those headers are anyone's word and change nothing.
    trusted_proxies: tuple[IPvAnyNetwork, ...] = ()
    max_request_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    request_timeout_seconds: int = Field(default=30, ge=1)
    # Where the workers share their Prometheus samples; `cdss serve` makes a fresh one when
    # unset. An in-process app (tests) keeps its samples in memory.
    metrics_directory: Path | None = None

    @field_validator("public_base_url")
    @classmethod
    def _absolute_http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an absolute http(s) URL")
        return value.rstrip("/")


class StorageSettings(Section):
    """Where feedback, issued cards and the token replay store live."""

    database_url: str = "sqlite:///cdss.db"


class PrivacySettings(Section):
    """The key that turns patient ids into pseudonyms before anything is stored."""

    patient_key_file: Path = Path("cdss-patient.key")
    patient_key: str | None = Field(default=None, min_length=32)


class FhirSettings(Section):
    """How the service reads the EHR's FHIR server when prefetch is incomplete."""

    # One budget for the whole call: every query, every further page, every attachment.
    fetch_budget_seconds: float = Field(default=0.8, gt=0, le=30)
    max_concurrent_fetches: int = Field(default=8, ge=1, le=64)
    # Fetch threads one FHIR server may hold at once, so a slow server cannot starve the others.
    max_concurrent_fetches_per_server: int = Field(default=4, ge=1, le=64)
    # Bytes read (after decompression) per answer and per call, so no answer can exhaust memory.
    max_response_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    max_call_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    # Pages read per query (the first included); beyond it the record says the data is partial.
    max_pages: int = Field(default=10, ge=1, le=1000)
    # Note attachments given only as a URL, read per call.
    max_attachments: int = Field(default=20, ge=0, le=500)


class ModelSettings(Section):
    """Where the risk models' artifacts are (verified by content hash at every start)."""

    # None: the artifacts shipped in the package (models/shipped), rebuilt by `cdss train`.
    directory: Path | None = None


CardIndicatorSetting = Literal["none", "info", "warning", "critical"]


class IndicatorSettings(Section):
    """The card each band of a risk gets; "none" shows no card."""

    low: CardIndicatorSetting = "none"
    moderate: CardIndicatorSetting = "info"
    high: CardIndicatorSetting = "warning"


class BandSettings(Section):
    """One risk: moderate from `moderate_from`, high from `high_from`, and each band's card."""

    moderate_from: float = Field(gt=0, lt=1)
    high_from: float = Field(gt=0, lt=1)
    indicators: IndicatorSettings = IndicatorSettings()

    @model_validator(mode="after")
    def _ordered(self) -> BandSettings:
        if self.moderate_from >= self.high_from:
            raise ValueError("the bands overlap: moderate_from must be below high_from")
        return self


class CardSettings(Section):
    """When a risk becomes a card: the one home of the bands, their cards and their defaults.

    The file gives the starting values; the admin endpoint (`/admin/config`) changes them while
    the service runs, and its latest version wins over the file. `cards.policy.CardPolicy` is
    what the card rules read, made from these (`managed_config.card_policy`).
    """

    # Undiagnosed dysglycemia (HbA1c >= 5.7%): 34% of the NHANES adults without diagnosed
    # diabetes have it, so "high" starts well above that. A low risk is no news: no card
    # (alert fatigue is why CDS gets switched off).
    diabetes: BandSettings = BandSettings(moderate_from=0.25, high_from=0.40)
    # BP >= 130/80 if measured, for patients with no reading in 12 months (prevalence 44%).
    unmeasured_blood_pressure: BandSettings = BandSettings(moderate_from=0.30, high_from=0.50)
    # Parikh's own 4-year bands: low < 5%, medium 5-10%, high > 10% (Ann Intern Med 2008). Only
    # the high band gets a card (about half of Parikh's cohort was "high"), and never more than
    # `info`: the risk is years away.
    hypertension_incidence: BandSettings = BandSettings(
        moderate_from=0.05,
        high_from=0.10,
        indicators=IndicatorSettings(low="none", moderate="none", high="info"),
    )
    explain_missing_estimate: bool = True
    # An overridden card stays away this long unless the risk band rises.
    suppress_overridden_days: int = Field(default=90, ge=0, le=3650)
    # An accepted suggestion (an order) is taken as pending this long.
    suppress_accepted_days: int = Field(default=30, ge=0, le=3650)

    @model_validator(mode="after")
    def _incidence_at_most_info(self) -> CardSettings:
        indicators = self.hypertension_incidence.indicators
        if {indicators.low, indicators.moderate, indicators.high} - {"none", "info"}:
            raise ValueError(
                "hypertension_incidence.indicators: a 4-year risk card is at most info"
            )
        return self


class NoteSettings(Section):
    """How the note summary chooses its excerpts."""

    # "minilm": sentence embeddings (PyTorch, a base dependency); when MiniLM cannot load,
    # TF-IDF chooses the excerpts, with a warning, and the card names it.
    embedder: Literal["minilm", "tfidf"] = "minilm"
    # The most recent notes read for a summary.
    max_notes: int = Field(default=10, ge=1, le=100)
    # How long a call waits for a summary not made before; it is finished for the next view.
    answer_within_seconds: float = Field(default=0.4, ge=0, le=30)
    # PyTorch threads per worker for the embedder. Two: a chart's first view on an idle
    # two-core machine embeds in ~0.23 s, not ~0.41 s (docs/benchmarks.md), which is what
    # brings it within `answer_within_seconds`; when both workers embed at once they share
    # the cores. Set 1 on a machine whose workers are always busy.
    embedder_threads: int = Field(default=2, ge=1, le=64)


# What the detail app reads, and nothing more (SMART App Launch 2.0 scopes).
SMART_READ_SCOPES = (
    "patient/Patient.rs",
    "patient/Observation.rs",
    "patient/Condition.rs",
    "patient/MedicationRequest.rs",
    "patient/MedicationStatement.rs",
    "patient/FamilyMemberHistory.rs",
    "patient/DocumentReference.rs",
    "patient/DiagnosticReport.rs",
)


class SmartSettings(Section):
    """The SMART on FHIR detail app (`/smart/`): who may launch it and what it asks for."""

    client_id: str = Field(default="cdss-detail", min_length=1)
    # The FHIR servers (`iss`) the app may be launched from; any other is refused.
    allowed_issuers: tuple[str, ...] = ()
    read_scopes: tuple[str, ...] = SMART_READ_SCOPES
    # How long a started launch waits for the EHR to send the clinician back.
    launch_minutes: int = Field(default=10, ge=1, le=60)
    # How long a launched app keeps its session (never longer than the token).
    session_minutes: int = Field(default=60, ge=1, le=24 * 60)
    discovery_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    # Reading the chart for the page: longer than a hook's budget, a clinician is waiting for it.
    fetch_budget_seconds: float = Field(default=5.0, gt=0, le=60)

    @field_validator("allowed_issuers")
    @classmethod
    def _no_trailing_slash(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(value.rstrip("/") for value in values)


class LoggingSettings(Section):
    """Log verbosity."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class Settings(Section):
    """The whole configuration."""

    server: ServerSettings = ServerSettings()
    storage: StorageSettings = StorageSettings()
    auth: AuthSettings = AuthSettings()
    admin: AdminSettings = AdminSettings()
    privacy: PrivacySettings = PrivacySettings()
    fhir: FhirSettings = FhirSettings()
    models: ModelSettings = ModelSettings()
    cards: CardSettings = CardSettings()
    notes: NoteSettings = NoteSettings()
    smart: SmartSettings = SmartSettings()
    logging: LoggingSettings = LoggingSettings()

    @model_validator(mode="after")
    def _sandbox_trust_only_on_loopback_or_synthetic_data(self) -> Settings:
        if (
            self.auth.sandbox
            and not self.auth.synthetic_data_only
            and not is_loopback_host(self.server.host)
        ):
            raise ValueError(
                f"[auth] sandbox = true with [server] host = {self.server.host!r}: anyone who "
                "reaches this address can sign tokens the sandbox's published key verifies. "
                "Listen on 127.0.0.1, or set [auth] synthetic_data_only = true if no real "
                "patient's data is ever sent here"
            )
        return self


def is_loopback_host(host: str) -> bool:
    """Whether the service listens on this machine only (`localhost`, 127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def load_settings(
    config_file: Path | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Build the settings from the file (or `CDSS_CONFIG`) and the `CDSS_*` variables."""
    env = os.environ if environ is None else environ
    if config_file is None and env.get(ENV_CONFIG_FILE):
        config_file = Path(env[ENV_CONFIG_FILE])
    document: dict[str, Any] = {}
    base_dir = Path.cwd()
    if config_file is not None:
        try:
            document = tomllib.loads(config_file.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigurationError(f"{config_file}: cannot be read ({exc.strerror})") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError(f"{config_file}: not valid TOML ({exc})") from exc
        base_dir = config_file.resolve().parent
    _apply_environment(document, env)
    try:
        settings = Settings.model_validate(document)
    except ValidationError as exc:
        raise ConfigurationError(_describe(exc)) from exc
    return _resolve_paths(settings, base_dir)


def environment_without(prefix: str) -> dict[str, str]:
    """This process's environment less the variables starting with `prefix`, for a child
    process that reads its own configuration from such variables."""
    return {name: value for name, value in os.environ.items() if not name.startswith(prefix)}


def _apply_environment(document: dict[str, Any], env: Mapping[str, str]) -> None:
    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX) or name == ENV_CONFIG_FILE:
            continue
        path = [part.lower() for part in name[len(ENV_PREFIX) :].split(ENV_NESTING)]
        if len(path) < 2 or not all(path):
            continue
        target = document
        for part in path[:-1]:
            child = target.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigurationError(f"{name}: {'.'.join(path[:-1])} is not a section")
            target = child
        target[path[-1]] = _parse_env_value(raw)


def _parse_env_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"value = {raw}")["value"]
    except tomllib.TOMLDecodeError:
        pass
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        where = ".".join(str(part) for part in error["loc"]) or "(document)"
        problems.append(f"{where}: {error['msg']}")
    return "invalid configuration: " + "; ".join(problems)


def _resolve_paths(settings: Settings, base_dir: Path) -> Settings:
    def under_base(path: Path) -> Path:
        return path if path.is_absolute() else base_dir / path

    issuers = tuple(
        issuer.model_copy(update={"jwks_file": under_base(issuer.jwks_file)})
        if issuer.jwks_file is not None
        else issuer
        for issuer in settings.auth.issuers
    )
    metrics_directory = settings.server.metrics_directory
    return settings.model_copy(
        update={
            "server": settings.server.model_copy(
                update={
                    "metrics_directory": None
                    if metrics_directory is None
                    else under_base(metrics_directory)
                }
            ),
            "auth": settings.auth.model_copy(update={"issuers": issuers}),
            "privacy": settings.privacy.model_copy(
                update={"patient_key_file": under_base(settings.privacy.patient_key_file)}
            ),
            "models": settings.models.model_copy(
                update={
                    "directory": None
                    if settings.models.directory is None
                    else under_base(settings.models.directory)
                }
            ),
            "storage": settings.storage.model_copy(
                update={
                    "database_url": _resolve_sqlite_path(settings.storage.database_url, base_dir)
                }
            ),
        }
    )


def _resolve_sqlite_path(url: str, base_dir: Path) -> str:
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url == prefix or url.startswith(prefix + "/"):
        return url
    if url[len(prefix) :].startswith(":memory:"):
        return url
    return prefix + str(base_dir / url[len(prefix) :])
