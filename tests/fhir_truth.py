"""What the FHIR server itself holds, and what the models say of a chart read straight from it:
the reference the SMART page's and the launches' tests hold the page to (never the page's own
reading of the chart)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from typing import Any

import httpx
from fhir_servers import SekmetServer

from cards.explanation import percent
from cds_service.services import diabetes_risk
from fhir_adapters.fhir_server import FhirAccess, FhirFetcher
from fhir_adapters.gathering import PatientDataGatherer
from fhir_adapters.record_builder import record_from_gathered
from models.prediction import RiskEstimate
from models.registry import load_risk_models

LOINC = "http://loinc.org"
HBA1C, BMI, BP_PANEL, SYSTOLIC = "4548-4", "39156-5", "85354-9", "8480-6"


def diabetes_estimates(fhir_server: SekmetServer, patient_id: str) -> dict[str, str]:
    """What the diabetes models say of the patient's chart read straight from the FHIR server."""
    with httpx.Client() as client, ThreadPoolExecutor(4) as pool:
        gathered = PatientDataGatherer(FhirFetcher(client, pool)).gather(
            diabetes_risk.DEFINITION.prefetch,
            None,
            {"patientId": patient_id},
            FhirAccess(fhir_server.base_url, fhir_server.access_token, patient_id),
            budget_seconds=30,
        )
    record = record_from_gathered(patient_id, gathered, datetime.now(UTC).date())
    models = load_risk_models()
    estimates = {}
    for model in (models.dysglycemia, models.undiagnosed_diabetes):
        estimate = model.predict(record)
        assert isinstance(estimate, RiskEstimate)
        estimates[estimate.model] = percent(estimate.probability)
    return estimates


def observations(fhir_server: SekmetServer, patient_id: str, code: str) -> Iterator[Any]:
    """Every Observation of the patient with this LOINC code, read straight from sekmet."""
    url: str | None = f"{fhir_server.base_url}/Observation"
    params: dict[str, str] | None = {"patient": patient_id, "code": f"{LOINC}|{code}"}
    headers = {"Authorization": f"Bearer {fhir_server.access_token}"}
    while url:
        bundle = httpx.get(url, params=params, headers=headers).json()
        for entry in bundle.get("entry", []):
            yield entry["resource"]
        url = next(
            (link["url"] for link in bundle.get("link", []) if link["relation"] == "next"), None
        )
        params = None


def dated_values(resources: Iterator[Any], code: str, since: date) -> set[tuple[str, float]]:
    """(day, value) of each `code` quantity, on the resource or in a component, since `since`."""
    found = set()
    for resource in resources:
        day = resource["effectiveDateTime"][:10]
        if date.fromisoformat(day) < since:
            continue
        quantities = [resource.get("valueQuantity")] + [
            part.get("valueQuantity")
            for part in resource.get("component", [])
            if any(c["code"] == code for c in part["code"]["coding"])
        ]
        found |= {(day, q["value"]) for q in quantities if q is not None}
    return found
