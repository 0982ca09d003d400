"""Two replicas behind one load balancer: separate `cdss serve` processes on one PostgreSQL.

A hospital that outgrows one machine runs several replicas on one database (deploy/). Each
replica here is its own process on its own port, both started at once on an empty database (as a
Deployment's pods are), both with the load balancer's URL as `public_base_url`, so a token's `aud`
is the same whichever replica the balancer picks; the test calls each replica by its port. What
one replica learns, the other must act on at once: a token's `jti`, an administrator's change, a
note summary, a clinician's feedback.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import TRUSTED_ISSUER, Mint, patient_view_request
from hook_calls import (
    DIABETES_PATH,
    MODERATE_BMI,
    diabetes_cards,
    diabetes_chart,
    dysglycemia_probability,
    send_feedback,
)
from support import CdssServer
from test_metrics import scrape, value
from test_note_summary_service import _call as note_summary_cards

from cds_service.access_settings import token_digest
from cds_service.auth.signing import sign_cds_token
from cds_service.services.note_summary import MADE, SHARED

# The one URL EHRs call; the load balancer in front of the replicas answers there.
LOAD_BALANCER_URL = "https://cds.hospital.example.test"
NOTE_SUMMARIES = "cdss_note_summaries_total"
OVERRIDDEN = "overridden"
# Fresh databases migrated by two replicas at the same moment (each start is one chance to race).
MIGRATION_RACES = 3


class Replicas:
    """Replica A and replica B of one deployment, and the admin token both trust."""

    def __init__(self, a: CdssServer, b: CdssServer, admin_token: str) -> None:
        self.a = a
        self.b = b
        self.admin_token = admin_token

    def admin_headers(self) -> dict[str, str]:
        """The administrator's Authorization header (the same token on every replica)."""
        return {"Authorization": f"Bearer {self.admin_token}"}


@pytest.fixture(scope="module")
def replicas(
    start_server: Callable[..., CdssServer], new_database: Callable[[str], str]
) -> Replicas:
    """Two replicas started at the same moment on one empty PostgreSQL database."""
    database_url = new_database("postgresql")
    admin_token = secrets.token_urlsafe(32)
    # Shared by every replica, as deploy/ has them in Secrets: with a key of its own, a replica
    # would give a patient another pseudonym and miss the feedback the other one stored.
    patient_key = secrets.token_hex(32)
    shared: dict[str, dict[str, Any]] = {
        # One worker each: a replica is then one process, and its metrics say what it did.
        "server": {"public_base_url": LOAD_BALANCER_URL, "workers": 1},
        "privacy": {"patient_key": patient_key},
        "admin": {"token_sha256": [token_digest(admin_token)]},
        # TF-IDF spares loading PyTorch twice; what is shared does not depend on the embedder.
        "notes": {"embedder": "tfidf", "answer_within_seconds": 30},
    }
    with ThreadPoolExecutor(max_workers=2) as pool:
        starting = [
            pool.submit(start_server, "postgresql", database_url=database_url, **shared)
            for _ in range(2)
        ]
        a, b = (replica.result() for replica in starting)
    return Replicas(a, b, admin_token)


# One replica's start-up migration, begun when the other replica is ready to begin its own.
_MIGRATE_WITH_THE_OTHER = """
import sys, time
from pathlib import Path
from cds_service.storage.database import create_database_engine, migrate
database_url, ready, replica = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
engine = create_database_engine(database_url)
(ready / replica).touch()
while len(list(ready.iterdir())) < 2:
    time.sleep(0.005)
migrate(engine)
"""


def test_replicas_starting_at_once_migrate_an_empty_database(
    new_database: Callable[[str], str], tmp_path: Path
) -> None:
    # Each replica migrates the schema as it starts, and a Deployment starts its pods together.
    for race in range(MIGRATION_RACES):
        database_url = new_database("postgresql")
        ready = tmp_path / f"race-{race}"
        ready.mkdir()
        replicas = [
            subprocess.Popen(
                [sys.executable, "-c", _MIGRATE_WITH_THE_OTHER, database_url, str(ready), name],
                stderr=subprocess.PIPE,
                text=True,
            )
            for name in ("a", "b")
        ]
        for replica in replicas:
            _, errors = replica.communicate(timeout=300)
            assert replica.returncode == 0, errors[-1500:]


def _through_balancer(signing_keys: dict[str, dict[str, Any]]) -> Mint:
    """Tokens for the load balancer's URL, whichever replica is then called."""

    def make(server: CdssServer, path: str, algorithm: str = "ES384", **options: Any) -> str:
        options.setdefault("issuer", TRUSTED_ISSUER)
        return sign_cds_token(signing_keys[algorithm], audience=LOAD_BALANCER_URL + path, **options)

    return make


@pytest.fixture(scope="module")
def balanced_mint(signing_keys: dict[str, dict[str, Any]]) -> Mint:
    """Signs a token for one call through the load balancer."""
    return _through_balancer(signing_keys)


