"""Playing the EHR's side of CDS Hooks: discovery, prefetch, the call, feedback (Flask-free).

What a real EHR does when a chart opens: it reads the service's discovery document, resolves
each prefetch template against its FHIR server for the patient, signs a JWT for the exact URL
it calls (single use, short-lived) and posts the hook request; when the clinician accepts a
suggestion or dismisses a card, it posts feedback the same way.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

import httpx

from cds_service.auth.signing import sign_cds_token
from fhir_adapters.fhir_values import patient_name as fhir_patient_name

PATIENT_VIEW = "patient-view"
DEMO_USER = "Practitioner/demo-clinician"
TOKEN_LIFETIME_SECONDS = 300
# FHIR reads in flight at once while a chart opens: enough for every distinct prefetch query of
# the demo's services, and one keep-alive connection each on the shared client.
PREFETCH_READS_IN_FLIGHT = 8
# Searches by patient the demo's FHIR server cannot do, by the element naming the patient: sekmet
# has no `patient` search parameter on FamilyMemberHistory (FHIR R4 defines one) and refuses the
# search under handling=strict. The EHR then reads the type page by page and keeps the entries
# that are this patient's, as an EHR answering prefetch from its own records would.
FILTERED_BY_PATIENT = {"FamilyMemberHistory": "patient"}
FILTERED_PAGE_SIZE = 200


@dataclass(frozen=True)
class ServiceCards:
    """One service's answer to a hook call (or why there is none)."""

    service_id: str
    title: str
    cards: tuple[dict[str, Any], ...]
    problem: str | None = None


