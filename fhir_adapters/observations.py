"""Observations to measurements, blood pressure readings and smoking status.

Blood pressure arrives as a panel (85354-9, or the older 55284-4) with systolic and diastolic
components, or as loose systolic and diastolic Observations: loose parts taken at the same
moment are paired into one reading, and a loose part that repeats a panel's value at the same
moment (as some EHRs store both) is merged into the panel's reading rather than counted twice.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fhir_adapters.codes import (
    BLOOD_PRESSURE_PANELS,
    FAMILY_HISTORY_FINDINGS,
    LOINC,
    LOINC_DIASTOLIC,
    LOINC_SMOKING_STATUS,
    LOINC_SYSTOLIC,
    MEASURE_BY_LOINC,
    SMOKING_STATUS_BY_SNOMED,
    SNOMED,
    Kinship,
)
from fhir_adapters.fhir_values import (
    JSON_OBJECT,
    Coding,
    Resource,
    code_in,
    codings,
    concept_words,
    finite_number,
    json_array,
    parse_date_time,
    period_start,
    reference_of,
)
from fhir_adapters.patient_record import (
    BloodPressureReading,
    DataIssue,
    FamilyHistoryFact,
    Measurement,
    MeasurementSetting,
    SmokingObservation,
)
from fhir_adapters.units import (
    BLOOD_PRESSURE_RULE,
    DIASTOLIC_RANGE,
    MMHG,
    SYSTOLIC_RANGE,
    UNIT_RULES,
    UnusableQuantity,
    check_range,
    read_quantity,
    to_canonical,
)

USABLE_STATUSES = frozenset({"final", "amended", "corrected"})
# Withdrawn results: not data at all, so not an issue either.
WITHDRAWN_STATUSES = frozenset({"entered-in-error", "cancelled"})


@dataclass
class ObservationFacts:
    """What the observations of one patient hold, as they are read."""

    measurements: list[Measurement] = field(default_factory=list)
    blood_pressure: list[BloodPressureReading] = field(default_factory=list)
    smoking: list[SmokingObservation] = field(default_factory=list)
    family_history: list[FamilyHistoryFact] = field(default_factory=list)
    issues: list[DataIssue] = field(default_factory=list)
    # Loose systolic/diastolic parts waiting to be paired: (moment, setting) -> part -> value.
    loose_parts: dict[tuple[datetime, MeasurementSetting], dict[str, tuple[float, str]]] = field(
        default_factory=dict
    )


def read_observations(observations: Iterable[Resource]) -> ObservationFacts:
    """Read every observation of interest; the others are skipped without a word."""
    facts = ObservationFacts()
    for observation in observations:
        # Read once: the LOINC code picks the reader, the SNOMED codes a family history finding.
        coded = codings(observation.get("code"))
        loinc = next(
            (code for system, code, _ in coded if system == LOINC and code in _LOINCS_OF_INTEREST),
            None,
        )
        if loinc is not None:
            _read_one(observation, loinc, facts)
        else:
            _read_family_history_finding(observation, coded, facts)
    _pair_loose_parts(facts)
    return facts


_LOINCS_OF_INTEREST = frozenset(
    {
        *MEASURE_BY_LOINC,
        *BLOOD_PRESSURE_PANELS,
        LOINC_SYSTOLIC,
        LOINC_DIASTOLIC,
        LOINC_SMOKING_STATUS,
    }
)


def _read_one(observation: Resource, loinc: str, facts: ObservationFacts) -> None:
    source = reference_of(observation)
    status = observation.get("status")
    if not isinstance(status, str):
        # A list or an object where FHIR has a code: the sender's fault, set aside and said.
        facts.issues.append(DataIssue(f"{source}.status", "status is not a code"))
        return
    if status in WITHDRAWN_STATUSES:
        return
    if status not in USABLE_STATUSES:
        facts.issues.append(DataIssue(f"{source}.status", f"status '{status}' is not a result"))
        return
    effective = _effective(observation)
    if effective is None:
        facts.issues.append(DataIssue(f"{source}.effective[x]", "no date"))
        return
    if loinc == LOINC_SMOKING_STATUS:
        _read_smoking(observation, source, effective, facts)
    elif loinc in BLOOD_PRESSURE_PANELS:
        _read_panel(observation, source, effective, facts)
    elif loinc in (LOINC_SYSTOLIC, LOINC_DIASTOLIC):
        _read_loose_part(observation, loinc, source, effective, facts)
    else:
        _read_measurement(observation, loinc, source, effective, facts)


def _effective(observation: Resource) -> datetime | None:
    return (
        parse_date_time(observation.get("effectiveDateTime"))
        or period_start(observation.get("effectivePeriod"))
        or parse_date_time(observation.get("effectiveInstant"))
        or parse_date_time(observation.get("issued"))
    )


def _quantity(element: Mapping[str, Any]) -> dict[str, Any]:
    quantity = element.get("valueQuantity")
    if not isinstance(quantity, dict):
        absent = concept_words(element.get("dataAbsentReason"))
        raise UnusableQuantity(f"no value ({absent})" if absent else "no quantity value")
    value = quantity.get("value")
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if is_number and finite_number(value) is None:
        # 1 followed by 400 zeros is valid JSON, but no float (nor a measurement) holds it.
        raise UnusableQuantity("value is not a finite number")
    return quantity


def _read_measurement(
    observation: Resource, loinc: str, source: str, effective: datetime, facts: ObservationFacts
) -> None:
    measure = MEASURE_BY_LOINC[loinc]
    try:
        read = read_quantity(measure, _quantity(observation))
    except UnusableQuantity as exc:
        facts.issues.append(DataIssue(f"{source}.valueQuantity", str(exc)))
        return
    facts.measurements.append(
        Measurement(
            measure,
            read.value,
            UNIT_RULES[measure].canonical,
            effective,
            source,
            reported_value=read.reported_value,
            reported_unit=read.reported_unit,
        )
    )


# Profiles that say a blood pressure was taken by the patient or a personal device: HL7 CardX
# Hypertension Management's "Self-measured Blood Pressure" (STU1), and every observation
# profile of HL7's Personal Health Device IG (readings a patient's own device sent, "in most
# cases ... outside of the health care provider's institution").
SELF_MEASURED_PROFILES = (
    "http://hl7.org/fhir/uv/cardx-htn-mng/StructureDefinition/self-measured-bp",
)
PERSONAL_DEVICE_PROFILE_PREFIX = "http://hl7.org/fhir/uv/phd/StructureDefinition/Phd"
# Who took a reading, by the resource a performer or a device names: the patient or a carer
# (RelatedPerson) at home. US Core marks patient-supplied data this way.
HOME_PERFORMERS = ("Patient/", "RelatedPerson/")
HOME_WORDS = ("home", "self", "patient-reported", "patient reported")
# Any of them anywhere in a text: one scan instead of one per word.
_HOME_WORDING = re.compile("|".join(re.escape(word) for word in HOME_WORDS))


def _setting(observation: Resource) -> MeasurementSetting:
    words = concept_words(observation.get("method"))
    if "ambulatory" in words or "24 hour" in words or "24-hour" in words:
        return MeasurementSetting.AMBULATORY
    if _HOME_WORDING.search(words):
        return MeasurementSetting.HOME
    meta = observation.get("meta")
    profiles = meta.get("profile") if isinstance(meta, JSON_OBJECT) else None
    for profile in profiles if isinstance(profiles, list) else ():
        if isinstance(profile, str) and (
            profile.split("|")[0] in SELF_MEASURED_PROFILES
            or profile.startswith(PERSONAL_DEVICE_PROFILE_PREFIX)
        ):
            return MeasurementSetting.HOME
    for performer in json_array(observation.get("performer")):
        reference = performer.get("reference") if isinstance(performer, JSON_OBJECT) else None
        # Taken by the patient or a carer: a home reading, whatever the method says.
        if isinstance(reference, str) and reference.startswith(HOME_PERFORMERS):
            return MeasurementSetting.HOME
    device = observation.get("device")
    # A device named as a home monitor ("Home blood pressure monitor"), or the category's
    # words ("patient-reported", "self-reported").
    named = device.get("display") if isinstance(device, JSON_OBJECT) else None
    category = " ".join(concept_words(item) for item in observation.get("category") or ())
    if _HOME_WORDING.search(f"{named or ''} {category}".lower()):
        return MeasurementSetting.HOME
    return MeasurementSetting.NOT_STATED


def _pressure(element: Mapping[str, Any], part: str) -> float:
    what = f"{part} pressure"
    value = to_canonical(BLOOD_PRESSURE_RULE, _quantity(element), what)
    low, high = SYSTOLIC_RANGE if part == "systolic" else DIASTOLIC_RANGE
    check_range(value, low, high, what, MMHG)
    return value


def _read_panel(
    observation: Resource, source: str, effective: datetime, facts: ObservationFacts
) -> None:
    parts: dict[str, float] = {}
    for index, component in enumerate(observation.get("component") or ()):
        if not isinstance(component, JSON_OBJECT):
            continue
        codes = code_in(component.get("code"), LOINC)
        part = (
            "systolic"
            if LOINC_SYSTOLIC in codes
            else "diastolic"
            if LOINC_DIASTOLIC in codes
            else None
        )
        if part is None:
            continue
        try:
            parts[part] = _pressure(component, part)
        except UnusableQuantity as exc:
            # One implausible part makes the whole reading suspect.
            facts.issues.append(DataIssue(f"{source}.component[{index}].valueQuantity", str(exc)))
            return
    if not parts:
        facts.issues.append(DataIssue(f"{source}.component", "no systolic or diastolic value"))
        return
    _add_reading(facts, parts.get("systolic"), parts.get("diastolic"), effective,
                 _setting(observation), (source,))  # fmt: skip


def _add_reading(
    facts: ObservationFacts,
    systolic: float | None,
    diastolic: float | None,
    effective: datetime,
    setting: MeasurementSetting,
    sources: tuple[str, ...],
) -> None:
    if systolic is not None and diastolic is not None and systolic <= diastolic:
        facts.issues.append(
            DataIssue(
                " and ".join(sources),
                f"systolic {systolic:g} {MMHG} is not above diastolic {diastolic:g} {MMHG}",
            )
        )
        return
    facts.blood_pressure.append(
        BloodPressureReading(systolic, diastolic, effective, setting, sources)
    )


def _read_loose_part(
    observation: Resource, loinc: str, source: str, effective: datetime, facts: ObservationFacts
) -> None:
    part = "systolic" if loinc == LOINC_SYSTOLIC else "diastolic"
    try:
        value = _pressure(observation, part)
    except UnusableQuantity as exc:
        facts.issues.append(DataIssue(f"{source}.valueQuantity", str(exc)))
        return
    moment = facts.loose_parts.setdefault((effective, _setting(observation)), {})
    if part in moment:
        facts.issues.append(DataIssue(source, f"a second {part} pressure at the same moment"))
        return
    moment[part] = (value, source)


def _pair_loose_parts(facts: ObservationFacts) -> None:
    panels = {(reading.effective, reading.setting): reading for reading in facts.blood_pressure}
    for (effective, setting), parts in sorted(facts.loose_parts.items()):
        systolic, systolic_source = parts.get("systolic", (None, None))
        diastolic, diastolic_source = parts.get("diastolic", (None, None))
        sources = tuple(s for s in (systolic_source, diastolic_source) if s is not None)
        panel = panels.get((effective, setting))
        if (
            panel is not None
            and systolic in (None, panel.systolic)
            and diastolic in (None, panel.diastolic)
        ):
            index = facts.blood_pressure.index(panel)
            facts.blood_pressure[index] = BloodPressureReading(
                panel.systolic, panel.diastolic, effective, setting, panel.sources + sources
            )
            continue
        _add_reading(facts, systolic, diastolic, effective, setting, sources)
    facts.loose_parts.clear()


def _read_smoking(
    observation: Resource, source: str, effective: datetime, facts: ObservationFacts
) -> None:
    value = observation.get("valueCodeableConcept")
    status = next(
        (SMOKING_STATUS_BY_SNOMED[code] for code in code_in(value, SNOMED)
         if code in SMOKING_STATUS_BY_SNOMED),
        None,
    )  # fmt: skip
    if status is None:
        codes = ", ".join(f"{system}|{code}" for system, code, _ in codings(value)) or "none"
        facts.issues.append(
            DataIssue(f"{source}.valueCodeableConcept", f"unknown smoking status code ({codes})")
        )
        return
    facts.smoking.append(SmokingObservation(status, effective, source))


def _read_family_history_finding(
    observation: Resource, coded: list[Coding], facts: ObservationFacts
) -> None:
    # "Family history of diabetes" recorded as an Observation of the patient.
    status = observation.get("status")
    if isinstance(status, str) and status in WITHDRAWN_STATUSES:
        return
    for system, code, _ in coded:
        kind = FAMILY_HISTORY_FINDINGS.get(code) if system == SNOMED else None
        if kind is not None:
            facts.family_history.append(
                FamilyHistoryFact(kind, Kinship.UNSTATED, "", reference_of(observation))
            )
            return
