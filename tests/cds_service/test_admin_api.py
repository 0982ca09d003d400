"""The admin endpoint through real HTTP against `cdss serve` with two workers.

A change made through one worker is in force on the very next call to the other: each test pins
one HTTP connection to each worker (`/readyz` names the process that answered) and alternates.
"""

from __future__ import annotations

import copy
import secrets
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from conftest import BACKENDS, Mint
from hook_calls import (
    DIABETES_PATH,
    MODERATE_BMI,
    diabetes_cards,
    dysglycemia_probability,
    send_feedback,
)
from support import CdssServer

from cds_service.access_settings import token_digest

ACTOR = "cds-committee"


def admin_config(token: str, **settings: Any) -> dict[str, Any]:
    """The `[admin]` section trusting this token, under a name."""
    digest = token_digest(token)
    return {"token_sha256": [digest], "token_names": {digest: ACTOR}, **settings}


def bearer(token: str) -> dict[str, str]:
    """The admin's Authorization header."""
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def admin_token() -> str:
    """A fresh admin token."""
    return secrets.token_urlsafe(32)


@pytest.fixture(scope="module")
def admin_server(start_server: Callable[..., CdssServer], admin_token: str) -> CdssServer:
    """A service whose admin token is `admin_token` (refusals are not throttled here)."""
    server: CdssServer = start_server("sqlite", admin=admin_config(admin_token, max_refusals=1000))
    return server


def clients_per_worker(server: CdssServer, workers: int = 2) -> list[httpx.Client]:
    """One keep-alive connection to each worker process."""
    pinned: dict[int, httpx.Client] = {}
    for _ in range(40):
        client = httpx.Client(base_url=server.base_url, timeout=10)
        worker = client.get("/readyz").json()["worker"]
        if worker in pinned:
            client.close()
            continue
        pinned[worker] = client
        if len(pinned) == workers:
            return list(pinned.values())
    raise AssertionError(f"reached only {len(pinned)} of {workers} workers")


@pytest.fixture
def worker_clients(admin_server: CdssServer) -> Iterator[list[httpx.Client]]:
    """A connection to each of the two workers."""
    clients = clients_per_worker(admin_server)
    yield clients
    for client in clients:
        client.close()


def same_worker(client: httpx.Client, pid: int) -> None:
    assert client.get("/readyz").json()["worker"] == pid


def indicator(server: CdssServer, mint: Mint, client: httpx.Client, patient: str) -> str | None:
    cards = diabetes_cards(server, mint, patient, MODERATE_BMI, client)
    return cards[0]["indicator"] if cards else None


def current(client: httpx.Client, token: str) -> dict[str, Any]:
    response = client.get("/admin/config", headers=bearer(token))
    assert response.status_code == 200, response.text
    assert response.headers["ETag"] == f'"{response.json()["version"]}"'
    document: dict[str, Any] = response.json()
    return document


