"""Conditions, medications and family history of interest, from their FHIR resources.

Codes are recognised by the published value sets in `value_sets` (read once per process);
a medication without a known RxNorm code by the ingredient names in its text
(`medication_classes`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date, datetime

from fhir_adapters.codes import (
    FAMILY_HISTORY_FINDINGS,
    KINSHIP_BY_ROLE_CODE,
    ROLE_CODE,
    RXNORM,
    SNOMED,
    ConditionKind,
    DrugClass,
    Kinship,
)
from fhir_adapters.fhir_values import (
    Coding,
    Resource,
    code_in,
    codings,
    concept_text,
    concept_words,
    json_array,
    parse_date,
    period_end,
    period_start,
    reference_of,
    status_code,
)
from fhir_adapters.medication_classes import ingredients_in, is_non_systemic, product_classes
from fhir_adapters.patient_record import (
    ClinicalStatus,
    ConditionFact,
    DataIssue,
    FamilyHistoryFact,
    MedicationFact,
)
from fhir_adapters.value_sets import load_vocabulary

_ACTIVE = frozenset({"active", "recurrence", "relapse"})
_RESOLVED = frozenset({"inactive", "remission", "resolved"})
# A diagnosis someone ruled out or withdrew is not a diagnosis.
_NOT_A_DIAGNOSIS = frozenset({"refuted", "entered-in-error"})
_ABATEMENT = ("abatementDateTime", "abatementAge", "abatementPeriod", "abatementRange",
              "abatementString")  # fmt: skip


def condition_kinds(concept: object) -> list[tuple[ConditionKind, str, str]]:
    """Each kind of condition the concept's codes mean, with the code ("system|code") that
    says so and its display; a code may mean two (O24.11x: diabetes and pregnancy)."""
    return _kinds_coded(concept, codings(concept))


def _kinds_coded(concept: object, coded: list[Coding]) -> list[tuple[ConditionKind, str, str]]:
    """`condition_kinds` of a concept whose codings were read already."""
    vocabulary = load_vocabulary()
    found: dict[ConditionKind, tuple[ConditionKind, str, str]] = {}
    for system, code, display in coded:
        for kind in vocabulary.condition_kinds(system or "", code):
            found.setdefault(kind, (kind, f"{system}|{code}", display or concept_text(concept)))
    return list(found.values())


def read_condition(condition: Resource) -> list[ConditionFact] | FamilyHistoryFact:
    """The diagnoses of interest a Condition records (often none), or a "family history of"
    finding."""
    verification = status_code(condition.get("verificationStatus")) or "not-stated"
    if verification in _NOT_A_DIAGNOSIS:
        return []
    concept = condition.get("code")
    coded = codings(concept)
    for system, code, _ in coded:
        if system == SNOMED and code in FAMILY_HISTORY_FINDINGS:
            return FamilyHistoryFact(
                FAMILY_HISTORY_FINDINGS[code], Kinship.UNSTATED, "", reference_of(condition)
            )
    kinds = _kinds_coded(concept, coded)
    if not kinds:
        return []  # most of a problem list: nothing further of it is read
    stated = status_code(condition.get("clinicalStatus"))
    onset = parse_date(condition.get("onsetDateTime")) or _date_of(
        period_start(condition.get("onsetPeriod"))
    )
    abated = parse_date(condition.get("abatementDateTime")) or _date_of(
        period_end(condition.get("abatementPeriod"))
    )
    source = reference_of(condition)
    recorded = parse_date(condition.get("recordedDate"))
    facts = []
    for kind, code, display in kinds:
        clinical = stated
        if kind is ConditionKind.PREGNANCY and any(key in condition for key in _ABATEMENT):
            # A pregnancy with an end is over, whatever status was left on it (FHIR con-4: an
            # abated condition is not active).
            clinical = "resolved"
        facts.append(
            ConditionFact(
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
                recorded=recorded,
                source=source,
                abated=abated,
            )
        )
    return facts


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
    authored = parse_date(
        request_or_statement.get("authoredOn") or request_or_statement.get("dateAsserted")
    )
    return [
        MedicationFact(
            drug_class=drug_class,
            ingredient=" / ".join(ingredients),
            display=concept_text(concept),
            authored=authored,
            source=source,
        )
        for drug_class, ingredients in medication_classes(concept).items()
    ], []


def medication_classes(concept: object) -> dict[DrugClass, tuple[str, ...]]:
    """The classes of interest of a medication concept, with its ingredients of each class.

    By the RxNorm code where the value-set data lists it, else by the ingredient names and dose
    form in the codings' displays and text (an EHR's local code, a code newer than the data).
    """
    drugs = load_vocabulary().drugs
    for system, code, _display in codings(concept):
        if system == RXNORM and code in drugs:
            return drugs[code].classes
    words = concept_words(concept)
    return product_classes(ingredients_in(words), is_non_systemic(words))


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
    role = next(iter(code_in(relationship, ROLE_CODE)), None)
    kinship = KINSHIP_BY_ROLE_CODE.get(role, Kinship.UNSTATED) if role else Kinship.UNSTATED
    for condition in json_array(history.get("condition")):
        if not isinstance(condition, Mapping):
            continue
        for kind, _code, _display in condition_kinds(condition.get("code")):
            if kind is ConditionKind.PREGNANCY:
                continue  # a relative's pregnancy is no risk factor
            yield FamilyHistoryFact(
                kind, kinship, role or concept_text(relationship), reference_of(history)
            )
