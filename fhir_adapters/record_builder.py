"""Building a `PatientRecord` from the FHIR resources gathered for a hook call.

Pure: no I/O, no clock (the record's date is an argument), and independent of the order the
resources arrive in, so the same chart gives the same record whether the EHR prefetched it or
the service read it page by page.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date

from fhir_adapters.clinical_facts import (
    read_condition,
    read_family_member_history,
    read_medication,
)
from fhir_adapters.codes import PREDIABETES_INGREDIENTS, ConditionKind, DrugClass, Measure
from fhir_adapters.fhir_values import Resource, parse_date, reference_of
from fhir_adapters.gathering import GatheredData
from fhir_adapters.medication_classes import as_treatment, for_prediabetes
from fhir_adapters.notes import read_notes
from fhir_adapters.observations import read_observations
from fhir_adapters.patient_record import (
    AdministrativeSex,
    ClinicalNote,
    ClinicalStatus,
    ConditionFact,
    DataIssue,
    Demographics,
    FamilyHistoryFact,
    Measurement,
    MedicationFact,
    PatientRecord,
)
from fhir_adapters.prefetch import PrefetchTemplate
from fhir_adapters.units import UNIT_RULES, UnusableQuantity, check_range

_NOTE_TYPES = frozenset({"DocumentReference", "DiagnosticReport"})
_MEDICATION_TYPES = frozenset({"MedicationRequest", "MedicationStatement"})


@dataclass
class _Sorted:
    """Resources of one patient by the reader that handles them."""

    patients: list[Resource] = field(default_factory=list)
    observations: list[Resource] = field(default_factory=list)
    conditions: list[Resource] = field(default_factory=list)
    medication_orders: list[Resource] = field(default_factory=list)
    medications: dict[str, Resource] = field(default_factory=dict)
    family_histories: list[Resource] = field(default_factory=list)
    notes: list[Resource] = field(default_factory=list)


def build_patient_record(
    patient_id: str,
    resources: Iterable[Resource],
    as_of: date,
    fetched_attachments: Mapping[str, Mapping[str, object]] | None = None,
    attachment_errors: Mapping[str, str] | None = None,
    gathering_issues: Iterable[DataIssue] = (),
    unread_medication_lists: Iterable[str] = (),
) -> PatientRecord:
    """The record of one patient as of a date, from whatever resources were gathered;
    `unread_medication_lists` names the medication resource types that could not be read in
    full (then no card may take a drug's absence for the absence of treatment)."""
    by_kind = _sort_resources(resources)
    issues = list(gathering_issues)
    demographics = _demographics(patient_id, by_kind.patients, as_of, issues)

    observed = read_observations(by_kind.observations)
    issues.extend(observed.issues)
    measurements = observed.measurements
    _derive_bmi(measurements, issues)

    conditions: list[ConditionFact] = []
    family_history: list[FamilyHistoryFact] = list(observed.family_history)
    for resource in by_kind.conditions:
        read = read_condition(resource)
        if isinstance(read, FamilyHistoryFact):
            family_history.append(read)
        else:
            conditions.extend(read)
    for resource in by_kind.family_histories:
        family_history.extend(read_family_member_history(resource))

    medications: list[MedicationFact] = []
    for resource in by_kind.medication_orders:
        found, problems = read_medication(resource, by_kind.medications)
        medications.extend(found)
        issues.extend(problems)
    # A drug with other uses is hypertension treatment only where hypertension is evident
    # (medication_classes says why).
    hypertension_evident = any(
        item.kind is ConditionKind.HYPERTENSION
        and item.clinical_status is not ClinicalStatus.RESOLVED
        for item in conditions
    ) or any(item.drug_class is DrugClass.ANTIHYPERTENSIVE for item in medications)
    medications = [
        replace(item, drug_class=as_treatment(item.drug_class, hypertension_evident))
        for item in medications
    ]

    # Metformin alone with prediabetes and no diabetes on record treats the prediabetes.
    def on_record(kind: ConditionKind) -> bool:
        return any(
            item.kind is kind and item.clinical_status is not ClinicalStatus.RESOLVED
            for item in conditions
        )

    other_glucose_lowering = any(
        item.drug_class is DrugClass.ANTIDIABETIC and item.ingredient not in PREDIABETES_INGREDIENTS
        for item in medications
    )
    prediabetes_only = (
        on_record(ConditionKind.PREDIABETES)
        and not on_record(ConditionKind.DIABETES)
        and not other_glucose_lowering
    )
    medications = [for_prediabetes(item, prediabetes_only) for item in medications]

    notes: list[ClinicalNote] = []
    for resource in by_kind.notes:
        texts, problems = read_notes(resource, fetched_attachments or {}, attachment_errors or {})
        notes.extend(texts)
        issues.extend(problems)

    return PatientRecord(
        patient_id=patient_id,
        as_of=as_of,
        demographics=demographics,
        measurements=tuple(
            sorted(measurements, key=lambda m: (m.effective, m.source, m.measure), reverse=True)
        ),
        blood_pressure=tuple(
            sorted(observed.blood_pressure, key=lambda r: (r.effective, r.sources), reverse=True)
        ),
        smoking=tuple(
            sorted(observed.smoking, key=lambda s: (s.effective, s.source), reverse=True)
        ),
        conditions=tuple(
            sorted(
                conditions,
                key=lambda c: (c.recorded or c.onset or date.min, c.source),
                reverse=True,
            )
        ),
        medications=tuple(
            sorted(
                medications,
                key=lambda m: (m.authored or date.min, m.source, m.drug_class),
                reverse=True,
            )
        ),
        family_history=tuple(sorted(set(family_history), key=lambda f: (f.source, f.kind))),
        notes=tuple(
            sorted(
                notes,
                key=lambda n: (n.date.isoformat() if n.date else "", n.source, n.element),
                reverse=True,
            )
        ),
        data_issues=tuple(sorted(set(issues), key=lambda i: (i.path, i.reason))),
        unread_medication_lists=tuple(sorted(set(unread_medication_lists))),
    )


def record_from_gathered(patient_id: str, gathered: GatheredData, as_of: date) -> PatientRecord:
    """The record built from a hook call's gathered data, with what could not be gathered."""
    return build_patient_record(
        patient_id,
        gathered.all_resources(),
        as_of,
        fetched_attachments=gathered.attachments,
        attachment_errors=gathered.attachment_errors,
        gathering_issues=gathered.issues(),
        unread_medication_lists=_unread_medication_lists(gathered),
    )


# A key is known by the words gathering uses for what it holds (`PrefetchTemplate.subject`,
# from the query's resource type), as that is all `GatheredData` keeps of a key's query.
_MEDICATION_SUBJECTS = {
    PrefetchTemplate(kind, f"{kind}?").subject: kind for kind in sorted(_MEDICATION_TYPES)
}


def _unread_medication_lists(gathered: GatheredData) -> list[str]:
    """The medication resource types whose key could not be read, or only in part: a drug's
    absence from them is then no evidence that it is not taken."""
    return [
        _MEDICATION_SUBJECTS[subject]
        for key in (*gathered.unavailable, *gathered.incomplete)
        if (subject := gathered.subjects.get(key, "")) in _MEDICATION_SUBJECTS
    ]


def _sort_resources(resources: Iterable[Resource]) -> _Sorted:
    by_kind = _Sorted()
    seen: set[str] = set()
    for resource in resources:
        reference = reference_of(resource)
        if resource.get("id") and reference in seen:
            continue  # the same resource from two queries, or from two pages that overlapped
        seen.add(reference)
        resource_type = resource.get("resourceType")
        if resource_type == "Observation":
            by_kind.observations.append(resource)
        elif resource_type == "Condition":
            by_kind.conditions.append(resource)
        elif resource_type in _MEDICATION_TYPES:
            by_kind.medication_orders.append(resource)
        elif resource_type == "Medication":
            by_kind.medications[reference] = resource
        elif resource_type == "FamilyMemberHistory":
            by_kind.family_histories.append(resource)
        elif resource_type in _NOTE_TYPES:
            by_kind.notes.append(resource)
        elif resource_type == "Patient":
            by_kind.patients.append(resource)
    return by_kind


def _demographics(
    patient_id: str, patients: list[Resource], as_of: date, issues: list[DataIssue]
) -> Demographics:
    patient = next((p for p in patients if p.get("id") == patient_id), None)
    if patient is None:
        issues.append(DataIssue(f"Patient/{patient_id}", "the Patient resource was not available"))
        return Demographics(None, None, AdministrativeSex.UNKNOWN)
    try:
        sex = AdministrativeSex(patient.get("gender", AdministrativeSex.UNKNOWN.value))
    except ValueError:
        issues.append(DataIssue(f"Patient/{patient_id}.gender", "not a FHIR administrative sex"))
        sex = AdministrativeSex.UNKNOWN
    birth_date = parse_date(patient.get("birthDate"))
    if birth_date is None:
        if "birthDate" in patient:
            issues.append(DataIssue(f"Patient/{patient_id}.birthDate", "not a FHIR date"))
        return Demographics(None, None, sex)
    if birth_date > as_of:
        issues.append(DataIssue(f"Patient/{patient_id}.birthDate", "after the record's date"))
        return Demographics(None, None, sex)
    had_birthday = (as_of.month, as_of.day) >= (birth_date.month, birth_date.day)
    age = as_of.year - birth_date.year - (0 if had_birthday else 1)
    return Demographics(birth_date, age, sex)


def _derive_bmi(measurements: list[Measurement], issues: list[DataIssue]) -> None:
    """Add a BMI from the latest weight and height when none was recorded."""
    if any(m.measure is Measure.BMI for m in measurements):
        return
    weight = _latest(measurements, Measure.BODY_WEIGHT)
    height = _latest(measurements, Measure.BODY_HEIGHT)
    if weight is None or height is None:
        return
    bmi = weight.value / (height.value / 100.0) ** 2
    rule = UNIT_RULES[Measure.BMI]
    try:
        check_range(bmi, rule.low, rule.high, "BMI derived from weight and height", rule.canonical)
    except UnusableQuantity as exc:
        issues.append(DataIssue(f"{weight.source} and {height.source}", str(exc)))
        return
    measurements.append(
        Measurement(
            measure=Measure.BMI,
            value=bmi,
            unit=rule.canonical,
            effective=weight.effective,
            source=weight.source,
            derived_from=(weight.source, height.source),
        )
    )


def _latest(measurements: list[Measurement], measure: Measure) -> Measurement | None:
    values = [m for m in measurements if m.measure is measure]
    return max(values, key=lambda m: (m.effective, m.source)) if values else None
