"""The configuration the admin endpoint manages while the service runs.

Which services are on, each risk's bands and the card each band gets, the suppression periods
and the FHIR fetch budget. The configuration file gives version 0; every accepted change is a
new version in the database, and every worker answers each call with the newest one: a worker
reads the latest version number (one indexed query) at every call and rebuilds its policy only
when the number moved. So a change is in force on the next call to any worker, with no restart
and no message between processes.

Trusted issuers, storage and the rest stay in the file: a change to who may call the service
is a deployment, not a setting.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cards.cds_card import Indicator
from cards.policy import Band, CardPolicy, RiskBands
from cds_service.errors import InvalidRequest, Problem
from cds_service.settings import BandSettings, CardSettings, Settings
from cds_service.storage.admin_records import ConfigVersionStore

# The version the configuration file's values are known by.
FILE_VERSION = 0
# Where the cards point: the model cards this service serves, and the SMART launch URL of the
# detail app (the EHR adds `iss` and `launch`).
MODEL_CARDS_PATH = "/model-cards"
DETAIL_APP_LAUNCH_PATH = "/smart/launch"


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServiceSwitch(_Document):
    """Whether a CDS service is offered (in discovery) and answers with cards."""

    enabled: bool


class ManagedFhir(_Document):
    """The FHIR settings an administrator may tune at run time."""

    # One budget for the whole call: every query, page and attachment (see `[fhir]`).
    fetch_budget_seconds: float = Field(gt=0, le=30)


class ManagedConfig(_Document):
    """The whole admin-managed configuration; a `PUT` gives every field."""

    services: dict[str, ServiceSwitch]
    cards: CardSettings
    fhir: ManagedFhir

    def to_json(self) -> dict[str, Any]:
        """The document as JSON (what is stored and what `GET /admin/config` shows)."""
        return self.model_dump(mode="json")


def file_config(settings: Settings, service_ids: Iterable[str]) -> ManagedConfig:
    """Version 0: every service on, the cards and budget as the configuration file says."""
    return ManagedConfig(
        services={service_id: ServiceSwitch(enabled=True) for service_id in service_ids},
        cards=settings.cards,
        fhir=ManagedFhir(fetch_budget_seconds=settings.fhir.fetch_budget_seconds),
    )


def parse_config_document(document: Any, service_ids: Sequence[str]) -> ManagedConfig:
    """A complete, valid document, or `InvalidRequest` naming every bad field.

    Strict: a number given as a string, or a flag as 0/1, is refused rather than guessed at.
    """
    if not isinstance(document, dict):
        raise InvalidRequest("invalid configuration", [Problem("", "must be a JSON object")])
    try:
        config = ManagedConfig.model_validate(document, strict=True)
    except ValidationError as exc:
        raise InvalidRequest("invalid configuration", _problems(exc)) from None
    problems = [Problem(path, "is required") for path in _missing_fields(config, "")]
    problems += [
        Problem(f"services.{name}", "no such service")
        for name in config.services
        if name not in service_ids
    ]
    problems += [
        Problem(f"services.{name}", "is required")
        for name in service_ids
        if name not in config.services
    ]
    if problems:
        raise InvalidRequest("invalid configuration", problems)
    return config


def _problems(exc: ValidationError) -> list[Problem]:
    problems = []
    for error in exc.errors(include_input=False, include_url=False, include_context=False):
        where = ".".join(str(part) for part in error["loc"])
        message = error["msg"]
        if error["type"] == "value_error":
            message = message.removeprefix("Value error, ")
        problems.append(Problem(where, message))
    return problems


def _missing_fields(model: BaseModel, prefix: str) -> list[str]:
    # Defaults make sense in the file, not in a PUT: a field left out would silently reset.
    missing = []
    for name in type(model).model_fields:
        path = f"{prefix}{name}"
        if name not in model.model_fields_set:
            missing.append(path)
            continue
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            missing += _missing_fields(value, path + ".")
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, BaseModel):
                    missing += _missing_fields(item, f"{path}.{key}.")
    return missing


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 merge patch: objects merge key by key, `null` removes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


def config_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every leaf that differs, as `{"path", "from", "to"}` (a missing leaf is None)."""
    old, new = _leaves(before, ""), _leaves(after, "")
    return [
        {"path": path, "from": old.get(path), "to": new.get(path)}
        for path in sorted(old.keys() | new.keys())
        if old.get(path) != new.get(path)
    ]


def _leaves(document: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    leaves: dict[str, Any] = {}
    for key, value in document.items():
        if isinstance(value, Mapping):
            leaves.update(_leaves(value, f"{prefix}{key}."))
        else:
            leaves[f"{prefix}{key}"] = value
    return leaves


@dataclass(frozen=True)
class ConfigInForce:
    """One version of the managed configuration, with the card policy it means."""

    version: int
    config: ManagedConfig
    policy: CardPolicy

    def enabled(self, service_id: str) -> bool:
        """Whether the service answers (a service added since the change is on)."""
        switch = self.config.services.get(service_id)
        return switch is None or switch.enabled


class LiveConfig:
    """The managed configuration as this worker applies it: always the newest version."""

    def __init__(
        self,
        versions: ConfigVersionStore,
        file_values: ManagedConfig,
        public_base_url: str,
        detail_app: bool,
    ) -> None:
        self._versions = versions
        self._public_base_url = public_base_url
        self._detail_app = detail_app
        self._file_values = self._in_force(FILE_VERSION, file_values)
        self._current = self._file_values
        self._lock = threading.Lock()

    @property
    def file_values(self) -> ConfigInForce:
        """Version 0, from the configuration file."""
        return self._file_values

    def current(self) -> ConfigInForce:
        """The newest version (one small query; the policy is rebuilt only when it changed)."""
        latest = self._versions.latest_number()
        current = self._current
        if current.version == latest:
            return current
        stored = self._versions.get(latest)
        if stored is None:  # the file's values (version 0)
            return self._file_values
        in_force = self._in_force(latest, ManagedConfig.model_validate(stored.document))
        with self._lock:
            if in_force.version > self._current.version:
                self._current = in_force
        return in_force

    def _in_force(self, version: int, config: ManagedConfig) -> ConfigInForce:
        policy = card_policy(config.cards, self._public_base_url, self._detail_app)
        return ConfigInForce(version, config, policy)


def card_policy(cards: CardSettings, public_base_url: str, detail_app: bool = True) -> CardPolicy:
    """The card policy these settings describe; `detail_app`: link the SMART detail app."""

    def indicator(name: str) -> Indicator | None:
        return None if name == "none" else Indicator(name)

    def bands(setting: BandSettings) -> RiskBands:
        chosen = setting.indicators
        return RiskBands(
            setting.moderate_from,
            setting.high_from,
            {
                Band.LOW: indicator(chosen.low),
                Band.MODERATE: indicator(chosen.moderate),
                Band.HIGH: indicator(chosen.high),
            },
        )

    return CardPolicy(
        diabetes=bands(cards.diabetes),
        unmeasured_blood_pressure=bands(cards.unmeasured_blood_pressure),
        hypertension_incidence=bands(cards.hypertension_incidence),
        explain_missing_estimate=cards.explain_missing_estimate,
        suppress_overridden_days=cards.suppress_overridden_days,
        suppress_accepted_days=cards.suppress_accepted_days,
        model_cards_url=public_base_url + MODEL_CARDS_PATH,
        detail_app_url=public_base_url + DETAIL_APP_LAUNCH_PATH if detail_app else None,
    )
