"""`GET /openapi.json`: a valid OpenAPI 3.1 document naming every route the app serves, with the
request schemas of the very models that validate the requests."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from flask import Flask
from openapi_spec_validator import OpenAPIV31SpecValidator
from pydantic import BaseModel
from support import CdssServer

from cds_service.app import create_app
from cds_service.managed_config import ManagedConfig
from cds_service.protocol import FeedbackRequest, HookRequest
from cds_service.settings import Settings
from cds_service.web.context import EXTENSION_KEY
from cds_service.web.openapi import DOCUMENT_KEY, DOCUMENT_PATH
from cds_service.web.openapi_operations import SCHEMA_REF

# Methods Flask answers for every route by itself.
IMPLICIT_METHODS = frozenset({"HEAD", "OPTIONS"})
# A Werkzeug rule's `<converter:name>` is OpenAPI's `{name}`.
RULE_VARIABLE = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
ADMIN_API_PATHS = (
    "/admin/config",
    "/admin/config/history",
    "/admin/config/rollback",
    "/admin/feedback/summary",
    "/admin/audit",
    "/admin/data-not-used",
)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The app as `create_app` builds it, with every blueprint registered."""
    database = tmp_path_factory.mktemp("openapi") / "cdss.db"
    built = create_app(
        Settings.model_validate({"storage": {"database_url": f"sqlite:///{database}"}})
    )
    yield built
    built.extensions[EXTENSION_KEY].close()


@pytest.fixture(scope="module")
def served_document(start_server: Callable[..., CdssServer]) -> dict[str, Any]:
    """The document as `cdss serve` answers it."""
    server = start_server("sqlite")
    response = httpx.get(server.base_url + DOCUMENT_PATH, timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    document: dict[str, Any] = response.json()
    assert document["servers"] == [{"url": server.base_url}]
    return document


def app_operations(app: Flask) -> set[tuple[str, str]]:
    """Every (OpenAPI path, method) the app's URL map routes."""
    return {
        (RULE_VARIABLE.sub(r"{\1}", rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        for method in (rule.methods or set()) - IMPLICIT_METHODS
    }


def documented_operations(document: dict[str, Any]) -> set[tuple[str, str]]:
    """Every (path, method) the document describes."""
    return {(path, method) for path, item in document["paths"].items() for method in item}


def test_the_served_document_is_valid_openapi_3_1(served_document: dict[str, Any]) -> None:
    assert served_document["openapi"].startswith("3.1.")
    OpenAPIV31SpecValidator(served_document).validate()


def test_every_route_of_the_app_is_documented_and_nothing_else(
    app: Flask, served_document: dict[str, Any]
) -> None:
    routed = app_operations(app)
    documented = documented_operations(served_document)
    assert routed - documented == set(), "routes missing from /openapi.json"
    assert documented - routed == set(), "documented operations the app does not route"


def test_every_operation_names_its_answers_and_the_error_body(
    served_document: dict[str, Any],
) -> None:
    outcome = {"$ref": SCHEMA_REF.format(model="OperationOutcome")}
    for path, item in served_document["paths"].items():
        for method, operation in item.items():
            answers = operation["responses"]
            assert any(status.startswith(("2", "3")) for status in answers), (method, path)
            assert answers["500"]["content"]["application/json"]["schema"] == outcome


def test_the_hook_path_lists_the_services_discovery_offers(
    start_server: Callable[..., CdssServer], served_document: dict[str, Any]
) -> None:
    server_url = served_document["servers"][0]["url"]
    discovery = httpx.get(server_url + "/cds-services", timeout=10).json()
    (service_id,) = served_document["paths"]["/cds-services/{service_id}"]["post"]["parameters"]
    assert sorted(service_id["schema"]["enum"]) == sorted(s["id"] for s in discovery["services"])


@pytest.mark.parametrize(
    ("model", "name"),
    [(HookRequest, "HookRequest"), (FeedbackRequest, "FeedbackRequest")],
)
def test_request_schemas_are_those_of_the_validating_models(
    served_document: dict[str, Any], model: type[BaseModel], name: str
) -> None:
    own = model.model_json_schema(mode="validation", ref_template=SCHEMA_REF)
    schemas = served_document["components"]["schemas"]
    without_formats = {
        key: {k: v for k, v in value.items() if k != "format"}
        for key, value in schemas[name]["properties"].items()
    }
    assert without_formats == own["properties"]
    for nested, schema in own.get("$defs", {}).items():
        nested_properties = {
            key: {k: v for k, v in value.items() if k != "format"}
            for key, value in schemas[nested]["properties"].items()
        }
        assert nested_properties == schema["properties"], nested


def test_a_configuration_replacement_is_the_managed_configuration(
    served_document: dict[str, Any],
) -> None:
    schemas = served_document["components"]["schemas"]
    replacement = schemas["ConfigReplacement"]["properties"]["config"]
    assert replacement == {"$ref": SCHEMA_REF.format(model="ManagedConfig")}
    own = ManagedConfig.model_json_schema(mode="validation", ref_template=SCHEMA_REF)
    assert schemas["ManagedConfig"]["properties"] == own["properties"]


def test_the_document_is_built_once_at_start_up(app: Flask) -> None:
    client = app.test_client()
    first, second = client.get(DOCUMENT_PATH), client.get(DOCUMENT_PATH)
    assert first.status_code == second.status_code == 200
    assert first.get_json() == second.get_json() == app.extensions[DOCUMENT_KEY]


def test_security_schemes_protect_the_hooks_and_the_admin_api(
    served_document: dict[str, Any],
) -> None:
    schemes = served_document["components"]["securitySchemes"]
    assert schemes["cdsHooksJwt"]["scheme"] == schemes["adminToken"]["scheme"] == "bearer"
    assert schemes["cdsHooksJwt"]["bearerFormat"] == "JWT"
    paths = served_document["paths"]
    for path in ("/cds-services/{service_id}", "/cds-services/{service_id}/feedback"):
        assert paths[path]["post"]["security"] == [{"cdsHooksJwt": []}], path
    for path in ADMIN_API_PATHS:
        for operation in paths[path].values():
            assert operation["security"] == [{"adminToken": []}], path
    assert "security" not in paths["/cds-services"]["get"]