@pytest.mark.parametrize("backend", BACKENDS)
def test_changes_reach_both_workers_on_the_next_call_and_are_audited(
    start_server: Callable[..., CdssServer], mint: Mint, backend: str
) -> None:
    token = secrets.token_urlsafe(32)
    server = start_server(backend, admin=admin_config(token))
    patient = f"adm-{uuid.uuid4().hex[:12]}"
    probability = dysglycemia_probability(patient, MODERATE_BMI)
    assert 0.25 <= probability < 0.40  # moderate with the file's bands: an info card
    first, second = clients_per_worker(server)
    first_pid = first.get("/readyz").json()["worker"]

    assert indicator(server, mint, second, patient) == "info"

    # The committee lowers the high band below this patient's risk, through the first worker.
    document = current(first, token)
    assert document["version"] == 0
    config = document["config"]
    config["cards"]["diabetes"]["high_from"] = round(probability - 0.02, 4)
    config["cards"]["diabetes"]["moderate_from"] = round(probability - 0.10, 4)
    changed = first.put(
        "/admin/config",
        json={"config": config, "comment": "CDS committee, minute 12"},
        headers={**bearer(token), "If-Match": '"0"'},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["version"] == 1
    # The very next call, on the other worker, answers with the new band.
    assert indicator(server, mint, second, patient) == "warning"
    assert indicator(server, mint, first, patient) == "warning"

    # Switched off through the second worker: gone from discovery, no cards, on the first.
    off = second.patch(
        "/admin/config",
        json={"config": {"services": {"diabetes-risk": {"enabled": False}}}},
        headers=bearer(token),
    )
    assert off.status_code == 200, off.text
    listed = [s["id"] for s in first.get("/cds-services").json()["services"]]
    assert "diabetes-risk" not in listed
    assert {"hypertension-risk", "note-summary"} <= set(listed)
    assert diabetes_cards(server, mint, patient, MODERATE_BMI, first) == []

    # A change based on a version no longer in force is refused.
    stale = first.put(
        "/admin/config", json={"config": config}, headers={**bearer(token), "If-Match": '"1"'}
    )
    assert stale.status_code == 412

    # Rolled back to the file's values: listed again, and the moderate band's card is back.
    back = first.post("/admin/config/rollback", json={"version": 0}, headers=bearer(token))
    assert back.status_code == 200, back.text
    assert back.json()["restoredFrom"] == 0
    assert "diabetes-risk" in [s["id"] for s in second.get("/cds-services").json()["services"]]
    assert indicator(server, mint, second, patient) == "info"
    same_worker(first, first_pid)

    history = first.get("/admin/config/history", headers=bearer(token)).json()
    assert [v["version"] for v in history["versions"]] == [3, 2, 1]
    assert history["versions"][0]["config"] == history["fileVersion"]["config"]
    assert {"path": "services.diabetes-risk.enabled", "from": True, "to": False} in history[
        "versions"
    ][1]["changes"]
    audit = second.get("/admin/audit", headers=bearer(token)).json()["events"]
    changes = [e for e in audit if e["event"].startswith("config-")]
    assert [(e["event"], e["actor"], e["detail"]["version"]) for e in changes] == [
        ("config-rolled-back", ACTOR, 3),
        ("config-changed", ACTOR, 2),
        ("config-changed", ACTOR, 1),
    ]
    assert changes[2]["detail"]["comment"] == "CDS committee, minute 12"
    assert {c["path"] for c in changes[2]["detail"]["changes"]} == {
        "cards.diabetes.high_from",
        "cards.diabetes.moderate_from",
    }
    for client in (first, second):
        client.close()


def _bands_overlap(config: dict[str, Any]) -> None:
    config["cards"]["diabetes"]["moderate_from"] = 0.5
    config["cards"]["diabetes"]["high_from"] = 0.4


def _number_as_text(config: dict[str, Any]) -> None:
    config["cards"]["diabetes"]["high_from"] = "0.4"


def _flag_as_number(config: dict[str, Any]) -> None:
    config["services"]["note-summary"]["enabled"] = 1


def _unknown_service(config: dict[str, Any]) -> None:
    config["services"]["sepsis-alert"] = {"enabled": True}


def _missing_service(config: dict[str, Any]) -> None:
    del config["services"]["hypertension-risk"]


def _missing_field(config: dict[str, Any]) -> None:
    del config["cards"]["suppress_accepted_days"]


def _unknown_indicator(config: dict[str, Any]) -> None:
    config["cards"]["unmeasured_blood_pressure"]["indicators"]["high"] = "urgent"


def _loud_incidence(config: dict[str, Any]) -> None:
    config["cards"]["hypertension_incidence"]["indicators"]["high"] = "warning"


def _budget_out_of_range(config: dict[str, Any]) -> None:
    config["fhir"]["fetch_budget_seconds"] = 0


@pytest.mark.parametrize(
    ("spoil", "location"),
    [
        (_bands_overlap, "cards.diabetes"),
        (_number_as_text, "cards.diabetes.high_from"),
        (_flag_as_number, "services.note-summary.enabled"),
        (_unknown_service, "services.sepsis-alert"),
        (_missing_service, "services.hypertension-risk"),
        (_missing_field, "cards.suppress_accepted_days"),
        (_unknown_indicator, "cards.unmeasured_blood_pressure.indicators.high"),
        (_loud_incidence, "cards"),
        (_budget_out_of_range, "fhir.fetch_budget_seconds"),
    ],
)
def test_invalid_documents_are_refused_named_audited_and_change_nothing(
    admin_server: CdssServer,
    admin_token: str,
    http: httpx.Client,
    spoil: Callable[[dict[str, Any]], None],
    location: str,
) -> None:
    url = admin_server.base_url + "/admin/config"
    before = http.get(url, headers=bearer(admin_token)).json()
    config = copy.deepcopy(before["config"])
    spoil(config)

    refused = http.put(url, json={"config": config}, headers=bearer(admin_token))

    assert refused.status_code == 400, refused.text
    outcome = refused.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert location in [issue["expression"][0] for issue in outcome["issue"]]
    assert http.get(url, headers=bearer(admin_token)).json() == before
    (latest,) = http.get(
        admin_server.base_url + "/admin/audit?limit=1", headers=bearer(admin_token)
    ).json()["events"]
    assert latest["event"] == "config-refused"
    assert latest["actor"] == ACTOR
    assert any(problem.startswith(location) for problem in latest["detail"]["problems"])


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[]", b'{"config": []}', b'{"config": {}, "comment": 7}'],
)
def test_malformed_change_requests_are_400(
    admin_server: CdssServer, admin_token: str, http: httpx.Client, body: bytes
) -> None:
    response = http.patch(
        admin_server.base_url + "/admin/config",
        content=body,
        headers={**bearer(admin_token), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize("version", [99, -1, "1", None])
def test_rollback_to_no_such_version_is_refused(
    admin_server: CdssServer, admin_token: str, http: httpx.Client, version: Any
) -> None:
    response = http.post(
        admin_server.base_url + "/admin/config/rollback",
        json={"version": version},
        headers=bearer(admin_token),
    )
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["version"]


def test_feedback_summary_counts_exactly_what_was_posted(
    start_server: Callable[..., CdssServer], mint: Mint, http: httpx.Client
) -> None:
    token = secrets.token_urlsafe(32)
    server = start_server("sqlite", admin=admin_config(token))
    cards = [
        diabetes_cards(server, mint, f"sum-{uuid.uuid4().hex[:12]}", MODERATE_BMI)[0]
        for _ in range(6)
    ]
    declined = {"system": "http://example.org/reasons", "code": "declined", "display": "Declined"}
    irrelevant = {"code": "not-relevant", "display": "Not relevant"}
    order = [next(s["uuid"] for s in card["suggestions"]) for card in cards]
    receipt = send_feedback(
        server,
        mint,
        [
            {
                "card": cards[0]["uuid"],
                "outcome": "accepted",
                "acceptedSuggestions": [{"id": order[0]}],
            },
            {
                "card": cards[1]["uuid"],
                "outcome": "accepted",
                "acceptedSuggestions": [{"id": order[1]}],
            },
            {
                "card": cards[2]["uuid"],
                "outcome": "overridden",
                "overrideReason": {"reason": declined},
            },
            {
                "card": cards[3]["uuid"],
                "outcome": "overridden",
                "overrideReason": {"reason": declined},
            },
            {
                "card": cards[4]["uuid"],
                "outcome": "overridden",
                "overrideReason": {"reason": irrelevant},
            },
        ],
    )
    assert receipt == {"stored": 5, "duplicates": 0, "unknownCards": 0}
    # Sent again, and a sixth card overridden without a reason.
    send_feedback(
        server,
        mint,
        [
            {
                "card": cards[0]["uuid"],
                "outcome": "accepted",
                "acceptedSuggestions": [{"id": order[0]}],
            },
            {"card": cards[5]["uuid"], "outcome": "overridden"},
        ],
    )

    summary = http.get(server.base_url + "/admin/feedback/summary", headers=bearer(token)).json()

    assert summary["cardTypes"] == [
        {
            "service": "diabetes-risk",
            "cardType": "diabetes-risk",
            "issued": 6,
            "accepted": 2,
            "overridden": 4,
            "acceptanceRate": 2 / 6,
            "overrideReasons": [
                {**declined, "cards": 2},
                {"system": None, "code": None, "display": None, "cards": 1},
                {"system": None, **irrelevant, "cards": 1},
            ],
        }
    ]
    text = str(summary)
    assert all(card["uuid"] not in text for card in cards)
    assert "sum-" not in text
    later = http.get(
        server.base_url + "/admin/feedback/summary?from=2999-01-01&to=2999-02-01",
        headers=bearer(token),
    )
    assert later.json()["cardTypes"] == []
    bad = http.get(
        server.base_url + "/admin/feedback/summary?from=last-week", headers=bearer(token)
    )
    assert bad.status_code == 400
    assert bad.json()["issue"][0]["expression"] == ["from"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not-the-token"},
        {"Authorization": "Basic YWRtaW46YWRtaW4="},
        {"Authorization": "Bearer"},
    ],
)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/admin/config"),
        ("PUT", "/admin/config"),
        ("PATCH", "/admin/config"),
        ("GET", "/admin/config/history"),
        ("POST", "/admin/config/rollback"),
        ("GET", "/admin/feedback/summary"),
        ("GET", "/admin/audit"),
    ],
)
def test_admin_routes_need_an_admin_token(
    admin_server: CdssServer, http: httpx.Client, headers: dict[str, str], method: str, path: str
) -> None:
    response = http.request(method, admin_server.base_url + path, headers=headers, json={})
    assert response.status_code == 401
    assert response.content == b""