def _hook_call(server: CdssServer, token: str, patient: str) -> httpx.Response:
    body = patient_view_request(patient, prefetch=diabetes_chart(patient, MODERATE_BMI))
    return httpx.post(
        server.base_url + DIABETES_PATH,
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


def test_a_token_one_replica_accepted_is_refused_by_the_other(
    replicas: Replicas, balanced_mint: Mint
) -> None:
    patient = f"rp-{uuid.uuid4().hex[:12]}"
    token = balanced_mint(replicas.a, DIABETES_PATH)
    assert _hook_call(replicas.a, token, patient).status_code == 200
    replayed = _hook_call(replicas.b, token, patient)
    assert replayed.status_code == 401
    # Refused for the replay, not for its audience: a fresh token for the same URL is answered.
    fresh = balanced_mint(replicas.b, DIABETES_PATH)
    assert _hook_call(replicas.b, fresh, patient).status_code == 200


def test_a_note_summary_made_by_one_replica_is_served_by_the_other(
    replicas: Replicas, balanced_mint: Mint
) -> None:
    patient = f"rn-{uuid.uuid4().hex[:12]}"
    (made,) = note_summary_cards(replicas.a, balanced_mint, patient)
    (served,) = note_summary_cards(replicas.b, balanced_mint, patient)
    assert served["detail"] == made["detail"]
    made_by_a, _ = scrape(replicas.a)
    made_by_b, _ = scrape(replicas.b)
    assert value(made_by_a, NOTE_SUMMARIES, source=MADE) == 1
    assert value(made_by_b, NOTE_SUMMARIES, source=MADE) == 0
    assert value(made_by_b, NOTE_SUMMARIES, source=SHARED) == 1


@pytest.mark.parametrize(("shown_by", "told"), [("a", "b"), ("b", "a")])
def test_feedback_sent_to_either_replica_suppresses_the_card_on_both(
    replicas: Replicas, balanced_mint: Mint, shown_by: str, told: str
) -> None:
    patient = f"rf-{uuid.uuid4().hex[:12]}"
    showing: CdssServer = getattr(replicas, shown_by)
    telling: CdssServer = getattr(replicas, told)
    (card,) = diabetes_cards(showing, balanced_mint, patient, MODERATE_BMI)
    receipt = send_feedback(telling, balanced_mint, [{"card": card["uuid"], "outcome": OVERRIDDEN}])
    assert receipt["stored"] == 1
    for replica in (replicas.a, replicas.b):
        assert diabetes_cards(replica, balanced_mint, patient, MODERATE_BMI) == []


def _indicator(replica: CdssServer, mint: Mint, patient: str) -> str | None:
    cards = diabetes_cards(replica, mint, patient, MODERATE_BMI)
    return cards[0]["indicator"] if cards else None


def _offered(replica: CdssServer) -> list[str]:
    discovery = httpx.get(replica.base_url + "/cds-services", timeout=10).json()
    return [service["id"] for service in discovery["services"]]


def test_an_admin_change_through_one_replica_is_in_force_on_the_next_call_to_the_other(
    replicas: Replicas, balanced_mint: Mint
) -> None:
    patient = f"ra-{uuid.uuid4().hex[:12]}"
    probability = dysglycemia_probability(patient, MODERATE_BMI)
    assert 0.25 <= probability < 0.40  # moderate with the file's bands: an info card
    assert _indicator(replicas.b, balanced_mint, patient) == "info"

    shown = httpx.get(
        replicas.a.base_url + "/admin/config", headers=replicas.admin_headers(), timeout=10
    )
    assert shown.status_code == 200, shown.text
    original = shown.json()
    bands = {
        "high_from": round(probability - 0.02, 4),
        "moderate_from": round(probability - 0.10, 4),
    }
    lowered = httpx.patch(
        replicas.a.base_url + "/admin/config",
        json={"config": {"cards": {"diabetes": bands}}, "comment": "replica test"},
        headers=replicas.admin_headers(),
        timeout=10,
    )
    assert lowered.status_code == 200, lowered.text
    assert _indicator(replicas.b, balanced_mint, patient) == "warning"

    off = httpx.patch(
        replicas.b.base_url + "/admin/config",
        json={"config": {"services": {"diabetes-risk": {"enabled": False}}}},
        headers=replicas.admin_headers(),
        timeout=10,
    )
    assert off.status_code == 200, off.text
    assert "diabetes-risk" not in _offered(replicas.a)
    assert _indicator(replicas.a, balanced_mint, patient) is None

    back = httpx.post(
        replicas.b.base_url + "/admin/config/rollback",
        json={"version": original["version"]},
        headers=replicas.admin_headers(),
        timeout=10,
    )
    assert back.status_code == 200, back.text
    assert "diabetes-risk" in _offered(replicas.a)
    assert _indicator(replicas.a, balanced_mint, patient) == "info"
