"""The long-lived parts of a running service, built once per process at start-up."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
from sqlalchemy import Engine

from cds_service.admin.access import AdminGate
from cds_service.admin.configuration import ConfigAdministration
from cds_service.auth.cds_jwt import CdsJwtVerifier, TrustedIssuer
from cds_service.auth.key_sets import KeySetError, KeySource, PinnedKeySet, RemoteKeySet
from cds_service.catalog import ServiceCatalog
from cds_service.hook_runner import FhirServerAllowList, HookRunner
from cds_service.managed_config import LiveConfig, file_config
from cds_service.metrics import ServiceMetrics
from cds_service.privacy import PatientPseudonymizer, load_or_create_patient_key
from cds_service.services.definition import LoadedParts
from cds_service.services.note_summary import NoteSummaries, load_note_summarizer
from cds_service.settings import AuthSettings, ConfigurationError, IssuerSettings, Settings
from cds_service.smart.launch import SmartLauncher
from cds_service.storage.admin_records import AdminSessionStore, AuditLog, ConfigVersionStore
from cds_service.storage.database import create_database_engine
from cds_service.storage.note_summaries import NoteSummaryStore
from cds_service.storage.smart_records import SmartRecords
from cds_service.storage.stores import FeedbackStore, IssuedCardStore, ReplayStore
from fhir_adapters.exchange_deadline import DeadlineTransport
from fhir_adapters.fhir_server import FhirFetcher
from fhir_adapters.gathering import PatientDataGatherer
from fhir_adapters.value_sets import load_vocabulary
from models.artifacts import ArtifactError
from models.note_summary import NoteSummarizer
from models.registry import RiskModels, load_risk_models

log = logging.getLogger(__name__)

JWT_CHECKS_OFF_WARNING = (
    "JWT verification is OFF ([auth] verify_jwt = false): any caller can use this service. "
    "Use this only for local sandbox play, never with real patient data."
)


@dataclass
class Components:
    """Everything a request handler needs, shared by the requests of one process."""

    settings: Settings
    engine: Engine
    catalog: ServiceCatalog
    verifier: CdsJwtVerifier | None
    replay_store: ReplayStore
    hook_runner: HookRunner
    feedback_store: FeedbackStore
    risk_models: RiskModels
    http_client: httpx.Client
    executor: ThreadPoolExecutor
    live_config: LiveConfig
    config_admin: ConfigAdministration
    audit_log: AuditLog
    admin_gate: AdminGate
    admin_sessions: AdminSessionStore
    metrics: ServiceMetrics
    gatherer: PatientDataGatherer
    smart_launcher: SmartLauncher
    note_summaries: NoteSummaries

    def close(self) -> None:
        """Release connections and threads."""
        self.note_summaries.close()
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.http_client.close()
        self.engine.dispose()


@dataclass(frozen=True)
class SharedModels:
    """The heavy, read-only parts: the risk models and the note reader with its embedder.

    `cdss serve` loads them once, before gunicorn forks, so that its workers share their memory
    (copy-on-write) and start at once; everything that holds a connection or a thread is made
    in each worker (`build_components`). The embedder's cache of sentence vectors fills in
    each worker after the fork, as its own copy.
    """

    risk_models: RiskModels
    summarizer: NoteSummarizer


def load_models(settings: Settings) -> RiskModels:
    """The risk models, verified; `ConfigurationError` when an artifact is missing or altered."""
    try:
        return load_risk_models(settings.models.directory)
    except ArtifactError as exc:
        raise ConfigurationError(f"[models] {exc}") from exc


def load_shared_models(settings: Settings) -> SharedModels:
    """Load the read-only parts (a few seconds; `ConfigurationError` on a bad artifact)."""
    # Models first: a service that cannot give honest numbers must not start at all.
    risk_models = load_models(settings)
    # The value sets (codes the adapter classifies by) load once here, so the workers forked
    # from the master share them rather than each reading them on its first request.
    load_vocabulary()
    return SharedModels(risk_models, load_note_summarizer(settings.notes))


def build_components(
    settings: Settings,
    http_client: httpx.Client | None = None,
    shared: SharedModels | None = None,
) -> Components:
    """Build the service's parts, loading the models unless `shared` brings them;
    `ConfigurationError` when the configuration cannot work."""
    shared = shared or load_shared_models(settings)
    risk_models = shared.risk_models
    metrics = ServiceMetrics(settings.server.metrics_directory)
    engine = create_database_engine(settings.storage.database_url)
    client = http_client or httpx.Client(
        transport=DeadlineTransport(), follow_redirects=False, headers={"User-Agent": "cdss"}
    )
    executor = ThreadPoolExecutor(
        max_workers=settings.fhir.max_concurrent_fetches, thread_name_prefix="fhir-fetch"
    )
    key = load_or_create_patient_key(
        settings.privacy.patient_key_file, settings.privacy.patient_key
    )
    verifier = None
    replay_store = ReplayStore(engine)
    if settings.auth.verify_jwt:
        issuers = {
            issuer.iss: _trusted_issuer(issuer, settings.auth, client)
            for issuer in settings.auth.issuers
        }
        if not issuers:
            log.warning(
                "no trusted issuers are configured: every hook and feedback call will be refused"
            )
        verifier = CdsJwtVerifier(
            issuers,
            replay_store,
            clock_skew_seconds=settings.auth.clock_skew_seconds,
            max_token_lifetime_seconds=settings.auth.max_token_lifetime_seconds,
        )
    else:
        log.warning(JWT_CHECKS_OFF_WARNING)
    summarizer = shared.summarizer
    note_summaries = NoteSummaries(
        summarizer, settings.notes, NoteSummaryStore(engine), metrics.note_summary
    )
    catalog = ServiceCatalog.offering(LoadedParts(risk_models, note_summaries))
    service_ids = [service.id for service in catalog.all()]
    live_config = LiveConfig(
        ConfigVersionStore(engine),
        file_config(settings, service_ids),
        settings.server.public_base_url,
        # The cards link the detail app only where some EHR may launch it.
        detail_app=bool(settings.smart.allowed_issuers),
    )
    audit_log = AuditLog(engine)
    metrics.loaded(risk_models.content_hashes(), summarizer.method)
    gatherer = PatientDataGatherer(
        FhirFetcher(
            client,
            executor,
            max_pages=settings.fhir.max_pages,
            observe=metrics.fhir_fetch,
            max_response_bytes=settings.fhir.max_response_bytes,
            max_call_bytes=settings.fhir.max_call_bytes,
            max_fetches_per_server=settings.fhir.max_concurrent_fetches_per_server,
        ),
        max_attachments=settings.fhir.max_attachments,
    )
    return Components(
        settings=settings,
        engine=engine,
        catalog=catalog,
        verifier=verifier,
        replay_store=replay_store,
        hook_runner=HookRunner(
            gatherer,
            IssuedCardStore(engine, replay_store),
            PatientPseudonymizer(key),
            metrics,
            FhirServerAllowList.from_settings(settings.auth),
        ),
        feedback_store=FeedbackStore(engine),
        risk_models=risk_models,
        http_client=client,
        executor=executor,
        live_config=live_config,
        config_admin=ConfigAdministration(
            ConfigVersionStore(engine), audit_log, live_config, service_ids
        ),
        audit_log=audit_log,
        admin_gate=AdminGate(settings.admin, audit_log, metrics),
        admin_sessions=AdminSessionStore(engine),
        metrics=metrics,
        gatherer=gatherer,
        smart_launcher=SmartLauncher(settings.smart, client, SmartRecords(engine)),
        note_summaries=note_summaries,
    )


def _trusted_issuer(
    issuer: IssuerSettings, auth: AuthSettings, client: httpx.Client
) -> TrustedIssuer:
    def remote(url: str) -> RemoteKeySet:
        return RemoteKeySet(
            url,
            client,
            cache_seconds=auth.jwks_cache_seconds,
            min_refresh_seconds=auth.jwks_min_refresh_seconds,
            timeout_seconds=auth.jwks_fetch_timeout_seconds,
        )

    keys: KeySource | None = None
    try:
        if issuer.jwks is not None:
            keys = PinnedKeySet.from_document(issuer.jwks, f"issuer {issuer.iss}: jwks")
        elif issuer.jwks_file is not None:
            keys = PinnedKeySet.from_file(issuer.jwks_file)
        elif issuer.jwks_builtin is not None:
            keys = PinnedKeySet.builtin(issuer.jwks_builtin)
        elif issuer.jwks_url is not None:
            keys = remote(issuer.jwks_url)
    except KeySetError as exc:
        raise ConfigurationError(f"issuer {issuer.iss}: {exc}") from exc
    return TrustedIssuer(
        iss=issuer.iss,
        keys=keys,
        jku_keys={url: remote(url) for url in issuer.jku_allowed},
        tenants=frozenset(issuer.tenants),
    )
