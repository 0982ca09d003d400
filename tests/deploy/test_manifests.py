"""The Kubernetes example in deploy/: valid against the Kubernetes schemas (offline, strict), and
its settings real configuration keys that give the README's service on a shared database."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]
from flask import Flask
from kubernetes_validate.utils import (  # type: ignore[import-untyped]
    ValidationError,
    validate,
)

from cds_service.settings import ENV_NESTING, ENV_PREFIX, is_loopback_host, load_settings
from cds_service.web.health import blueprint as health

REPO = Path(__file__).resolve().parents[2]
KUBERNETES = REPO / "deploy" / "kubernetes"
MANIFEST = KUBERNETES / "cdss.yaml"
SECRET = KUBERNETES / "secret.example.yaml"
DOCKERFILE = REPO / "Dockerfile"
# What the image runs: the README's run command with the shipped configuration file.
SHIPPED_CONFIG = REPO / "config" / "cdss.toml"
# The oldest Kubernetes release the example is checked against (schemas shipped with
# kubernetes-validate: nothing is downloaded).
KUBERNETES_VERSION = "1.30"
READINESS_PATH = "/readyz"
LIVENESS_PATH = "/healthz"
# What every replica must share, so that any replica can answer any call: the database, the
# key of the patient pseudonyms and the administrators' token digests.
SHARED_BY_EVERY_REPLICA = (
    "CDSS_STORAGE__DATABASE_URL",
    "CDSS_PRIVACY__PATIENT_KEY",
    "CDSS_ADMIN__TOKEN_SHA256",
)


def _documents(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as manifest:
        return [document for document in yaml.safe_load_all(manifest) if document]


def _resource(kind: str) -> dict[str, Any]:
    (found,) = [d for d in _documents(MANIFEST) + _documents(SECRET) if d["kind"] == kind]
    return found


def _container() -> dict[str, Any]:
    container: dict[str, Any]
    (container,) = _resource("Deployment")["spec"]["template"]["spec"]["containers"]
    return container


def _image_environment() -> dict[str, str]:
    # `ENV NAME=value` lines of the Dockerfile: what every container of the image starts with.
    environment = {}
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        if line.startswith("ENV "):
            name, _, value = line.removeprefix("ENV ").partition("=")
            environment[name.strip()] = value.strip()
    return environment


def _container_environment() -> dict[str, str]:
    """The container's variables, each read from the ConfigMap or the example Secret."""
    sources = {
        "configMapKeyRef": _resource("ConfigMap")["data"],
        "secretKeyRef": _resource("Secret")["stringData"],
    }
    environment = {}
    for variable in _container()["env"]:
        if "value" in variable:
            environment[variable["name"]] = str(variable["value"])
            continue
        ((source, reference),) = variable["valueFrom"].items()
        assert reference["name"] == "cdss", variable["name"]
        environment[variable["name"]] = sources[source][reference["key"]]
    return environment


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(d, id=f"{p.name}:{d['kind']}")
        for p in (MANIFEST, SECRET)
        for d in _documents(p)
    ],
)
def test_each_resource_is_valid_kubernetes(document: dict[str, Any]) -> None:
    validate(document, KUBERNETES_VERSION, strict=True)


def test_a_misspelt_field_is_refused() -> None:
    # The strict schemas refuse a field Kubernetes does not know, rather than ignoring it.
    deployment = copy.deepcopy(_resource("Deployment"))
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    container["readinesProbe"] = container.pop("readinessProbe")
    with pytest.raises(ValidationError):
        validate(deployment, KUBERNETES_VERSION, strict=True)


def test_the_variables_name_real_settings_of_the_readme_service() -> None:
    environment = {**_image_environment(), **_container_environment()}
    for name in environment:
        # A CDSS_ name without a section is not read at all: it must name `section__key`.
        assert name.startswith(ENV_PREFIX), name
        assert ENV_NESTING in name, name
    # Unknown sections and keys are refused, so this fails on any misspelt variable.
    settings = load_settings(SHIPPED_CONFIG, environment)
    config_map = _resource("ConfigMap")["data"]
    assert settings.server.public_base_url == config_map["public-base-url"]
    assert not is_loopback_host(settings.server.host)
    (port,) = _container()["ports"]
    assert settings.server.port == port["containerPort"]
    assert settings.server.workers == load_settings(SHIPPED_CONFIG, {}).server.workers
    assert settings.storage.database_url.startswith("postgresql://")
    assert settings.privacy.patient_key is not None
    assert [issuer.iss for issuer in settings.auth.issuers] == ["https://ehr.hospital.example.org"]
    assert settings.auth.issuers[0].fhir_servers == ("https://ehr.hospital.example.org/fhir/r4",)
    assert settings.auth.verify_jwt
    assert len(settings.admin.token_sha256) == 1
    assert settings.server.trusted_proxies


def test_replicas_share_the_database_the_patient_key_and_the_admin_tokens() -> None:
    assert _resource("Deployment")["spec"]["replicas"] >= 2
    from_secret = {
        variable["name"]
        for variable in _container()["env"]
        if "secretKeyRef" in variable.get("valueFrom", {})
    }
    assert set(SHARED_BY_EVERY_REPLICA) <= from_secret


def test_probes_and_the_service_reach_the_container() -> None:
    container = _container()
    (port,) = container["ports"]
    assert container["readinessProbe"]["httpGet"] == {"path": READINESS_PATH, "port": port["name"]}
    assert container["livenessProbe"]["httpGet"] == {"path": LIVENESS_PATH, "port": port["name"]}
    # The probed paths are the service's own health endpoints.
    app = Flask(__name__)
    app.register_blueprint(health)
    routes = {rule.rule for rule in app.url_map.iter_rules()}
    assert {READINESS_PATH, LIVENESS_PATH} <= routes
    deployment, service = _resource("Deployment"), _resource("Service")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert [p["targetPort"] for p in service["spec"]["ports"]] == [port["name"]]
