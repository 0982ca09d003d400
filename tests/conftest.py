"""Fixtures: signing keys, a real PostgreSQL, `cdss serve` on SQLite and on PostgreSQL, and a
headless Chromium."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest
from browser import headless_chromium
from demo_servers import DemoEhrServer
from fhir_servers import SekmetServer
from selenium import webdriver
from sqlalchemy import Engine
from support import CdssServer, KeySetPublisher, PostgresCluster
from synthetic_patients import all_patients

from cds_service.auth.signing import generate_signing_key, public_key_set, sign_cds_token
from cds_service.storage.database import create_database_engine, migrate

SMART_CLIENT_ID = "cdss-detail"
TRUSTED_ISSUER = "https://ehr.example.test"
TENANT_ISSUER = "https://tenant-ehr.example.test"
ALLOWED_TENANT = "hospital-a"
SANDBOX_ORIGIN = "https://sandbox.cds-hooks.org"
BACKENDS = ("sqlite", "postgresql")


def pytest_addoption(parser: pytest.Parser) -> None:
    """`--update-golden` rewrites the golden files from what the code gives now (then review)."""
    parser.addoption("--update-golden", action="store_true", help="rewrite tests/data/golden")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    """Whether golden files are to be rewritten rather than compared."""
    return bool(request.config.getoption("--update-golden"))


class Mint(Protocol):
    """Makes a signed token for a path of a running service."""

    def __call__(self, server: CdssServer, path: str, **options: Any) -> str: ...


@pytest.fixture(scope="session")
def signing_keys() -> dict[str, dict[str, Any]]:
    """The trusted EHR's private keys, by algorithm."""
    return {
        algorithm: generate_signing_key(algorithm, kid=f"ehr-{algorithm.lower()}")
        for algorithm in ("ES384", "RS384", "ES256", "RS256", "ES512", "RS512")
    }


@pytest.fixture(scope="session")
def rotated_key() -> dict[str, Any]:
    """A key the EHR publishes only at its `jku` URL."""
    return generate_signing_key("ES384", kid="rotated-es384")


@pytest.fixture(scope="session")
def key_publisher(rotated_key: dict[str, Any]) -> Iterator[KeySetPublisher]:
    """The EHR's JWK Set endpoint (allowed as `jku`)."""
    publisher = KeySetPublisher(public_key_set(rotated_key)).start()
    yield publisher
    publisher.stop()


@pytest.fixture(scope="session")
def trust_dir(
    tmp_path_factory: pytest.TempPathFactory, signing_keys: dict[str, dict[str, Any]]
) -> Path:
    """A folder holding the trusted EHR's public key set."""
    folder = tmp_path_factory.mktemp("trust")
    (folder / "ehr-jwks.json").write_text(json.dumps(public_key_set(*signing_keys.values())))
    return folder


@pytest.fixture(scope="session")
def trusted_issuers(trust_dir: Path, key_publisher: KeySetPublisher) -> list[dict[str, Any]]:
    """The `[[auth.issuers]]` tables every test server is configured with."""
    jwks_file = str(trust_dir / "ehr-jwks.json")
    return [
        {"iss": TRUSTED_ISSUER, "jwks_file": jwks_file, "jku_allowed": [key_publisher.url]},
        {"iss": TENANT_ISSUER, "jwks_file": jwks_file, "tenants": [ALLOWED_TENANT]},
    ]


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """A PostgreSQL server for the whole run."""
    cluster = PostgresCluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def new_database(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Callable[[str], str]:
    """Makes an empty database on the chosen backend and returns its URL."""

    def make(backend: str) -> str:
        if backend == "sqlite":
            return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'cdss.db'}"
        cluster: PostgresCluster = request.getfixturevalue("postgres")
        return cluster.create_database(f"cdss_{uuid.uuid4().hex[:12]}")

    return make


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, new_database: Callable[[str], str]) -> Iterator[Engine]:
    """A migrated, empty database on each backend, for the storage tests."""
    engine = create_database_engine(new_database(request.param))
    migrate(engine)
    yield engine
    engine.dispose()


def _server_starter(
    tmp_path_factory: pytest.TempPathFactory,
    trusted_issuers: list[dict[str, Any]],
    new_database: Callable[[str], str],
    started: list[CdssServer],
) -> Callable[..., CdssServer]:
    """Starts a `cdss serve` process and adds it to `started`, for its owner to stop."""

    def start(
        backend: str = "sqlite",
        *,
        database_url: str | None = None,
        fhir_servers: Sequence[str] = (),
        **config: dict[str, Any],
    ) -> CdssServer:
        # `database_url`: another replica's database, as replicas behind one load balancer share.
        # `fhir_servers`: what the trusted issuers' calls may name as `fhirServer`; by default
        # none, so no FHIR server is contacted (the service's fail-closed default).
        issuers = [
            {**issuer, "fhir_servers": list(fhir_servers)} if fhir_servers else issuer
            for issuer in trusted_issuers
        ]
        server = CdssServer(
            workdir=tmp_path_factory.mktemp(f"cdss-{backend}"),
            database_url=database_url or new_database(backend),
            config={
                "auth": {"clock_skew_seconds": 30},
                "fhir": {"fetch_budget_seconds": 0.5},
                # Tests read cards on the first view: wait for the note summary to be made.
                "notes": {"answer_within_seconds": 30},
                **config,
            },
            issuers=issuers,
        )
        started.append(server)
        return server.start()

    return start


