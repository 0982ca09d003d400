"""Gathering a hook call's data: the EHR's prefetch first, then the EHR's FHIR server.

For each of a service's prefetch templates the data comes from the prefetch when the EHR sent it,
and from `fhirServer` (with the request's bearer token) when the EHR sent nothing, or an
OperationOutcome, for it. A prefetched searchset that has a `next` link is completed from the
server. Attachments that are only a URL are read from the server last. All of it runs within one
time budget and one byte allowance; what could not be had is said per key, for the service to
answer 412 or to say on its card what is missing. A key the budget cut short is said as such,
with its template query (`BudgetOverrun`): docs/fhir-budget.md.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from fhir_adapters.fhir_server import (
    FHIR_SERVER_UNREADABLE,
    CallAllowance,
    FhirAccess,
    FhirFetcher,
    FhirTimeout,
    SearchRequest,
    SearchResult,
    bundle_resources,
    next_page,
)
from fhir_adapters.fhir_values import Resource
from fhir_adapters.notes import attachment_urls
from fhir_adapters.patient_links import (
    PatientScope,
    PatientSorting,
    SetAside,
    patient_urns,
    set_aside_issues,
)
from fhir_adapters.patient_record import DataIssue
from fhir_adapters.prefetch import (
    InvalidPrefetch,
    PrefetchState,
    PrefetchTemplate,
    read_prefetch,
)

log = logging.getLogger(__name__)

NO_ACCESS = "not prefetched, and the request grants no FHIR server access to fetch it"
# Every fault of the FHIR server, and a server the caller may not name, read the same to the
# caller (`FHIR_SERVER_UNREADABLE`); what went wrong goes to the log.
FETCH_FAILED = f"not prefetched, and {FHIR_SERVER_UNREADABLE}"
# The one fault said as it is: the call's time budget ran out on a server the service was let
# read (no other is ever contacted). The caller learns nothing new from it, for the answer's own
# delay already says so; the query named is the service's template as published in discovery,
# its tokens unfilled, never the rendered query (which names the patient).
FETCH_TIMED_OUT = "not prefetched, and the query {query} did not finish within the fetch budget"
NO_CONTEXT = "the hook context lacks what the query needs"
_NOTE_TYPES = frozenset({"DocumentReference", "DiagnosticReport"})


@dataclass(frozen=True)
class BudgetOverrun:
    """A key whose reading ran out of the call's time budget, told without patient data."""

    # The prefetch template as the service declares it in discovery, its tokens unfilled
    # ("Observation?patient={{context.patientId}}&..."): the rendered query names the patient.
    template: str
    # Pages read from the FHIR server before the budget ran out (a prefetched first page aside).
    pages_read: int


