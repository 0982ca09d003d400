"""The demo EHR's prefetch as a chart opens: every template filled with the hook's context and
read from its FHIR server (strict handling), each distinct query once, and each service given
exactly the keys it asked for, with what could not be read left out."""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx

from demo_ehr.hook_player import HookPlayer

CDS_BASE = "http://remote-cds.test"
FHIR_BASE = "http://ehr-fhir.test/fhir"
PATIENT = "pat-7"
# Two services sharing one query (as both risk services share the observations) and each with
# one of its own; one query the FHIR server refuses.
SERVICES = [
    {
        "id": "first",
        "hook": "patient-view",
        "prefetch": {
            "patient": "Patient/{{context.patientId}}",
            "observations": "Observation?patient={{context.patientId}}&_sort=-date&_count=500",
        },
    },
    {
        "id": "second",
        "hook": "patient-view",
        "prefetch": {
            "observations": "Observation?patient={{context.patientId}}&_sort=-date&_count=500",
            "conditions": "Condition?patient={{context.patientId}}&_count=200",
            "refused": "Flag?patient={{context.patientId}}",
        },
    },
    {
        "id": "elsewhere",
        "hook": "order-select",
        "prefetch": {"patient": "Patient/{{context.patientId}}"},
    },
]


class RemoteParties:
    """A CDS service and a FHIR server, neither of them ours, recording what reached them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.fhir_reads: list[str] = []
        self.prefer: set[str] = set()
        self.calls: dict[str, dict[str, Any]] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        """Answer one request."""
        url = str(request.url)
        if url == CDS_BASE + "/cds-services":
            return httpx.Response(200, json={"services": SERVICES})
        if url.startswith(CDS_BASE + "/cds-services/"):
            with self.lock:
                self.calls[request.url.path.rsplit("/", 1)[1]] = json.loads(request.content)
            return httpx.Response(200, json={"cards": []})
        query = url.removeprefix(FHIR_BASE + "/")
        with self.lock:
            self.fhir_reads.append(query)
            self.prefer.add(request.headers.get("Prefer", ""))
        if query.startswith("Flag"):
            return httpx.Response(403, json={"resourceType": "OperationOutcome"})
        return httpx.Response(200, json={"resourceType": "Bundle", "id": query})


def test_each_distinct_query_is_read_once_and_each_service_gets_its_own_keys(
    signing_keys: dict[str, dict[str, Any]],
) -> None:
    remote = RemoteParties()
    with httpx.Client(transport=httpx.MockTransport(remote)) as client:
        player = HookPlayer(
            CDS_BASE, FHIR_BASE, "upstream-token", signing_keys["ES384"], "https://ehr.test", client
        )
        answers = player.open_chart(PATIENT)

    assert [answer.service_id for answer in answers] == ["first", "second"]
    observations = f"Observation?patient={PATIENT}&_sort=-date&_count=500"
    assert sorted(remote.fhir_reads) == sorted(
        [
            f"Patient/{PATIENT}",
            observations,
            f"Condition?patient={PATIENT}&_count=200",
            f"Flag?patient={PATIENT}",
        ]
    )
    assert remote.prefer == {"handling=strict"}
    first, second = remote.calls["first"], remote.calls["second"]
    assert (
        first["context"]
        == second["context"]
        == {
            "userId": "Practitioner/demo-clinician",
            "patientId": PATIENT,
        }
    )
    assert first["hookInstance"] != second["hookInstance"]
    assert first["prefetch"] == {
        "patient": {"resourceType": "Bundle", "id": f"Patient/{PATIENT}"},
        "observations": {"resourceType": "Bundle", "id": observations},
    }
    # The refused query is left out: the service fetches it or says it is missing.
    assert second["prefetch"] == {
        "observations": {"resourceType": "Bundle", "id": observations},
        "conditions": {"resourceType": "Bundle", "id": f"Condition?patient={PATIENT}&_count=200"},
    }
