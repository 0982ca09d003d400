"""Answering one hook call: gather the data, ask the service for advice, record what was shown."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from cards.cds_card import Card
from cds_service.auth.cds_jwt import VerifiedCaller
from cds_service.catalog import CdsServiceDefinition, ServiceInput
from cds_service.errors import InvalidRequest, PrefetchUnavailable, Problem
from cds_service.privacy import PatientPseudonymizer
from cds_service.protocol import HookRequest
from cds_service.storage.stores import IssuedCardRecord, IssuedCardStore
from fhir_adapters.fhir_server import FhirAccess, FhirFetcher
from fhir_adapters.prefetch import InvalidPrefetch, PrefetchState, read_prefetch

log = logging.getLogger(__name__)

NO_PATIENT = ""


class HookRunner:
    """Runs hook calls for the services of the catalog."""

    def __init__(
        self,
        fetcher: FhirFetcher,
        issued_cards: IssuedCardStore,
        pseudonymizer: PatientPseudonymizer,
    ) -> None:
        self._fetcher = fetcher
        self._issued_cards = issued_cards
        self._pseudonymizer = pseudonymizer

    def run(
        self, service: CdsServiceDefinition, request: HookRequest, caller: VerifiedCaller
    ) -> Sequence[Card]:
        """The cards for this call; `PrefetchUnavailable` when required data cannot be had."""
        data, unavailable = self._gather(service, request)
        missing_required = [
            template.key
            for template in service.prefetch
            if template.required and template.key in unavailable
        ]
        if missing_required:
            problems = [Problem(f"prefetch.{key}", unavailable[key]) for key in missing_required]
            raise PrefetchUnavailable("required data could not be obtained", problems)
        cards = service.advise(
            ServiceInput(
                service_id=service.id,
                hook=request.hook,
                hook_instance=request.hook_instance,
                context=request.context,
                data=data,
                unavailable=unavailable,
            )
        )
        self._record(service, request, caller, cards)
        return cards

    def _gather(
        self, service: CdsServiceDefinition, request: HookRequest
    ) -> tuple[dict[str, Mapping[str, Any] | None], dict[str, str]]:
        try:
            items = read_prefetch(service.prefetch, request.prefetch)
        except InvalidPrefetch as exc:
            raise InvalidRequest(
                "invalid prefetch", [Problem(f"prefetch.{exc.key}", exc.reason)]
            ) from None
        data: dict[str, Mapping[str, Any] | None] = {}
        to_fetch: dict[str, str] = {}
        unavailable: dict[str, str] = {}
        for template in service.prefetch:
            item = items[template.key]
            if item.state is PrefetchState.PROVIDED:
                data[template.key] = item.resource
            elif item.state is PrefetchState.NO_DATA:
                data[template.key] = None
            else:
                query = template.render(request.context)
                if query is None:
                    unavailable[template.key] = "the hook context lacks what the query needs"
                else:
                    to_fetch[template.key] = query
        if not to_fetch:
            return data, unavailable
        access = self._fhir_access(request)
        if access is None:
            reason = "not prefetched, and the request grants no FHIR server access to fetch it"
            unavailable.update(dict.fromkeys(to_fetch, reason))
            return data, unavailable
        for key, result in self._fetcher.fetch_all(access, to_fetch).items():
            if isinstance(result, Exception):
                log.warning("could not fetch prefetch key %s: %s", key, type(result).__name__)
                unavailable[key] = f"not prefetched, and fetching it failed: {result}"
            else:
                data[key] = result
        return data, unavailable

    @staticmethod
    def _fhir_access(request: HookRequest) -> FhirAccess | None:
        authorization = request.fhir_authorization
        if request.fhir_server is None or authorization is None:
            return None
        # A token limited to another patient cannot read this one's chart.
        if authorization.patient is not None and authorization.patient != request.patient_id:
            return None
        return FhirAccess(request.fhir_server, authorization.access_token, authorization.patient)

    def _record(
        self,
        service: CdsServiceDefinition,
        request: HookRequest,
        caller: VerifiedCaller,
        cards: Sequence[Card],
    ) -> None:
        if not cards:
            return
        pseudonym = self._pseudonymizer.pseudonym(caller.issuer, request.patient_id or NO_PATIENT)
        issued_at = datetime.now(UTC)
        self._issued_cards.record(
            [
                IssuedCardRecord(
                    card_uuid=card.uuid,
                    service_id=service.id,
                    hook_instance=request.hook_instance,
                    patient_pseudonym=pseudonym,
                    indicator=card.indicator.value,
                    card_type=None,
                    issued_at=issued_at,
                )
                for card in cards
            ]
        )