@dataclass(frozen=True)
class GatheredData:
    """The resources found for each prefetch key, and what could not be had."""

    resources: dict[str, tuple[Resource, ...]]
    # Keys with no data at all because it could not be obtained, and why, in the words the
    # caller may be told (`FETCH_FAILED` for every fault of the FHIR server but running out of
    # the budget, `FETCH_TIMED_OUT`).
    unavailable: dict[str, str] = field(default_factory=dict)
    # Keys with some of their pages only, and why not all.
    incomplete: dict[str, str] = field(default_factory=dict)
    # Attachment URL -> the Binary read for it, or why it could not be read.
    attachments: dict[str, Resource] = field(default_factory=dict)
    attachment_errors: dict[str, str] = field(default_factory=dict)
    # Resources left out because they name another patient.
    other_patients: tuple[str, ...] = ()
    # Each key's data in a clinician's words ("family history"), for the card's plain note.
    subjects: dict[str, str] = field(default_factory=dict)
    # Keys whose fetch failed, and the fault ("the FHIR server answered 401"): for the log only.
    fetch_faults: dict[str, str] = field(default_factory=dict)
    # Resources left out because they are linked to no patient the service can check
    # (`patient_links` says which links count).
    unlinked: tuple[SetAside, ...] = ()
    # Keys, unavailable or incomplete, whose reading the time budget cut short.
    budget_overruns: dict[str, BudgetOverrun] = field(default_factory=dict)

    def all_resources(self) -> Iterator[Resource]:
        """Every resource gathered, from every key."""
        for resources in self.resources.values():
            yield from resources

    def issues(self) -> list[DataIssue]:
        """What the record should say about data it could not gather: plain words for the card,
        the key and the reason for the integrator (the service's own words: no patient data)."""
        issues = []
        for key, reason in self.unavailable.items():
            subject = self.subjects.get(key, key)
            # A timeout's reason says it all; any other fault's words are for the log.
            fault = None if key in self.budget_overruns else self.fetch_faults.get(key)
            detail = reason if fault is None else f"{reason}: {fault}"
            issues.append(
                DataIssue(
                    f"prefetch.{key}",
                    detail,
                    clinician=f"{subject[0].upper()}{subject[1:]} could not be read",
                    log_note=f"prefetch.{key} unavailable: {detail}",
                )
            )
        for key, reason in self.incomplete.items():
            subject = self.subjects.get(key, key)
            issues.append(
                DataIssue(
                    f"prefetch.{key}",
                    f"incomplete: {reason}",
                    clinician=f"Only part of {subject} could be read",
                    log_note=f"prefetch.{key} incomplete: {reason}",
                )
            )
        issues.extend(set_aside_issues(self.unlinked, self.other_patients))
        return issues


