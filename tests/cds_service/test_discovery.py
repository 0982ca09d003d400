"""Discovery (`GET /cds-services`) through real HTTP."""

from __future__ import annotations

import re

import httpx
from support import CdssServer

# Tokens CDS Hooks 2.0 allows inside prefetch templates.
ALLOWED_TOKEN = re.compile(
    r"\{\{(context\.[A-Za-z]+|userPractitionerId|userPractitionerRoleId|userPatientId|userRelatedPersonId)\}\}"
)


def test_discovery_lists_the_three_services(cdss_server: CdssServer, http: httpx.Client) -> None:
    response = http.get(f"{cdss_server.base_url}/cds-services")

    assert response.status_code == 200
    services = response.json()["services"]
    assert [service["id"] for service in services] == [
        "diabetes-risk",
        "hypertension-risk",
        "note-summary",
    ]
    for service in services:
        assert service["hook"] == "patient-view"
        assert service["title"].strip()
        assert service["description"].strip()
        assert service["prefetch"]["patient"] == "Patient/{{context.patientId}}"


def test_prefetch_templates_use_only_cds_hooks_2_tokens(
    cdss_server: CdssServer, http: httpx.Client
) -> None:
    services = http.get(f"{cdss_server.base_url}/cds-services").json()["services"]

    for service in services:
        for key, template in service["prefetch"].items():
            leftover = ALLOWED_TOKEN.sub("", template)
            assert "{{" not in leftover, f"{service['id']}.{key} uses a token 2.0 does not define"
            resource_type = template.split("?")[0].split("/")[0]
            assert resource_type[0].isupper(), f"{service['id']}.{key} does not start with a type"


def test_discovery_needs_no_token(cdss_server: CdssServer, http: httpx.Client) -> None:
    # EHR administrators read discovery while configuring the service, before any hook call.
    assert http.get(f"{cdss_server.base_url}/cds-services").status_code == 200


def test_health_and_readiness(cdss_server: CdssServer, http: httpx.Client) -> None:
    assert http.get(f"{cdss_server.base_url}/healthz").json() == {"status": "ok"}
    ready = http.get(f"{cdss_server.base_url}/readyz")
    assert ready.status_code == 200
    assert ready.json()["database"] == "ok"
