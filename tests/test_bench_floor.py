"""The floor of `bench/hook_load.py` (`bench/floor.py`), as its own gunicorn process on
127.0.0.1: a signed call gets the fixed card; a badly signed one, or one for another URL, a 401."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import TRUSTED_ISSUER
from support import free_port

from cds_service.auth.signing import generate_signing_key, public_key_set, sign_cds_token

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from floor import FIXED_CARD, Floor, running_floor

HOOK_PATH = "/cds-services/diabetes-risk"
BODY = json.dumps({"hook": "patient-view", "hookInstance": "h-1", "context": {}}).encode()


@pytest.fixture(scope="module")
def ehr_key() -> dict[str, Any]:
    """The key the floor's one trusted issuer signs with."""
    return generate_signing_key("ES384", kid="floor-es384")


@pytest.fixture(scope="module")
def floor(tmp_path_factory: pytest.TempPathFactory, ehr_key: dict[str, Any]) -> Iterator[Floor]:
    """A running floor trusting `ehr_key` for `TRUSTED_ISSUER`."""
    workdir = tmp_path_factory.mktemp("floor")
    jwks_file = workdir / "jwks.json"
    jwks_file.write_text(json.dumps(public_key_set(ehr_key)), encoding="utf-8")
    with running_floor(
        workdir, jwks_file, port=free_port(), issuer=TRUSTED_ISSUER, workers=1, threads=2
    ) as floor:
        yield floor


def call(floor: Floor, token: str) -> httpx.Response:
    """One hook call to the floor with `token` as its bearer token."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    return httpx.post(floor.base_url + HOOK_PATH, content=BODY, headers=headers, timeout=30)


def test_a_signed_call_gets_the_fixed_card(floor: Floor, ehr_key: dict[str, Any]) -> None:
    token = sign_cds_token(ehr_key, issuer=TRUSTED_ISSUER, audience=floor.base_url + HOOK_PATH)

    response = call(floor, token)

    assert response.status_code == 200
    assert response.json() == {"cards": [FIXED_CARD]}


def test_a_token_signed_with_another_key_is_refused(floor: Floor, ehr_key: dict[str, Any]) -> None:
    # Same kid and algorithm as the trusted key: only the signature tells them apart.
    impostor = generate_signing_key("ES384", kid=ehr_key["kid"])
    token = sign_cds_token(impostor, issuer=TRUSTED_ISSUER, audience=floor.base_url + HOOK_PATH)

    assert call(floor, token).status_code == 401


def test_a_token_for_another_audience_is_refused(floor: Floor, ehr_key: dict[str, Any]) -> None:
    token = sign_cds_token(ehr_key, issuer=TRUSTED_ISSUER, audience="https://elsewhere.test/x")

    assert call(floor, token).status_code == 401
