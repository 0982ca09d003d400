"""Filling a service's prefetch templates from one patient's exported resources, as an EHR would.

An EHR answers each discovery template by running its FHIR query against the chart; a Bulk
export holds the same resources without a server to query. This module runs the queries the
templates use over the patient's resources: a read (`Patient/{id}`) and searches with `patient`,
`code` (token lists, `system|code`), `status`, `date` (with the `ge`, `gt`, `le`, `lt`, `eq`
prefixes), `_sort` and `_count`. A template with any other parameter is refused rather than
answered as if the parameter were not there: a search that returned more than it asks for would
put another answer on the card than the hook path gives.

A template that reads every page (`all_pages`) is answered with every match in one page, as the
service would have read the following pages from the server; one that reads the first page only
(the 20 most recent notes) is cut at `_count`. The Medications that the orders and statements
found name (`medicationReference`) come with them, as the included resources an EHR adds, so that
a drug given by reference is read as on the hook path it is when the EHR sends it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from cds_service.population.export_files import medications_named, shared_reference
from fhir_adapters.fhir_values import Resource
from fhir_adapters.patient_links import PATIENT_ELEMENT, PatientScope
from fhir_adapters.prefetch import PrefetchTemplate

# The elements a resource's clinical date is read from, in order, for `date` and `_sort=date`.
_DATE_ELEMENTS = (
    "effectiveDateTime",
    "effectiveInstant",
    "issued",
    "authoredOn",
    "onsetDateTime",
    "recordedDate",
    "date",
)
_PERIOD_ELEMENTS = ("effectivePeriod", "onsetPeriod")
_DATE_PREFIXES: dict[str, Callable[[str, str], bool]] = {
    "ge": lambda value, bound: value >= bound,
    "gt": lambda value, bound: value > bound,
    "le": lambda value, bound: value[: len(bound)] <= bound,
    "lt": lambda value, bound: value < bound,
    "eq": lambda value, bound: value.startswith(bound),
}
SEARCH_PARAMETERS = frozenset({"patient", "code", "status", "date", "_sort", "_count"})


class UnsupportedTemplate(ValueError):
    """A prefetch template whose query the export cannot answer as a FHIR server would."""


def filled_prefetch(
    templates: Sequence[PrefetchTemplate],
    patient_id: str,
    resources: Iterable[Resource],
) -> dict[str, Any]:
    """The prefetch an EHR would send for this patient's chart, key by key (a Patient read
    that finds nothing is left out, as an EHR leaves out what it cannot read)."""
    chart = tuple(resources)
    context = {"patientId": patient_id}
    prefetch: dict[str, Any] = {}
    for template in templates:
        query = template.render(context)
        if query is None:
            continue  # a template that needs more than the patient: the service says so
        if "?" not in query:
            found = _read(query, chart)
            if found is not None:
                prefetch[template.key] = found
            continue
        matches = _search(query, chart, all_pages=template.all_pages)
        prefetch[template.key] = _searchset(matches, _included_medications(matches, chart))
    return prefetch


def _read(query: str, chart: Sequence[Resource]) -> Resource | None:
    resource_type, _, resource_id = query.partition("/")
    for resource in chart:
        if resource.get("resourceType") == resource_type and resource.get("id") == resource_id:
            return resource
    return None


def _search(query: str, chart: Sequence[Resource], *, all_pages: bool) -> list[Resource]:
    parts = urlsplit(query)
    resource_type = parts.path
    parameters = parse_qsl(parts.query, keep_blank_values=True)
    unknown = sorted({name for name, _ in parameters} - SEARCH_PARAMETERS)
    if unknown:
        raise UnsupportedTemplate(f"{resource_type} search parameter(s) {', '.join(unknown)}")
    matches = [r for r in chart if r.get("resourceType") == resource_type]
    count: int | None = None
    descending: bool | None = None
    for name, value in parameters:
        if name == "patient":
            matches = [r for r in matches if _names_patient(r, resource_type, value)]
        elif name == "code":
            wanted = _tokens(value)
            matches = [r for r in matches if _has_code(r, wanted)]
        elif name == "status":
            statuses = set(value.split(","))
            matches = [r for r in matches if r.get("status") in statuses]
        elif name == "date":
            matches = [r for r in matches if _date_matches(r, value)]
        elif name == "_sort":
            descending = _sort_order(value)
        else:
            count = int(value)
    if descending is not None:
        # Undated resources last whichever way, as FHIR servers commonly sort missing values.
        dated = sorted(
            (r for r in matches if _clinical_date(r)),
            key=_clinical_date,
            reverse=descending,
        )
        matches = dated + [r for r in matches if not _clinical_date(r)]
    if count is not None and not all_pages:
        matches = matches[:count]
    return matches


def _searchset(matches: Sequence[Resource], included: Sequence[Resource]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(matches),
        "entry": [
            *({"resource": r, "search": {"mode": "match"}} for r in matches),
            *({"resource": r, "search": {"mode": "include"}} for r in included),
        ],
    }


def _included_medications(matches: Sequence[Resource], chart: Sequence[Resource]) -> list[Resource]:
    named = set(medications_named(matches))
    if not named:
        return []
    return [r for r in chart if shared_reference(r) in named]


def _names_patient(resource: Resource, resource_type: str, patient_id: str) -> bool:
    element = PATIENT_ELEMENT.get(resource_type)
    value = resource.get(element) if element is not None else None
    reference = value.get("reference") if isinstance(value, Mapping) else None
    if not isinstance(reference, str):
        return False
    return PatientScope(patient_id).patient_named(reference) == patient_id


def _tokens(value: str) -> set[tuple[str | None, str]]:
    tokens: set[tuple[str | None, str]] = set()
    for token in value.split(","):
        system, bar, code = token.rpartition("|")
        tokens.add((system if bar else None, code))
    return tokens


def _has_code(resource: Resource, wanted: set[tuple[str | None, str]]) -> bool:
    code = resource.get("code")
    codings = code.get("coding") if isinstance(code, Mapping) else None
    for coding in codings if isinstance(codings, list) else ():
        if not isinstance(coding, Mapping):
            continue
        system, value = coding.get("system"), coding.get("code")
        if (system, value) in wanted or (None, value) in wanted:
            return True
    return False


def _clinical_date(resource: Resource) -> str:
    for element in _DATE_ELEMENTS:
        value = resource.get(element)
        if isinstance(value, str) and value:
            return value
    for element in _PERIOD_ELEMENTS:
        period = resource.get(element)
        start = period.get("start") if isinstance(period, Mapping) else None
        if isinstance(start, str) and start:
            return start
    return ""


def _date_matches(resource: Resource, value: str) -> bool:
    prefix, bound = value[:2], value[2:]
    compare = _DATE_PREFIXES.get(prefix)
    if compare is None:
        compare, bound = _DATE_PREFIXES["eq"], value
    found = _clinical_date(resource)
    return bool(found) and compare(found, bound)


def _sort_order(value: str) -> bool:
    if value.lstrip("-") != "date":
        raise UnsupportedTemplate(f"_sort={value}")
    return value.startswith("-")
