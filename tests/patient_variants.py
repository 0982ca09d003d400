"""Variants of carebundle patients with the mess real EHR data has: other units, loose and
home blood pressure readings, withdrawn results, implausible values, notes in several encodings.

Each is a documented, deterministic transformation of a seeded carebundle patient, never
hand-edited data. `synthetic_patients.all_patients()` includes them.
"""

from __future__ import annotations

import base64
import codecs
import copy
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from synthetic_patients import carebundle_patient

# Every resource the variants add gets a fullUrl derived from this and a descriptive name.
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://cdss.example.test/tests/synthetic-patients")

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
TERMINOLOGY = "http://terminology.hl7.org/CodeSystem"
ACT_REASON = f"{TERMINOLOGY}/v3-ActReason"
Json = dict[str, Any]
# The words carebundle opens every narrative with.
BANNER = "SYNTHETIC TEST DATA \u2014 not a real person."

# --- Building blocks for the variants ----------------------------------------------------------


def urn(name: str) -> str:
    """The fullUrl of an added resource: a name-based UUID, so every run gives the same one."""
    return f"urn:uuid:{uuid.uuid5(NAMESPACE, name)}"


def concept(system: str, code: str, display: str) -> Json:
    """A CodeableConcept with one coding and the display as its text."""
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def quantity(value: float, unit: str, code: str | None = None) -> Json:
    """A UCUM Quantity (the unit's code defaults to the unit itself)."""
    return {"value": value, "unit": unit, "system": UCUM, "code": code or unit}


def attachment(content_type: str, data: bytes, title: str) -> Json:
    """An Attachment carrying the bytes inline."""
    return {"contentType": content_type, "data": base64.b64encode(data).decode(), "title": title}


SYSTOLIC = concept(LOINC, "8480-6", "Systolic blood pressure")
DIASTOLIC = concept(LOINC, "8462-4", "Diastolic blood pressure")
BP_PANEL = concept(LOINC, "85354-9", "Blood pressure panel with all children optional")
HOME_BP_PANEL = concept(LOINC, "55284-4", "Blood pressure systolic and diastolic")
IFCC_HBA1C = concept(LOINC, "59261-8", "Hemoglobin A1c/Hemoglobin.total in Blood by IFCC protocol")
GLUCOSE = concept(LOINC, "2345-7", "Glucose [Mass/volume] in Serum or Plasma")
BMI = concept(LOINC, "39156-5", "Body mass index (BMI) [Ratio]")
WEIGHT = concept(LOINC, "29463-7", "Body weight")
PROGRESS_NOTE = concept(LOINC, "11506-3", "Progress note")
IMAGING = concept(LOINC, "18748-4", "Diagnostic imaging study")
NOTE_CATEGORY = concept(
    "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category",
    "clinical-note",
    "Clinical Note",
)
# The Binary a messy note points at by URL.
RADIOLOGY_BINARY = "messy/radiology-binary"
RADIOLOGY_BINARY_ID = str(uuid.uuid5(NAMESPACE, RADIOLOGY_BINARY))
RADIOLOGY_TEXT = "Radiology: chest X-ray shows no pneumothorax."


def narrate(resource: Json, summary: str) -> None:
    """Give a resource carebundle made a narrative that matches its changed content."""
    resource["text"] = {
        "status": "generated",
        "div": f'<div xmlns="http://www.w3.org/1999/xhtml"><p><b>{BANNER}</b></p>'
        f"<p>{summary} (synthetic).</p></div>",
    }


def resource(kind: str, patient: str, about: str = "subject", **fields: Any) -> Json:
    """A resource about the patient (named in its `about` element), tagged as test data."""
    # The same security label carebundle puts on everything it makes.
    meta = {"security": [{"system": ACT_REASON, "code": "HTEST", "display": "test health data"}]}
    return {"resourceType": kind, "meta": meta, about: {"reference": patient}, **fields}


def observation(
    patient: str, code: Json, when: str, category: str = "vital-signs", **fields: Any
) -> Json:
    """An Observation of the patient (status final unless `fields` says otherwise)."""
    display = "Vital Signs" if category == "vital-signs" else "Laboratory"
    return resource(
        "Observation",
        patient,
        status=fields.pop("status", "final"),
        category=[concept(f"{TERMINOLOGY}/observation-category", category, display)],
        code=code,
        effectiveDateTime=when,
        **fields,
    )


def bp_components(systolic: float, diastolic: float) -> list[Json]:
    """The systolic and diastolic components of a blood-pressure panel."""
    return [
        {"code": SYSTOLIC, "valueQuantity": quantity(systolic, "mmHg", "mm[Hg]")},
        {"code": DIASTOLIC, "valueQuantity": quantity(diastolic, "mmHg", "mm[Hg]")},
    ]


