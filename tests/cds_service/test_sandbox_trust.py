"""The CDS Hooks sandbox, through `cdss serve`: its tokens verified by a pinned key set whatever
their `jku` says, and trust in its published key only as an explicit, loud, local opt-in."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from conftest import patient_view_request
from support import CDSS, CdssServer, KeySetPublisher

from cds_service.auth.key_sets import SANDBOX_TRUST_WARNING
from cds_service.auth.signing import generate_signing_key, public_key_set

HOOK_PATH = "/cds-services/diabetes-risk"
# A stand-in for the sandbox: its own issuer, pinned like the sandbox's key set, signing with a
# test key, so each refusal below is tried against a set this module controls.
# test_sandbox_conformance.py signs with the sandbox's own published key.
SANDBOX_LIKE_ISSUER = "https://sandbox-like.example.test"
SANDBOX_JKU = "https://sandbox.cds-hooks.org/.well-known/jwks.json"
SANDBOX_KEY = generate_signing_key("ES384", kid="44823f3d-0b01-4a6c-a80e-b9d3e8a7226f")
# The sandbox's older builds sign ES256 with another kid; self-hosted copies may still do.
OLDER_SANDBOX_KEY = generate_signing_key("ES256", kid="d9cd3c4f-eb08-4304-b973-44f352fd2ca2")


def sandbox_shaped_token(
    key: dict[str, Any], audience: str, *, issuer: str = SANDBOX_LIKE_ISSUER, **header: Any
) -> str:
    """A token laid out exactly as the sandbox's jwt-generator makes it: header `alg`, `typ`,
    `kid`, `jku`; claims `iss`, `aud`, `exp`, `iat`, `jti` (no `sub`)."""
    now = int(time.time())
    claims = {
        "iss": issuer,
        "aud": audience,
        "exp": now + 300,
        "iat": now,
        "jti": str(uuid.uuid4()),
    }
    headers = {"alg": key["alg"], "typ": "JWT", "kid": key["kid"], "jku": SANDBOX_JKU, **header}
    signing_key = jwt.PyJWK(key, algorithm=key["alg"]).key
    return jwt.api_jws.encode(
        json.dumps(claims).encode(), signing_key, algorithm=key["alg"], headers=headers
    )


@pytest.fixture(scope="module")
def foreign_key_publisher() -> Iterator[KeySetPublisher]:
    """A key set at a URL no issuer allows, holding a key the attacker signs with."""
    publisher = KeySetPublisher(
        public_key_set(generate_signing_key("ES384", kid="foreign"))
    ).start()
    yield publisher
    publisher.stop()


@pytest.fixture(scope="module")
def sandbox_like_server(
    tmp_path_factory: pytest.TempPathFactory, new_database: Callable[[str], str]
) -> Iterator[CdssServer]:
    """`cdss serve` trusting the sandbox-like issuer by a pinned key set, with no jku allowed."""
    workdir = tmp_path_factory.mktemp("cdss-sandbox-like")
    jwks_file = workdir / "sandbox-like-jwks.json"
    jwks_file.write_text(json.dumps(public_key_set(SANDBOX_KEY, OLDER_SANDBOX_KEY)))
    server = CdssServer(
        workdir=workdir,
        database_url=new_database("sqlite"),
        config={"auth": {"clock_skew_seconds": 30}},
        issuers=[{"iss": SANDBOX_LIKE_ISSUER, "jwks_file": str(jwks_file)}],
    ).start()
    yield server
    server.stop()


def _call(server: CdssServer, token: str) -> httpx.Response:
    return httpx.post(
        server.base_url + HOOK_PATH,
        json=patient_view_request(),
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


@pytest.mark.parametrize("key", [SANDBOX_KEY, OLDER_SANDBOX_KEY], ids=lambda k: k["alg"])
def test_a_sandbox_shaped_token_is_accepted_by_the_pinned_key_set(
    sandbox_like_server: CdssServer, key: dict[str, Any]
) -> None:
    token = sandbox_shaped_token(key, sandbox_like_server.base_url + HOOK_PATH)

    assert _call(sandbox_like_server, token).status_code == 200


def test_a_pinned_kid_is_verified_by_the_pinned_key_and_its_jku_is_never_fetched(
    sandbox_like_server: CdssServer, foreign_key_publisher: KeySetPublisher
) -> None:
    token = sandbox_shaped_token(
        SANDBOX_KEY, sandbox_like_server.base_url + HOOK_PATH, jku=foreign_key_publisher.url
    )

    assert _call(sandbox_like_server, token).status_code == 200
    assert foreign_key_publisher.requests == 0


def _wrong_signature(server: CdssServer, publisher: KeySetPublisher) -> str:
    # The sandbox's kid, signed by some other key on the same curve.
    impostor = generate_signing_key("ES384", kid=SANDBOX_KEY["kid"])
    return sandbox_shaped_token(impostor, server.base_url + HOOK_PATH)


def _unknown_kid(server: CdssServer, publisher: KeySetPublisher) -> str:
    return sandbox_shaped_token(
        generate_signing_key("ES384", kid="not-pinned"), server.base_url + HOOK_PATH
    )


def _unknown_kid_at_a_foreign_jku(server: CdssServer, publisher: KeySetPublisher) -> str:
    foreign = generate_signing_key("ES384", kid="foreign")
    return sandbox_shaped_token(foreign, server.base_url + HOOK_PATH, jku=publisher.url)


def _wrong_issuer(server: CdssServer, publisher: KeySetPublisher) -> str:
    return sandbox_shaped_token(
        SANDBOX_KEY, server.base_url + HOOK_PATH, issuer="https://sandbox.cds-hooks.org"
    )


def _jku_not_a_string(server: CdssServer, publisher: KeySetPublisher) -> str:
    return sandbox_shaped_token(SANDBOX_KEY, server.base_url + HOOK_PATH, jku=[SANDBOX_JKU])


REFUSED_SANDBOX_TOKENS: dict[str, Callable[[CdssServer, KeySetPublisher], str]] = {
    "wrong signature": _wrong_signature,
    "unknown kid": _unknown_kid,
    "unknown kid whose jku is not allowed": _unknown_kid_at_a_foreign_jku,
    "wrong issuer": _wrong_issuer,
    "jku not a string": _jku_not_a_string,
}


@pytest.mark.parametrize("case", sorted(REFUSED_SANDBOX_TOKENS))
def test_a_sandbox_shaped_token_is_refused_when_signature_kid_or_issuer_is_wrong(
    sandbox_like_server: CdssServer, foreign_key_publisher: KeySetPublisher, case: str
) -> None:
    token = REFUSED_SANDBOX_TOKENS[case](sandbox_like_server, foreign_key_publisher)

    response = _call(sandbox_like_server, token)

    assert response.status_code == 401
    assert response.content == b""
    assert foreign_key_publisher.requests == 0


# Where the Docker image listens: beyond loopback.
ALL_INTERFACES = "0.0.0.0"  # noqa: S104
SANDBOX_ISSUER_TABLE = {"iss": "https://sandbox.cds-hooks.org", "jwks_builtin": "cds-hooks-sandbox"}


def _serve(workdir: Path, database_url: str, host: str, auth: dict[str, Any]) -> CdssServer:
    return CdssServer(
        workdir=workdir,
        database_url=database_url,
        config={"server": {"host": host}, "auth": auth},
        issuers=[SANDBOX_ISSUER_TABLE],
    )


def _serve_and_exit(server: CdssServer, *options: str) -> subprocess.CompletedProcess[str]:
    server.workdir.mkdir(parents=True, exist_ok=True)
    server.write_config()
    return subprocess.run(
        [str(CDSS), "serve", "--config", str(server.config_file), *options],
        cwd=server.workdir,
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith("CDSS_")},
    )


@pytest.mark.parametrize(
    ("host", "auth", "complaint"),
    [
        ("127.0.0.1", {}, "[auth] sandbox = true"),
        (ALL_INTERFACES, {"sandbox": True}, "[auth] synthetic_data_only = true"),
    ],
)
def test_cdss_serve_refuses_sandbox_trust_that_was_not_opted_into(
    tmp_path: Path,
    new_database: Callable[[str], str],
    host: str,
    auth: dict[str, Any],
    complaint: str,
) -> None:
    server = _serve(tmp_path, new_database("sqlite"), host, auth)

    finished = _serve_and_exit(server)

    assert finished.returncode != 0
    assert complaint in finished.stderr


def test_a_host_given_on_the_command_line_is_held_to_the_same_rule(
    tmp_path: Path, new_database: Callable[[str], str]
) -> None:
    server = _serve(tmp_path, new_database("sqlite"), "127.0.0.1", {"sandbox": True})

    finished = _serve_and_exit(server, "--host", ALL_INTERFACES)

    assert finished.returncode != 0
    assert "[auth] synthetic_data_only = true" in finished.stderr


@pytest.mark.parametrize(
    ("host", "auth"),
    [
        ("127.0.0.1", {"sandbox": True}),
        (ALL_INTERFACES, {"sandbox": True, "synthetic_data_only": True}),
    ],
)
def test_sandbox_trust_opted_into_warns_at_every_start(
    tmp_path: Path,
    new_database: Callable[[str], str],
    host: str,
    auth: dict[str, Any],
) -> None:
    server = _serve(tmp_path, new_database("sqlite"), host, auth)
    try:
        server.start()
        assert SANDBOX_TRUST_WARNING in server.log_file.read_text()
        server.stop()
        server.start()
    finally:
        server.stop()

    assert server.log_file.read_text().count(SANDBOX_TRUST_WARNING) >= 2
