"""Answering one hook call: gather the data, build the patient's record, ask the service for
advice, and record the cards shown.

`fhirServer` is the caller's word, so the service reads only the FHIR servers the caller's
issuer lists (`[[auth.issuers]] fhir_servers`): any other is never contacted, and the call is
answered as if the data could not be fetched, in the same words as any fault of a listed
server, so the answers cannot be used to map what listens at an address. The one fault said as
it is: a required key whose query did not finish within the fetch budget on a server the
service read. The answer's own delay says that much already; its 412 issue (type `timeout`)
names the key, the query as the service's template (never rendered: that names the patient),
the budget and the setting that sets it (docs/fhir-budget.md).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from urllib.parse import urlsplit

from cards.card_parts import IssuedCard
from cards.cds_card import Card
from cds_service.auth.cds_jwt import VerifiedCaller, replay_refused
from cds_service.errors import InvalidRequest, PrefetchUnavailable, Problem
from cds_service.managed_config import ConfigInForce
from cds_service.metrics import ServiceMetrics
from cds_service.privacy import PatientPseudonymizer
from cds_service.protocol import HookRequest
from cds_service.services.definition import CdsService, ServiceInput
from cds_service.settings import AuthSettings, is_loopback_host
from cds_service.storage.stores import IssuedCardRecord, IssuedCardStore
from fhir_adapters.fhir_server import FhirAccess, normalised_base_url
from fhir_adapters.gathering import BudgetOverrun, GatheredData, PatientDataGatherer
from fhir_adapters.prefetch import InvalidPrefetch
from fhir_adapters.record_builder import record_from_gathered

log = logging.getLogger(__name__)

NO_PATIENT = ""
# The OperationOutcome issue type (FHIR R4 IssueType) of a required key the budget cut short.
TIMEOUT_ISSUE = "timeout"
# Where an integrator changes the fetch budget, as the 412 of a key the budget cut short says.
FETCH_BUDGET_SETTING = (
    "[fhir] fetch_budget_seconds in the configuration file, or fhir.fetch_budget_seconds "
    "through the admin API (PATCH /admin/config)"
)
# How much of a refused fhirServer's host a log line quotes.
LOGGED_HOST_LIMIT = 100


class FhirServerAllowList:
    """The FHIR servers each trusted issuer's calls may name as `fhirServer`.

    An issuer that lists none may name none: its calls are answered from prefetch alone. With
    JWT checks off (`[auth] verify_jwt = false`, local play) the caller is nobody in
    particular, so only a FHIR server on this machine (`localhost`, 127.0.0.0/8, ::1) is read.
    """

    def __init__(self, by_issuer: Mapping[str, Iterable[str]], verify_jwt: bool = True) -> None:
        self._by_issuer = {
            issuer: frozenset(normalised_base_url(url) for url in urls)
            for issuer, urls in by_issuer.items()
        }
        self._verify_jwt = verify_jwt

    @classmethod
    def from_settings(cls, auth: AuthSettings) -> FhirServerAllowList:
        """The lists of the configured issuers."""
        return cls({issuer.iss: issuer.fhir_servers for issuer in auth.issuers}, auth.verify_jwt)

    def allows(self, issuer: str, base_url: str) -> bool:
        """Whether a call of this (verified) issuer may have this FHIR server read."""
        try:
            server = normalised_base_url(base_url)
        except ValueError:
            return False
        if not self._verify_jwt:
            return is_loopback_host(urlsplit(server).hostname or "")
        return server in self._by_issuer.get(issuer, frozenset())


class HookRunner:
    """Runs hook calls for the services of the catalog."""

    def __init__(
        self,
        gatherer: PatientDataGatherer,
        issued_cards: IssuedCardStore,
        pseudonymizer: PatientPseudonymizer,
        metrics: ServiceMetrics,
        fhir_servers: FhirServerAllowList,
    ) -> None:
        self._gatherer = gatherer
        self._fhir_servers = fhir_servers
        self._issued_cards = issued_cards
        self._pseudonymizer = pseudonymizer
        self._metrics = metrics

    def run(
        self,
        service: CdsService,
        request: HookRequest,
        caller: VerifiedCaller,
        config: ConfigInForce,
    ) -> Sequence[Card]:
        """The cards for this call; `PrefetchUnavailable` when required data cannot be had."""
        budget_seconds = config.config.fhir.fetch_budget_seconds
        gathered = self._gather(service, request, caller, budget_seconds)
        problems = [
            _missing_required(template.key, gathered, budget_seconds)
            for template in service.prefetch
            if template.required and template.key in gathered.unavailable
        ]
        if problems:
            for problem in problems:
                # The service's own words and its template queries: no patient data, no token.
                log.warning("%s answers 412: %s", service.id, problem)
            raise PrefetchUnavailable("required data could not be obtained", problems)
        now = datetime.now(UTC)
        record = record_from_gathered(request.patient_id or NO_PATIENT, gathered, now.date())
        # The clinician reads the plain words on the card; the integrator's note goes to the log
        # and the metrics, without ids or values (`DataIssue.log_text`, `DataIssue.kind`). The
        # gatherer has logged its own issues already.
        logged = set(gathered.issues())
        for issue in record.data_issues:
            if issue not in logged:
                log.info("%s: %s", service.id, issue.log_text)
        self._metrics.data_issues(service.id, (issue.kind for issue in record.data_issues))
        pseudonym = self._pseudonymizer.pseudonym(caller.issuer, request.patient_id or NO_PATIENT)
        history = self._issued_cards.feedback_history(
            service.id,
            pseudonym,
            now,
            overridden_days=config.policy.suppress_overridden_days,
            accepted_days=config.policy.suppress_accepted_days,
        )
        issued = service.advise(
            ServiceInput(
                service_id=service.id,
                hook=request.hook,
                hook_instance=request.hook_instance,
                context=request.context,
                record=record,
                history=history,
                policy=config.policy,
            )
        )
        self._record(service, request, caller, pseudonym, now, issued)
        return [item.card for item in issued]

    def _gather(
        self,
        service: CdsService,
        request: HookRequest,
        caller: VerifiedCaller,
        budget_seconds: float,
    ) -> GatheredData:
        # Only a request that grants access could have the server read; without a token the
        # data is simply not fetchable (NO_ACCESS), whatever the server.
        refused = (
            request.fhir_server is not None
            and request.fhir_authorization is not None
            and not self._fhir_servers.allows(caller.issuer, request.fhir_server)
        )
        if refused and request.fhir_server is not None:
            # The server's origin only: the caller's word, not patient data, never a token.
            # Info, not a warning: an EHR may send fhirServer on every call and prefetch all.
            origin = urlsplit(request.fhir_server)
            log.info(
                "fhirServer %s://%s is not among the FHIR servers of issuer %r; not contacted",
                origin.scheme,
                origin.netloc[:LOGGED_HOST_LIMIT],
                caller.issuer,
            )
        try:
            return self._gatherer.gather(
                service.prefetch,
                request.prefetch,
                request.context,
                None if refused else self._fhir_access(request, caller),
                budget_seconds,
                request.fhir_server,
                access_refused=refused,
            )
        except InvalidPrefetch as exc:
            raise InvalidRequest(
                "invalid prefetch", [Problem(f"prefetch.{exc.key}", exc.reason)]
            ) from None

    @staticmethod
    def _fhir_access(request: HookRequest, caller: VerifiedCaller) -> FhirAccess | None:
        authorization = request.fhir_authorization
        if request.fhir_server is None or authorization is None:
            return None
        # A token limited to another patient cannot read this one's chart.
        if authorization.patient is not None and authorization.patient != request.patient_id:
            return None
        return FhirAccess(
            request.fhir_server,
            authorization.access_token,
            authorization.patient,
            caller=caller.issuer,
        )

    def _record(
        self,
        service: CdsService,
        request: HookRequest,
        caller: VerifiedCaller,
        pseudonym: str,
        issued_at: datetime,
        issued: Sequence[IssuedCard],
    ) -> None:
        # The cards and the token's use in one transaction: one sync to disk per call, and the
        # answer leaves only once both are durable (docs/architecture.md, "What is written").
        recorded = self._issued_cards.record(
            [
                IssuedCardRecord(
                    card_uuid=item.card.uuid,
                    service_id=service.id,
                    issuer=caller.issuer,
                    hook_instance=request.hook_instance,
                    patient_pseudonym=pseudonym,
                    indicator=item.card.indicator.value,
                    card_type=item.card_type,
                    issued_at=issued_at,
                    band=None if item.band is None else int(item.band),
                    suggestion_kinds=item.suggestion_kinds,
                )
                for item in issued
            ],
            caller.token,
        )
        if not recorded and caller.token is not None:
            # Another call with this token committed first: this one answers nothing.
            raise replay_refused(caller.token.jti)


def _missing_required(key: str, gathered: GatheredData, budget_seconds: float) -> Problem:
    """The 412's issue for a required key with no data: the gatherer's words, or, when the
    budget ran out on it, what ran out of time and how to give it more."""
    overrun = gathered.budget_overruns.get(key)
    if overrun is None:
        return Problem(f"prefetch.{key}", gathered.unavailable[key])
    return Problem(f"prefetch.{key}", _overrun_words(overrun, budget_seconds), TIMEOUT_ISSUE)


def _overrun_words(overrun: BudgetOverrun, budget_seconds: float) -> str:
    # "Nothing" only when nothing was read: pages may have come back holding no resource.
    read = (
        f"{overrun.pages_read} page{'' if overrun.pages_read == 1 else 's'} read by then, "
        "none holding a resource"
        if overrun.pages_read
        else "nothing read by then"
    )
    return (
        f"not prefetched, and the query {overrun.template} did not finish within the fetch "
        f"budget of {budget_seconds:g} s ({read}); the budget is {FETCH_BUDGET_SETTING}"
    )