def condition(patient: str, code: Json, recorded: str, verification: str) -> Json:
    """A problem-list Condition with the given verification status."""
    fields: Json = {}
    # FHIR forbids a clinicalStatus on an entered-in-error Condition (con-5).
    if verification != "entered-in-error":
        fields["clinicalStatus"] = concept(f"{TERMINOLOGY}/condition-clinical", "active", "Active")
    return resource(
        "Condition",
        patient,
        verificationStatus=concept(
            f"{TERMINOLOGY}/condition-ver-status", verification, verification.capitalize()
        ),
        category=[
            concept(f"{TERMINOLOGY}/condition-category", "problem-list-item", "Problem List Item")
        ],
        code=code,
        recordedDate=recorded,
        **fields,
    )


def entry(name: str, added: Json) -> Json:
    """A transaction entry creating the resource, its fullUrl named after `name`."""
    request = {"method": "POST", "url": added["resourceType"]}
    return {"fullUrl": urn(name), "resource": added, "request": request}


def patient_url(bundle: Json) -> str:
    """The fullUrl of the bundle's Patient (entry 0 in carebundle output)."""
    first = bundle["entry"][0]
    assert first["resource"]["resourceType"] == "Patient"
    return str(first["fullUrl"])


def encounter_start(bundle: Json) -> datetime:
    """When the bundle's (single) encounter began, the anchor of every added date."""
    (start,) = (
        item["resource"]["period"]["start"]
        for item in bundle["entry"]
        if item["resource"]["resourceType"] == "Encounter"
    )
    return datetime.fromisoformat(start)


def stamp(anchor: datetime, days: int, clock: str | None = None) -> str:
    """A FHIR dateTime `days` after the anchor, at the anchor's time or at `clock` (HH:MM) UTC."""
    moment = anchor + timedelta(days=days)
    if clock is not None:
        hours, minutes = (int(part) for part in clock.split(":"))
        moment = moment.replace(hour=hours, minute=minutes, second=0)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def observations(bundle: Json, loinc: str) -> list[Json]:
    """The entries holding Observations coded with this LOINC code."""
    return [
        item
        for item in bundle["entry"]
        if item["resource"]["resourceType"] == "Observation"
        and any(c.get("code") == loinc for c in item["resource"]["code"].get("coding", []))
    ]


def the_observation(bundle: Json, loinc: str) -> Json:
    """The one Observation coded with this LOINC code (a source with more is not what we expect)."""
    (found,) = observations(bundle, loinc)
    found_resource: Json = found["resource"]
    return found_resource


def remove(bundle: Json, doomed: Iterable[Json]) -> None:
    """Remove entries, and every DiagnosticReport result pointing at them."""
    urls = {item["fullUrl"] for item in doomed}
    bundle["entry"] = [item for item in bundle["entry"] if item["fullUrl"] not in urls]
    for item in bundle["entry"]:
        if "result" in item["resource"]:
            results = item["resource"]["result"]
            item["resource"]["result"] = [ref for ref in results if ref["reference"] not in urls]


def reexpress(
    bundle: Json, loinc: str, factor: float, digits: int | None, unit: str, code: str
) -> None:
    """Divide an Observation's value by `factor` into a new UCUM unit; its narrative follows."""
    found = the_observation(bundle, loinc)
    value = round(found["valueQuantity"]["value"] / factor, digits)
    found["valueQuantity"] = quantity(value, unit, code)
    narrate(found, f"{found['code']['text']}: {value} {unit}")


# --- The variants --------------------------------------------------------------------------------


def units_variant() -> Json:
    """carebundle's type 2 diabetes patient with labs and vitals in other units, and no BMI.

    HbA1c becomes IFCC mmol/mol (LOINC 59261-8); glucose, HDL, total cholesterol and
    triglycerides mmol/L; weight pounds; height inches. LDL stays mg/dL, as a mixed record would.
    BMI is removed, so it must be derived from weight and height.
    """
    bundle = copy.deepcopy(carebundle_patient("type2_diabetes", seed=42))
    hba1c = the_observation(bundle, "4548-4")
    # The IFCC-NGSP master equation: NGSP % = 0.09148 * IFCC mmol/mol + 2.152.
    ifcc = round((hba1c["valueQuantity"]["value"] - 2.152) / 0.09148)
    hba1c["code"] = IFCC_HBA1C
    hba1c["valueQuantity"] = quantity(ifcc, "mmol/mol")
    narrate(hba1c, f"{IFCC_HBA1C['text']}: {ifcc} mmol/mol")
    reexpress(bundle, "2345-7", 18.016, 1, "mmol/L", "mmol/L")  # glucose
    reexpress(bundle, "2085-9", 38.67, 2, "mmol/L", "mmol/L")  # HDL cholesterol
    reexpress(bundle, "2093-3", 38.67, 2, "mmol/L", "mmol/L")  # total cholesterol
    reexpress(bundle, "2571-8", 88.57, 2, "mmol/L", "mmol/L")  # triglycerides
    reexpress(bundle, "29463-7", 0.45359237, 1, "lb", "[lb_av]")  # body weight
    reexpress(bundle, "8302-2", 2.54, 1, "in", "[in_i]")  # body height
    remove(bundle, observations(bundle, "39156-5"))
    return bundle