class PatientDataGatherer:
    """Gathers the data of a hook call from its prefetch and, where needed, the FHIR server."""

    def __init__(self, fetcher: FhirFetcher, max_attachments: int = 20) -> None:
        self._fetcher = fetcher
        self._max_attachments = max_attachments

    def gather(
        self,
        templates: tuple[PrefetchTemplate, ...],
        prefetch: Mapping[str, Any] | None,
        context: Mapping[str, Any],
        access: FhirAccess | None,
        budget_seconds: float,
        fhir_server: str | None = None,
        *,
        access_refused: bool = False,
    ) -> GatheredData:
        """Every template's resources, fetched within `budget_seconds` of now; `InvalidPrefetch`
        when the EHR sent a malformed value. `fhir_server` (the request's, else the access's)
        is where an absolute reference to the patient may point. `access_refused`: the request
        named a FHIR server its caller may not name; what is missing reads as a failed fetch."""
        deadline = time.monotonic() + budget_seconds
        patient_id = context.get("patientId")
        # Without a patient id nothing can be linked to the patient: everything is set aside.
        scope = PatientScope(
            patient_id if isinstance(patient_id, str) and patient_id else None,
            fhir_server or (access.base_url if access is not None else None),
        )
        urns: dict[str, frozenset[str]] = {}
        allowance = self._fetcher.call_allowance()
        items = read_prefetch(templates, prefetch)
        resources: dict[str, tuple[Resource, ...]] = {}
        unavailable: dict[str, str] = {}
        incomplete: dict[str, str] = {}
        fetch_faults: dict[str, str] = {}
        budget_overruns: dict[str, BudgetOverrun] = {}
        requests: dict[str, SearchRequest] = {}
        for template in templates:
            item = items[template.key]
            if item.state is PrefetchState.PROVIDED and item.resource is not None:
                resources[template.key] = _provided_resources(template.key, item.resource)
                urns[template.key] = patient_urns(item.resource, scope.patient_id)
                following = next_page(item.resource) if template.all_pages else None
                if following is not None:
                    requests[template.key] = SearchRequest(following, "Bundle")
            elif item.state is PrefetchState.NO_DATA:
                resources[template.key] = ()
            else:
                query = template.render(context)
                if query is None:
                    unavailable[template.key] = NO_CONTEXT
                else:
                    requests[template.key] = SearchRequest(
                        query, template.expected_resource_type, template.all_pages
                    )
        if requests and access is None:
            for key in requests:
                if key in resources:
                    incomplete[key] = "only the first page was prefetched; " + NO_ACCESS
                else:
                    unavailable[key] = FETCH_FAILED if access_refused else NO_ACCESS
        elif requests and access is not None:
            queries = {template.key: template.query for template in templates}
            for key, result in self._fetcher.search_all(
                access, requests, deadline, allowance
            ).items():
                prefetched = key in resources
                fetched = resources.get(key, ()) + result.resources
                if isinstance(result.error, FhirTimeout):
                    budget_overruns[key] = BudgetOverrun(queries[key], result.pages)
                if result.error is not None and not fetched:
                    timed_out = isinstance(result.error, FhirTimeout)
                    unavailable[key] = (
                        FETCH_TIMED_OUT.format(query=queries[key]) if timed_out else FETCH_FAILED
                    )
                    # The error's words are the service's own: no patient data, no token.
                    fetch_faults[key] = str(result.error)
                    continue
                resources[key] = fetched
                if result.error is not None:
                    incomplete[key] = _cut_short(result, prefetched, queries[key])
                elif result.truncated:
                    incomplete[key] = "more pages than the page cap allows"
        # A server that ignores a search parameter it does not support (as FHIR allows, unless
        # asked for strict handling) answers with every patient's resources, and an EHR may
        # attach a result by an identifier alone: neither may reach this record.
        sorting = PatientSorting()
        for key, found in resources.items():
            key_scope = replace(scope, patient_urns=urns.get(key, frozenset()))
            resources[key] = sorting.keep_this_patients(found, key_scope)
        gathered = GatheredData(
            resources,
            unavailable,
            incomplete,
            other_patients=tuple(sorted(sorting.other_patients)),
            subjects={template.key: template.subject for template in templates},
            fetch_faults=fetch_faults,
            unlinked=tuple(sorted(sorting.unlinked, key=lambda item: item.reference)),
            budget_overruns=budget_overruns,
        )
        for issue in gathered.issues():
            # For the integrator: the service's own words and the server's status, no patient data.
            log.info("%s", issue.log_text)
        return self._read_attachments(gathered, access, deadline, allowance)

    def _read_attachments(
        self,
        gathered: GatheredData,
        access: FhirAccess | None,
        deadline: float,
        allowance: CallAllowance,
    ) -> GatheredData:
        urls = sorted(
            {
                url
                for resource in gathered.all_resources()
                if str(resource.get("resourceType")) in _NOTE_TYPES
                for url in attachment_urls(resource)
            }
        )
        if not urls:
            return gathered
        errors: dict[str, str] = {}
        attachments: dict[str, Resource] = {}
        to_read = urls[: self._max_attachments]
        errors.update(dict.fromkeys(urls[self._max_attachments :], "more than the cap allows"))
        if access is None:
            errors.update(dict.fromkeys(to_read, "no FHIR server access was granted"))
        else:
            for url, result in self._fetcher.read_all(access, to_read, deadline, allowance).items():
                if isinstance(result, Exception):
                    errors[url] = str(result)
                elif result.get("resourceType") != "Binary":
                    errors[url] = "the server answered with something other than a Binary"
                else:
                    attachments[url] = result
        return replace(gathered, attachments=attachments, attachment_errors=errors)


def _cut_short(result: SearchResult, prefetched: bool, query: str) -> str:
    """Why a key holds only some of its pages: what stopped the next, and for a timeout, how far
    the reading got (the budget is the integrator's to change)."""
    if not isinstance(result.error, FhirTimeout):
        return f"a later page could not be read: {result.error}"
    pages = f"{result.pages} page{'' if result.pages == 1 else 's'}"
    if not prefetched:
        read = pages
    elif result.pages:
        read = f"the prefetched first page and {pages} more"
    else:
        read = "the prefetched first page only"
    return f"{read} of the query {query} read; the next did not finish within the fetch budget"


def _provided_resources(key: str, value: Mapping[str, Any]) -> tuple[Resource, ...]:
    if value.get("resourceType") != "Bundle":
        return (value,)
    try:
        return tuple(bundle_resources(value))
    except ValueError as exc:
        raise InvalidPrefetch(key, str(exc)) from None