class HookPlayer:
    """Calls the CDS service as the demo EHR: its FHIR server, its signing key, its issuer."""

    def __init__(
        self,
        cds_base_url: str,
        fhir_base_url: str,
        fhir_token: str,
        signing_key: Mapping[str, Any],
        issuer: str,
        client: httpx.Client,
    ) -> None:
        self._cds = cds_base_url.rstrip("/")
        self._fhir = fhir_base_url.rstrip("/")
        self._fhir_headers = {
            "Authorization": f"Bearer {fhir_token}",
            "Accept": "application/fhir+json",
            # A search parameter the server does not support is an error, not silently ignored
            # (which would answer with every patient's resources).
            "Prefer": "handling=strict",
        }
        self._key = dict(signing_key)
        self._issuer = issuer
        self._client = client

    def patients(self) -> list[dict[str, Any]]:
        """The patients on the FHIR server (the first hundred)."""
        answer = self._client.get(
            f"{self._fhir}/Patient", params={"_count": "100"}, headers=self._fhir_headers
        )
        answer.raise_for_status()
        return [entry["resource"] for entry in answer.json().get("entry", [])]

    def patient(self, patient_id: str) -> dict[str, Any] | None:
        """One patient's Patient resource, or None when the FHIR server has no such patient."""
        answer = self._client.get(f"{self._fhir}/Patient/{patient_id}", headers=self._fhir_headers)
        if answer.status_code in (HTTPStatus.NOT_FOUND, HTTPStatus.GONE):
            return None
        answer.raise_for_status()
        resource: dict[str, Any] = answer.json()
        return resource

    def open_chart(self, patient_id: str) -> list[ServiceCards]:
        """`patient-view` to every service for this hook, as the chart opens."""
        discovery = self._client.get(f"{self._cds}/cds-services").json()
        services = [s for s in discovery.get("services", []) if s.get("hook") == PATIENT_VIEW]
        context = {"userId": DEMO_USER, "patientId": patient_id}
        queries = {
            _filled(template, context)
            for service in services
            for template in service.get("prefetch", {}).values()
        }
        # Every prefetch query is read at once, and each distinct query once: services asking
        # for the same data (both risk services read the chart's observations) are given the
        # same answer, as one hook's prefetch is the same chart at the same moment. Each
        # service is called as soon as its own queries are read, not after the slowest other's.
        with (
            ThreadPoolExecutor(PREFETCH_READS_IN_FLIGHT) as readers,
            ThreadPoolExecutor(max(1, len(services))) as callers,
        ):
            reads = {query: readers.submit(self._read, query) for query in queries}
            calls = [callers.submit(self._call, service, context, reads) for service in services]
            return [call.result() for call in calls]

    def send_feedback(self, service_id: str, entry: Mapping[str, Any]) -> dict[str, Any]:
        """Feedback on one card (`card`, `outcome`, and what was accepted or why overridden)."""
        path = f"/cds-services/{service_id}/feedback"
        stamped = {**entry, "outcomeTimestamp": _now()}
        answer = self._client.post(
            self._cds + path, json={"feedback": [stamped]}, headers=self._signed(path)
        )
        answer.raise_for_status()
        receipt: dict[str, Any] = answer.json()
        return receipt

    def _call(
        self,
        service: Mapping[str, Any],
        context: Mapping[str, str],
        reads: Mapping[str, Future[dict[str, Any] | None]],
    ) -> ServiceCards:
        service_id, title = service["id"], service.get("title", service["id"])
        prefetch = {}
        for key, template in service.get("prefetch", {}).items():
            resolved = reads[_filled(template, context)].result()
            # What the EHR cannot read it leaves out: the service fetches it or says so.
            if resolved is not None:
                prefetch[key] = resolved
        path = f"/cds-services/{service_id}"
        body = {
            "hook": PATIENT_VIEW,
            "hookInstance": str(uuid.uuid4()),
            "context": dict(context),
            "prefetch": prefetch,
        }
        answer = self._client.post(self._cds + path, json=body, headers=self._signed(path))
        if answer.status_code != 200:
            return ServiceCards(service_id, title, (), f"the service answered {answer.status_code}")
        return ServiceCards(service_id, title, tuple(answer.json().get("cards", [])))

    def _read(self, query: str) -> dict[str, Any] | None:
        """One filled prefetch query read from the FHIR server; None when it did not answer 200."""
        answer = self._client.get(f"{self._fhir}/{query}", headers=self._fhir_headers)
        if answer.status_code == HTTPStatus.BAD_REQUEST:
            return self.read_filtered(query)
        if answer.status_code != 200:
            return None
        resolved: dict[str, Any] = answer.json()
        return resolved

    def read_filtered(self, query: str) -> dict[str, Any] | None:
        """A refused `<Type>?patient=<id>` query of `FILTERED_BY_PATIENT`, answered as a searchset
        of that type's resources naming the patient; None for any other query or a failed page."""
        resource_type, _, parameters = query.partition("?")
        element = FILTERED_BY_PATIENT.get(resource_type)
        name, _, patient_id = parameters.partition("=")
        if element is None or name != "patient" or not patient_id or "&" in patient_id:
            return None
        # The patient as an id or as a reference (`patient=Patient/123`), either one encoded.
        reference = f"Patient/{unquote(patient_id).removeprefix('Patient/')}"
        kept: list[dict[str, Any]] = []
        url: str | None = f"{self._fhir}/{resource_type}?_count={FILTERED_PAGE_SIZE}"
        read: set[str] = set()
        while url is not None and url not in read:  # a page linking back ends the reading
            read.add(url)
            answer = self._client.get(url, headers=self._fhir_headers)
            if answer.status_code != 200:
                return None
            page = answer.json()
            kept += [
                entry
                for entry in page.get("entry", [])
                if entry.get("resource", {}).get(element, {}).get("reference") == reference
            ]
            url = next(
                (link["url"] for link in page.get("link", []) if link.get("relation") == "next"),
                None,
            )
        return {"resourceType": "Bundle", "type": "searchset", "total": len(kept), "entry": kept}

    def _signed(self, path: str) -> dict[str, str]:
        token = sign_cds_token(
            self._key,
            issuer=self._issuer,
            audience=self._cds + path,
            lifetime_seconds=TOKEN_LIFETIME_SECONDS,
        )
        return {"Authorization": f"Bearer {token}"}


def patient_name(patient: Mapping[str, Any]) -> str:
    """The patient's name as the chart gives it, or their id when it gives none."""
    return fhir_patient_name(patient) or str(patient["id"])


def _filled(template: str, context: Mapping[str, str]) -> str:
    """A prefetch template with the hook's context tokens filled in."""
    for name, value in context.items():
        template = template.replace("{{context." + name + "}}", value)
    return template


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")
