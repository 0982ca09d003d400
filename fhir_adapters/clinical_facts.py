"""Conditions, medications and family history of interest, from their FHIR resources."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import date, datetime

from fhir_adapters.codes import (
    CONDITION_BY_SNOMED,
    FAMILY_HISTORY_FINDINGS,
    ICD10,
    ICD10_CM,
    ICD10_PREFIXES,
    INGREDIENTS,
    KINSHIP_BY_ROLE_CODE,
    ROLE_CODE,
    SNOMED,
    ConditionKind,
    DrugClass,
    Kinship,
)
from fhir_adapters.fhir_values import (
    Resource,
    code_in,
    codings,
    concept_text,
    concept_words,
    parse_date,
    period_start,
    reference_of,
    status_code,
)
from fhir_adapters.patient_record import (
    ClinicalStatus,
    ConditionFact,
    DataIssue,
    FamilyHistoryFact,
    MedicationFact,
)

_ACTIVE = frozenset({"active", "recurrence", "relapse"})
_RESOLVED = frozenset({"inactive", "remission", "resolved"})
# A diagnosis someone ruled out or withdrew is not a diagnosis.
_NOT_A_DIAGNOSIS = frozenset({"refuted", "entered-in-error"})
_ABATEMENT = ("abatementDateTime", "abatementAge", "abatementPeriod", "abatementRange",
              "abatementString")  # fmt: skip
_INGREDIENT_PATTERNS: dict[DrugClass, re.Pattern[str]] = {
    drug_class: re.compile(r"\b(" + "|".join(names) + r")\b")
    for drug_class, names in INGREDIENTS.items()
}


def condition_kind(concept: object) -> tuple[ConditionKind, str, str] | None:
    """The kind of condition a code means, with the code ("system|code") and its display."""
    for system, code, display in codings(concept):
        kind: ConditionKind | None = None
        if system == SNOMED:
            kind = CONDITION_BY_SNOMED.get(code)
        elif system in (ICD10_CM, ICD10):
            compact = code.replace(".", "").upper()
            kind = next(
                (k for prefix, k in ICD10_PREFIXES if compact.startswith(prefix.replace(".", ""))),
                None,
            )
        if kind is not None:
            return kind, f"{system}|{code}", display or concept_text(concept)
    return None


def read_condition(condition: Resource) -> ConditionFact | FamilyHistoryFact | None:
    """A diagnosis of interest, a "family history of" finding, or None."""
    verification = status_code(condition.get("verificationStatus")) or "not-stated"
    if verification in _NOT_A_DIAGNOSIS:
        return None
    for code in code_in(condition.get("code"), SNOMED):
        if code in FAMILY_HISTORY_FINDINGS:
            return FamilyHistoryFact(
                FAMILY_HISTORY_FINDINGS[code], Kinship.UNSTATED, "", reference_of(condition)
            )
    matched = condition_kind(condition.get("code"))
    if matched is None:
        return None
    kind, code, display = matched
    clinical = status_code(condition.get("clinicalStatus"))
    if kind is ConditionKind.PREGNANCY and any(key in condition for key in _ABATEMENT):
        # A pregnancy with an end is over, whatever status was left on it (FHIR con-4: an
        # abated condition is not active).
        clinical = "resolved"
    onset = parse_date(condition.get("onsetDateTime")) or _date_of(
        period_start(condition.get("onsetPeriod"))
    )
    return ConditionFact(
        kind=kind,
        clinical_status=(
            ClinicalStatus.ACTIVE
            if clinical in _ACTIVE
            else ClinicalStatus.RESOLVED
            if clinical in _RESOLVED
            else ClinicalStatus.NOT_STATED
        ),
        verification=verification,
        code=code,
        display=display,
        onset=onset,
        recorded=parse_date(condition.get("recordedDate")),
        source=reference_of(condition),
    )


def _date_of(moment: datetime | None) -> date | None:
    return moment.date() if moment is not None else None


def read_medication(
    request_or_statement: Resource, medications: Mapping[str, Resource]
) -> tuple[list[MedicationFact], list[DataIssue]]:
    """Active medications of a class of interest in a MedicationRequest or MedicationStatement.

    `medications` holds the Medication resources gathered with it, by reference, for
    `medicationReference`.
    """
    source = reference_of(request_or_statement)
    if request_or_statement.get("status") != "active":
        return [], []
    if (
        request_or_statement.get("resourceType") == "MedicationRequest"
        and request_or_statement.get("intent") == "proposal"
    ):
        return [], []
    concept = request_or_statement.get("medicationCodeableConcept")
    if concept is None:
        medication = _referenced_medication(request_or_statement, medications)
        if medication is None:
            return [], [
                DataIssue(f"{source}.medicationReference", "the Medication it names was not found")
            ]
        concept = medication.get("code")
    words = concept_words(concept)
    facts = []
    for drug_class, pattern in _INGREDIENT_PATTERNS.items():
        found = pattern.search(words)
        if found is not None:
            facts.append(
                MedicationFact(
                    drug_class=drug_class,
                    ingredient=found.group(1),
                    display=concept_text(concept),
                    authored=parse_date(
                        request_or_statement.get("authoredOn")
                        or request_or_statement.get("dateAsserted")
                    ),
                    source=source,
                )
            )
    return facts, []


def _referenced_medication(
    resource: Resource, medications: Mapping[str, Resource]
) -> Resource | None:
    reference = resource.get("medicationReference")
    target = reference.get("reference") if isinstance(reference, Mapping) else None
    if not isinstance(target, str):
        return None
    if target.startswith("#"):
        contained = resource.get("contained") or ()
        return next(
            (item for item in contained if isinstance(item, Mapping)
             and item.get("id") == target[1:]),
            None,
        )  # fmt: skip
    return medications.get(target.split("/_history/")[0])


def read_family_member_history(history: Resource) -> Iterator[FamilyHistoryFact]:
    """Each condition of interest a relative had."""
    if history.get("status") == "entered-in-error":
        return
    relationship = history.get("relationship")
    role = next(code_in(relationship, ROLE_CODE), None)
    kinship = KINSHIP_BY_ROLE_CODE.get(role, Kinship.UNSTATED) if role else Kinship.UNSTATED
    for condition in history.get("condition") or ():
        if not isinstance(condition, Mapping):
            continue
        matched = condition_kind(condition.get("code"))
        if matched is not None:
            yield FamilyHistoryFact(
                matched[0], kinship, role or concept_text(relationship), reference_of(history)
            )