def blood_pressure_variant() -> Json:
    """carebundle's hypertension patient with the clinic blood pressure as two loose Observations,
    plus three home readings coded with the older panel code 55284-4."""
    bundle = copy.deepcopy(carebundle_patient("hypertension", seed=42))
    patient = patient_url(bundle)
    (panel,) = observations(bundle, "85354-9")
    remove(bundle, [panel])
    clinic = panel["resource"]
    shared = {key: clinic[key] for key in ("encounter", "performer") if key in clinic}
    for part in clinic["component"]:
        loose = observation(
            patient,
            part["code"],
            clinic["effectiveDateTime"],
            valueQuantity=part["valueQuantity"],
            **shared,
        )
        name = f"blood-pressure/clinic-{part['code']['coding'][0]['code']}"
        bundle["entry"].append(entry(name, loose))
    anchor = encounter_start(bundle)
    readings = {-22: (138, 88), -21: (142, 91), -20: (136, 86)}
    for days, (systolic, diastolic) in readings.items():
        home = observation(
            patient,
            HOME_BP_PANEL,
            stamp(anchor, days, "07:30"),
            method={"text": "Home blood pressure monitor"},
            performer=[{"reference": patient}],
            component=bp_components(systolic, diastolic),
        )
        bundle["entry"].append(entry(f"blood-pressure/home{days}", home))
    return bundle


def messy_variant() -> Json:
    """carebundle's healthy patient plus the record's usual mess: statuses that void a fact,
    impossible values, family history, medication as text only, and notes in awkward encodings."""
    bundle = copy.deepcopy(carebundle_patient("healthy", seed=42))
    patient = patient_url(bundle)
    anchor = encounter_start(bundle)
    hba1c = the_observation(bundle, "4548-4")
    lab = "laboratory"
    added: dict[str, Json] = {
        # Dated after the real results, so a reader that takes the latest one is tempted.
        "hba1c-entered-in-error": observation(
            patient,
            hba1c["code"],
            stamp(datetime.fromisoformat(hba1c["effectiveDateTime"]), 1),
            lab,
            status="entered-in-error",
            valueQuantity=quantity(9.9, "%"),
        ),
        "glucose-cancelled": observation(
            patient,
            GLUCOSE,
            stamp(anchor, 1),
            lab,
            status="cancelled",
            valueQuantity=quantity(250, "mg/dL"),
        ),
        "bmi-900": observation(
            patient, BMI, stamp(anchor, 1), valueQuantity=quantity(900, "kg/m2")
        ),
        "blood-pressure-20-over-80": observation(
            patient, BP_PANEL, stamp(anchor, 2), component=bp_components(20, 80)
        ),
        # Valid FHIR, unusable: a unit with neither a UCUM system nor a code.
        "weight-in-stone": observation(
            patient, WEIGHT, stamp(anchor, 3), valueQuantity={"value": 14, "unit": "stone"}
        ),
    }
    added |= messy_history(patient, stamp(anchor, 0))
    added |= messy_notes(patient, anchor)
    for name, made in added.items():
        bundle["entry"].append(entry(f"messy/{name}", made))
    binary = {"resourceType": "Binary", "id": RADIOLOGY_BINARY_ID}
    binary["contentType"] = "text/plain; charset=utf-8"
    binary["data"] = base64.b64encode(RADIOLOGY_TEXT.encode()).decode()
    # PUT with a chosen id, so a note can point at it; the fullUrl agrees with the id.
    request = {"method": "PUT", "url": f"Binary/{RADIOLOGY_BINARY_ID}"}
    bundle["entry"].append(
        {"fullUrl": urn(RADIOLOGY_BINARY), "resource": binary, "request": request}
    )
    return bundle