def test_an_ehr_token_opens_nothing_and_refusals_are_audited(
    admin_server: CdssServer, admin_token: str, mint: Mint, http: httpx.Client
) -> None:
    ehr_token = mint(admin_server, "/admin/config")
    response = http.get(admin_server.base_url + "/admin/config", headers=bearer(ehr_token))
    assert response.status_code == 401
    (latest,) = http.get(
        admin_server.base_url + "/admin/audit?limit=1", headers=bearer(admin_token)
    ).json()["events"]
    assert latest["event"] == "admin-refused"
    assert latest["detail"] == {"reason": "wrong-token", "path": "/admin/config"}
    assert latest["source"] == "127.0.0.1"
    assert ehr_token not in str(latest)


@pytest.mark.parametrize("origin", ["https://sandbox.cds-hooks.org", "https://evil.example"])
def test_admin_routes_refuse_cross_origin_preflights(
    admin_server: CdssServer, http: httpx.Client, origin: str
) -> None:
    response = http.options(
        admin_server.base_url + "/admin/config",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "Authorization, Content-Type",
        },
    )
    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response.headers
    # The CDS Hooks routes still answer the sandbox.
    hooks = http.options(
        admin_server.base_url + DIABETES_PATH,
        headers={
            "Origin": "https://sandbox.cds-hooks.org",
            "Access-Control-Request-Method": "POST",
        },
    )
    assert hooks.headers["Access-Control-Allow-Origin"] == "https://sandbox.cds-hooks.org"


def test_guessing_is_throttled_per_address_across_workers(
    start_server: Callable[..., CdssServer], http: httpx.Client
) -> None:
    token = secrets.token_urlsafe(32)
    server = start_server(
        "sqlite", admin=admin_config(token, max_refusals=4, refusal_window_seconds=600)
    )
    url = server.base_url + "/admin/config"
    assert http.get(url, headers=bearer(token)).status_code == 200
    clients = clients_per_worker(server)
    for client in clients * 2:  # two guesses on each worker
        assert client.get("/admin/config", headers=bearer("guess")).status_code == 401
    for client in clients:
        client.close()
    throttled = http.get(url, headers=bearer("guess"))
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "600"
    # Only guessing is refused outright: the administrator's own token still works.
    assert http.get(url, headers=bearer(token)).status_code == 200