@pytest.fixture(scope="session")
def start_session_server(
    tmp_path_factory: pytest.TempPathFactory,
    trusted_issuers: list[dict[str, Any]],
    new_database: Callable[[str], str],
) -> Iterator[Callable[..., CdssServer]]:
    """Starts `cdss serve` processes shared by the whole session (`cdss_server`,
    `smart_service`); they stop at its end."""
    started: list[CdssServer] = []
    yield _server_starter(tmp_path_factory, trusted_issuers, new_database, started)
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def start_server(
    tmp_path_factory: pytest.TempPathFactory,
    trusted_issuers: list[dict[str, Any]],
    new_database: Callable[[str], str],
) -> Iterator[Callable[..., CdssServer]]:
    """Starts `cdss serve` processes for one test module; they stop when its tests end, so the
    suite never holds every module's servers at once (each ~0.5 GB with its models: held for
    the whole session, they once filled the 24 GB machine)."""
    started: list[CdssServer] = []
    yield _server_starter(tmp_path_factory, trusted_issuers, new_database, started)
    for server in started:
        server.stop()


@pytest.fixture(scope="session", params=BACKENDS)
def cdss_server(
    request: pytest.FixtureRequest, start_session_server: Callable[..., CdssServer]
) -> CdssServer:
    """One running service per database backend, shared by the tests that only read or add."""
    server: CdssServer = start_session_server(request.param)
    return server


@pytest.fixture(scope="session")
def mint(signing_keys: dict[str, dict[str, Any]]) -> Mint:
    """Signs a valid token for one call of `path` on `server` (ES384 unless told otherwise)."""

    def make(server: CdssServer, path: str, algorithm: str = "ES384", **options: Any) -> str:
        options.setdefault("issuer", TRUSTED_ISSUER)
        return sign_cds_token(signing_keys[algorithm], audience=server.base_url + path, **options)

    return make


@pytest.fixture(scope="session")
def fhir_server() -> Iterator[SekmetServer]:
    """A real FHIR R4 server (sekmet) on 127.0.0.1, empty."""
    server = SekmetServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def synthetic_patients() -> dict[str, dict[str, Any]]:
    """Every synthetic patient's transaction Bundle, by name (see tests/synthetic_patients.py)."""
    return all_patients()


@pytest.fixture(scope="session")
def loaded_patients(
    fhir_server: SekmetServer, synthetic_patients: dict[str, dict[str, Any]]
) -> dict[str, str]:
    """The synthetic patients loaded into the FHIR server: their ids there, by name."""
    return {name: fhir_server.load(bundle) for name, bundle in synthetic_patients.items()}


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    """An HTTP client for talking to the services under test."""
    with httpx.Client(timeout=10) as client:
        yield client


def patient_view_request(patient_id: str = "pat-1", **overrides: Any) -> dict[str, Any]:
    """A valid patient-view request with complete prefetch for every service."""
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "total": 0}
    body: dict[str, Any] = {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/prac-1", "patientId": patient_id},
        "prefetch": {
            "patient": {"resourceType": "Patient", "id": patient_id, "gender": "female"},
            "observations": bundle,
            "conditions": bundle,
            "medications": bundle,
            "medicationStatements": bundle,
            "familyHistory": bundle,
            "documents": bundle,
            "reports": bundle,
        },
    }
    body.update(overrides)
    return body


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    """A headless Chromium, closed after the test."""
    driver = headless_chromium()
    yield driver
    driver.quit()


@pytest.fixture(scope="session")
def demo_ehr(fhir_server: SekmetServer) -> Iterator[DemoEhrServer]:
    """The demo EHR in front of the suite's FHIR server (started by `smart_service`)."""
    server = DemoEhrServer(fhir_server.base_url, fhir_server.access_token)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def smart_service(
    start_session_server: Callable[..., CdssServer],
    demo_ehr: DemoEhrServer,
    signing_keys: dict[str, dict[str, Any]],
) -> CdssServer:
    """`cdss serve` allowing SMART launches from the demo EHR only; the demo EHR calls it."""
    server: CdssServer = start_session_server(
        "sqlite", smart={"allowed_issuers": [demo_ehr.fhir_base_url]}
    )
    demo_ehr.start(
        {SMART_CLIENT_ID: (server.base_url + "/smart/callback",)},
        server.base_url,
        TRUSTED_ISSUER,
        signing_keys["ES384"],
    )
    return server