def messy_history(patient: str, recorded: str) -> dict[str, Json]:
    """Conditions and medications that must not count, and a family history."""
    diabetes = concept(ICD10, "E11.9", "Type 2 diabetes mellitus without complications")
    hypertension = concept(SNOMED, "38341003", "Hypertensive disorder")
    family = concept(SNOMED, "160303001", "Family history of diabetes mellitus")
    lisinopril = concept(RXNORM, "314076", "lisinopril 10 MG Oral Tablet")
    metformin = concept(RXNORM, "861007", "metformin hydrochloride 500 MG Oral Tablet")
    amlodipine = {"text": "amLODIPine 5 mg tablet"}  # no coding at all
    made = {
        # Refuted yet "active": a reader that only checks clinicalStatus is fooled.
        "condition-diabetes-refuted": condition(patient, diabetes, recorded, "refuted"),
        "condition-hypertension-entered-in-error": condition(
            patient, hypertension, recorded, "entered-in-error"
        ),
        "condition-family-history-diabetes": condition(patient, family, recorded, "confirmed"),
        "statement-lisinopril-active": resource(
            "MedicationStatement",
            patient,
            status="active",
            medicationCodeableConcept=lisinopril,
        ),
    }
    for name, status, drug in (
        ("metformin", "stopped", metformin),
        ("amlodipine", "active", amlodipine),
    ):
        made[f"request-{name}-{status}"] = resource(
            "MedicationRequest",
            patient,
            status=status,
            intent="order",
            medicationCodeableConcept=drug,
            authoredOn=recorded[:10],
        )
    relatives = {
        "mother": ("MTH", "Mother", hypertension),
        "father": ("FTH", "Father", concept(SNOMED, "44054006", "Type 2 diabetes mellitus")),
    }
    for name, (code, display, disorder) in relatives.items():
        made[f"family-history-{name}"] = resource(
            "FamilyMemberHistory",
            patient,
            about="patient",
            status="completed",
            relationship=concept(f"{TERMINOLOGY}/v3-RoleCode", code, display),
            condition=[{"code": disorder}],
        )
    return made


def messy_notes(patient: str, anchor: datetime) -> dict[str, Json]:
    """Notes in the encodings and formats real records hold, and an imaging report."""
    # An explicit byte order, so the bytes do not depend on the machine.
    utf16 = codecs.BOM_UTF16_LE + "Telehealth visit. Blood pressure at home 138/88.".encode(
        "utf-16-le"
    )
    html = (
        "<html><body><h1>Discharge summary</h1>"
        "<p>Admitted for pneumonia.<br/>Discharged home.</p></body></html>"
    )
    # Literal backslash-n pairs, as a note escaped twice on its way out of an EHR arrives.
    escaped = r"ASSESSMENT AND PLAN:\n1. Prediabetes - recheck HbA1c in 6 months.\n2. No fever."
    latin1 = "Café au lait spots noted. Patient denies chest pain.".encode("iso-8859-1")
    radiology = {"contentType": "text/plain", "url": f"Binary/{RADIOLOGY_BINARY_ID}"}
    # (name, type, attachment), one a day from 61 days before the encounter.
    notes: list[tuple[str, Json, Json]] = [
        ("latin1", PROGRESS_NOTE, attachment("text/plain; charset=ISO-8859-1", latin1, "Visit")),
        ("utf16", PROGRESS_NOTE, attachment("text/plain; charset=UTF-16", utf16, "Telehealth")),
        (
            "html",
            concept(LOINC, "18842-5", "Discharge summary"),
            attachment("text/html; charset=utf-8", html.encode(), "Discharge summary"),
        ),
        (
            "escaped",
            PROGRESS_NOTE,
            attachment("text/plain; charset=utf-8", escaped.encode(), "Plan"),
        ),
        ("pdf", PROGRESS_NOTE, attachment("application/pdf", b"%PDF-1.4 test", "Scanned letter")),
        ("binary-url", IMAGING, radiology | {"title": "Radiology"}),
    ]
    made = {
        f"note-{name}": resource(
            "DocumentReference",
            patient,
            status="current",
            type=kind,
            category=[NOTE_CATEGORY],
            date=stamp(anchor, days, "10:00"),
            content=[{"attachment": content}],
        )
        for days, (name, kind, content) in enumerate(notes, start=-61)
    }
    form = b"Chest radiograph, two views. Lungs are clear."
    made["report-chest-radiograph"] = resource(
        "DiagnosticReport",
        patient,
        status="final",
        category=[concept(f"{TERMINOLOGY}/v2-0074", "RAD", "Radiology")],
        code=IMAGING,
        effectiveDateTime=stamp(anchor, -78, "08:00"),
        conclusion="No acute cardiopulmonary abnormality.",
        presentedForm=[attachment("text/plain; charset=utf-8", form, "Chest radiograph")],
    )
    return made
