"""Prefetch templates and what an EHR sent for them."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_adapters.prefetch import InvalidPrefetch, PrefetchState, PrefetchTemplate, read_prefetch

CONTEXT = {"userId": "Practitioner/prac-7", "patientId": "pat-1", "encounterId": "enc-9"}
PATIENT = PrefetchTemplate("patient", "Patient/{{context.patientId}}")
OBSERVATIONS = PrefetchTemplate(
    "observations", "Observation?patient={{context.patientId}}&code=http://loinc.org|4548-4"
)
TEMPLATES = (PATIENT, OBSERVATIONS)


@pytest.mark.parametrize(
    ("query", "rendered"),
    [
        ("Patient/{{context.patientId}}", "Patient/pat-1"),
        ("Encounter/{{ context.encounterId }}", "Encounter/enc-9"),
        ("Practitioner/{{userPractitionerId}}", "Practitioner/prac-7"),
        (
            "Observation?patient={{context.patientId}}&_count=5",
            "Observation?patient=pat-1&_count=5",
        ),
    ],
)
def test_templates_render_from_the_context(query: str, rendered: str) -> None:
    assert PrefetchTemplate("k", query).render(CONTEXT) == rendered


def test_a_token_the_context_cannot_fill_gives_no_query() -> None:
    assert (
        PrefetchTemplate("k", "PractitionerRole/{{userPractitionerRoleId}}").render(CONTEXT) is None
    )
    assert (
        PrefetchTemplate("k", "Encounter/{{context.encounterId}}").render({"patientId": "p"})
        is None
    )


def test_values_are_url_encoded_into_the_query() -> None:
    assert PATIENT.render({"patientId": "a/b?c"}) == "Patient/a%2Fb%3Fc"


def test_tokens_outside_cds_hooks_2_are_refused_at_definition() -> None:
    with pytest.raises(ValueError, match=r"not CDS Hooks 2\.0"):
        PrefetchTemplate("k", "Observation?date=gt{{today()}}")


def test_expected_resource_type() -> None:
    assert PATIENT.expected_resource_type == "Patient"
    assert OBSERVATIONS.expected_resource_type == "Bundle"


def test_each_prefetch_state_is_recognised() -> None:
    outcome = {"resourceType": "OperationOutcome", "issue": []}

    provided = read_prefetch(
        TEMPLATES, {"patient": {"resourceType": "Patient", "id": "pat-1"}, "observations": None}
    )
    failed = read_prefetch(TEMPLATES, {"observations": outcome})

    assert provided["patient"].state is PrefetchState.PROVIDED
    assert provided["observations"].state is PrefetchState.NO_DATA
    assert failed["patient"].state is PrefetchState.MISSING
    assert failed["observations"].state is PrefetchState.FAILED
    assert read_prefetch(TEMPLATES, None)["patient"].state is PrefetchState.MISSING


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("Patient/pat-1", "no resourceType"),
        ({"id": "x"}, "no resourceType"),
        ({"resourceType": "Bundle"}, "expected Patient"),
    ],
)
def test_values_of_the_wrong_shape_are_named(value: Any, reason: str) -> None:
    with pytest.raises(InvalidPrefetch, match=reason) as raised:
        read_prefetch(TEMPLATES, {"patient": value})
    assert raised.value.key == "patient"
