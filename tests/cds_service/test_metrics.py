"""`GET /metrics` through real HTTP: the Prometheus client's parser reads it, summed over both
workers, and its counters move with the calls made."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable

import httpx
from conftest import Mint, patient_view_request
from hook_calls import HIGH_BMI, diabetes_cards, diabetes_chart, send_feedback
from prometheus_client.parser import text_string_to_metric_families
from support import CdssServer, free_port
from test_admin_api import admin_config

from models.registry import load_risk_models

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(server: CdssServer) -> tuple[Samples, str]:
    """Every sample of one scrape, by name and labels, and the raw text."""
    response = httpx.get(server.base_url + "/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples, response.text


def names_and_labels(text: str) -> str:
    """The exposition without its sample values: where patient data could leak (a name, a label,
    a help text). A sample value is a measured number, and a duration may hold any digits."""
    return "\n".join(
        line if line.startswith("#") else line.rsplit(" ", 1)[0] for line in text.splitlines()
    )


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_parse_and_move_with_calls(
    start_server: Callable[..., CdssServer], mint: Mint
) -> None:
    # A FHIR server the trusted issuers may name, where nobody listens.
    closed_fhir_server = f"http://127.0.0.1:{free_port()}/fhir"
    server = start_server("sqlite", fhir_servers=[closed_fhir_server])
    before, _ = scrape(server)
    patient = f"met-{uuid.uuid4().hex[:12]}"
    calls = 4
    cards = [diabetes_cards(server, mint, patient, HIGH_BMI)[0] for _ in range(calls)]
    assert {card["indicator"] for card in cards} == {"warning"}
    send_feedback(server, mint, [{"card": cards[0]["uuid"], "outcome": "overridden"}])
    # No prefetch and a FHIR server nobody listens on: one failed fetch per query.
    body = patient_view_request(patient)
    body["prefetch"] = {}
    body["fhirServer"] = closed_fhir_server
    body["fhirAuthorization"] = {
        "access_token": "opaque-token-value",
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "patient/*.rs",
        "subject": "cds-service",
    }
    path = "/cds-services/diabetes-risk"
    refused = httpx.post(
        server.base_url + path,
        json=body,
        headers={"Authorization": f"Bearer {mint(server, path)}"},
        timeout=10,
    )
    assert refused.status_code == 412

    after, text = scrape(server)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    hook = {"endpoint": "hooks.call_service", "service": "diabetes-risk"}
    assert moved("cdss_request_duration_seconds_count", **hook, status="200") == calls
    assert moved("cdss_request_duration_seconds_count", **hook, status="412") == 1
    assert moved("cdss_cards_issued_total", service="diabetes-risk", indicator="warning") == calls
    assert moved("cdss_feedback_received_total", service="diabetes-risk", outcome="overridden") == 1
    assert moved("cdss_fhir_fetch_errors_total", reason="unreachable") >= 1
    assert moved("cdss_fhir_fetch_duration_seconds_count", outcome="unreachable") >= 1
    for model, sha256 in load_risk_models().content_hashes().items():
        assert value(after, "cdss_model_info", model=model, sha256=sha256) == 1
    assert value(after, "cdss_config_version") == 0
    # Nothing a caller sent becomes a label.
    assert patient not in text
    assert "opaque-token-value" not in text
    assert "127.0.0.1" not in text


def test_unknown_paths_and_services_do_not_grow_the_label_sets(cdss_server: CdssServer) -> None:
    for n in range(3):
        httpx.post(f"{cdss_server.base_url}/cds-services/made-up-{n}", json={}, timeout=10)
        httpx.get(f"{cdss_server.base_url}/no-such-page-{n}", timeout=10)
    _, text = scrape(cdss_server)
    assert "made-up" not in text
    assert "no-such-page" not in text
    assert 'service="unmatched"' in text


def test_data_a_call_could_not_use_is_counted_and_logged_without_ids_or_values(
    start_server: Callable[..., CdssServer], mint: Mint
) -> None:
    """Issue 16, item 13: the clinician reads plain words on the card; the integrator's note goes
    to the log, the metrics and the administrators' view, by kind, with no resource id, value or
    patient in any of them."""
    token = secrets.token_urlsafe(32)
    server = start_server("sqlite", admin=admin_config(token))
    before, _ = scrape(server)
    patient = f"met-{uuid.uuid4().hex[:12]}"
    prefetch = diabetes_chart(patient, HIGH_BMI)
    odd = {
        "resourceType": "Observation",
        "id": "waist-in-furlongs-4471",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8280-0"}]},
        "subject": {"reference": f"Patient/{patient}"},
        "effectiveDateTime": prefetch["observations"]["entry"][0]["resource"]["effectiveDateTime"],
        "valueQuantity": {"value": 0.0049, "unit": "furlong", "code": "[fur_us]"},
    }
    prefetch["observations"]["entry"].append({"resource": odd})
    prefetch["observations"]["total"] = 2
    path = "/cds-services/diabetes-risk"
    response = httpx.post(
        server.base_url + path,
        json=patient_view_request(patient, prefetch=prefetch),
        headers={"Authorization": f"Bearer {mint(server, path)}"},
        timeout=10,
    )
    assert response.status_code == 200
    details = " ".join(card["detail"] for card in response.json()["cards"])
    assert "could not be used" in details  # the clinician's words
    assert "furlong" not in details
    assert "waist-in-furlongs" not in details

    after, text = scrape(server)
    kind = {"service": "diabetes-risk", "kind": "Observation"}
    assert (
        value(after, "cdss_data_not_used_total", **kind)
        - value(before, "cdss_data_not_used_total", **kind)
        == 1
    )
    log = server.log_file.read_text(encoding="utf-8")
    assert "diabetes-risk: data not used: Observation" in log
    admin = httpx.get(
        server.base_url + "/admin/data-not-used",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert admin.status_code == 200
    assert {"service": "diabetes-risk", "kind": "Observation", "count": 1} in admin.json()[
        "dataNotUsed"
    ]
    unsigned = httpx.get(server.base_url + "/admin/data-not-used", timeout=10)
    assert unsigned.status_code == 401
    for secret in (patient, "waist-in-furlongs-4471", "0.0049", "furlong"):
        assert secret not in log
        assert secret not in names_and_labels(text)
        assert secret not in admin.text
