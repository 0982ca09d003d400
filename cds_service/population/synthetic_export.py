"""A seeded generator of FHIR Bulk Data export folders, for the population tests and benchmarks.

Each generated patient is one of a few carebundle patients (the `[demo]` extra's synthetic
charts, every profile the demo and the tests use, made from fixed seeds) given a fresh id, a sex,
an age, and its measurements scaled (BMI, HbA1c, blood pressure and the rest vary together per
code), with its dates moved so that its latest measurement falls shortly before `as_of`. Only
what a `$export` of the risk services' types would hold is written: Patient, Observation,
Condition, MedicationRequest, MedicationStatement and FamilyMemberHistory, each naming its patient
as `Patient/{id}`; references to resources not exported (encounters, practitioners) are dropped.

Other source charts may be given (`chart_template` of any transaction Bundle: the Synthea
histories of `demo_ehr.patients`, ~1,500 exported resources each, for heavier charts).

Patients are written as they are made, one NDJSON line a resource, so memory does not grow with
N. The same seed, count and `as_of` give byte-identical files.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from fhir_adapters.codes import (
    LOINC_BP_PANEL,
    LOINC_DIASTOLIC,
    LOINC_GLUCOSE_FASTING,
    LOINC_GLUCOSE_SERUM,
    LOINC_HBA1C,
    LOINC_SYSTOLIC,
)
from fhir_adapters.patient_links import PATIENT, PATIENT_ELEMENT

CAREBUNDLE_PROFILES = ("healthy", "hypertension", "type2_diabetes", "ckd_stage3", "anaemia")
# Several charts per profile, so that patients of one profile differ in more than their values.
CAREBUNDLE_SEEDS = (42, 43, 44)
EXPORTED_TYPES = (
    PATIENT,
    "Observation",
    "Condition",
    "MedicationRequest",
    "MedicationStatement",
    "FamilyMemberHistory",
)
SEXES = ("female", "male")
MIN_AGE, MAX_AGE = 20, 85
# How much one patient's measurements of one code differ from the chart's (one standard
# deviation, as a fraction), and how long before `as_of` the latest measurement falls.
VALUE_SPREAD = 0.12
MAX_DAYS_SINCE_LATEST = 400
# A panel is not all measured: the share of patients whose chart lacks the glycaemic tests, and
# the blood pressures, that the source chart has (what the risk models estimate without, and
# what the report's completeness counts).
GLYCAEMIC_TESTS = frozenset({LOINC_HBA1C, LOINC_GLUCOSE_FASTING, LOINC_GLUCOSE_SERUM})
BLOOD_PRESSURES = frozenset({LOINC_BP_PANEL, LOINC_SYSTOLIC, LOINC_DIASTOLIC})
WITHOUT_GLYCAEMIC_TESTS = 0.5
WITHOUT_BLOOD_PRESSURE = 0.25
_DATE_ELEMENTS = (
    "effectiveDateTime",
    "issued",
    "authoredOn",
    "onsetDateTime",
    "abatementDateTime",
    "recordedDate",
    "dateAsserted",
)
_PERIOD_ELEMENTS = ("effectivePeriod", "onsetPeriod", "abatementPeriod")
_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})")
_URN = "urn:uuid:"
_NOT_EXPORTED = frozenset({"text", "meta"})


@dataclass(frozen=True)
class ChartTemplate:
    """One source chart: its Patient and its exported resources, as JSON text to copy from."""

    patient: str
    resources: tuple[tuple[str, str], ...]  # (resource type, JSON)
    latest: date


def carebundle_templates() -> tuple[ChartTemplate, ...]:
    """The source charts: each carebundle profile, from fixed seeds."""
    import carebundle  # the [demo] extra; imported only when an export is made

    bundles = [
        json.loads(carebundle.to_json(carebundle.generate_bundle(profile=profile, seed=seed)))
        for profile in CAREBUNDLE_PROFILES
        for seed in CAREBUNDLE_SEEDS
    ]
    return tuple(chart_template(bundle) for bundle in bundles)


def chart_template(bundle: Mapping[str, Any]) -> ChartTemplate:
    """A transaction Bundle as a source chart (its Patient and the exported types)."""
    # The narrative and profile tags are dropped: they triple the files and no rule reads them.
    resources = [
        {k: v for k, v in entry["resource"].items() if k not in _NOT_EXPORTED}
        for entry in bundle["entry"]
    ]
    patient = next(r for r in resources if r["resourceType"] == PATIENT)
    kept = tuple(
        (r["resourceType"], json.dumps(r))
        for r in resources
        if r["resourceType"] in EXPORTED_TYPES and r["resourceType"] != PATIENT
    )
    dates = [
        date.fromisoformat(match.group(1))
        for r in resources
        for element in _DATE_ELEMENTS
        if isinstance(r.get(element), str) and (match := _DATE.match(r[element]))
    ]
    return ChartTemplate(json.dumps(patient), kept, max(dates, default=date(2026, 1, 1)))


def generated_patients(
    count: int, seed: int, as_of: date, templates: Sequence[ChartTemplate]
) -> Iterator[list[dict[str, Any]]]:
    """`count` charts, each a list of resources naming its own fresh patient id."""
    # Reproducible, not secret: the same seed must give the same export.
    rng = random.Random(seed)  # noqa: S311
    for _ in range(count):
        template = templates[rng.randrange(len(templates))]
        patient_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        shift = (as_of - template.latest) - timedelta(days=rng.randrange(MAX_DAYS_SINCE_LATEST))
        patient = json.loads(template.patient)
        age = rng.randint(MIN_AGE, MAX_AGE)
        birth = date(as_of.year - age, rng.randint(1, 12), rng.randint(1, 28))
        patient.update(id=patient_id, gender=rng.choice(SEXES), birthDate=birth.isoformat())
        patient.pop("identifier", None)
        factors: dict[str, float] = {}
        left_out = GLYCAEMIC_TESTS if rng.random() < WITHOUT_GLYCAEMIC_TESTS else frozenset()
        if rng.random() < WITHOUT_BLOOD_PRESSURE:
            left_out |= BLOOD_PRESSURES
        chart = [patient]
        for number, (resource_type, text) in enumerate(template.resources):
            resource = json.loads(text)
            if left_out and _observation_code(resource) in left_out:
                continue
            resource["id"] = f"{patient_id}-{number}"
            _drop_unexported_references(resource)
            resource[PATIENT_ELEMENT[resource_type]] = {"reference": f"Patient/{patient_id}"}
            _shift_dates(resource, shift)
            if resource_type == "Observation":
                _scale_values(resource, factors, rng)
            chart.append(resource)
        yield chart


def write_synthetic_export(
    output: Path,
    patients: int,
    seed: int,
    as_of: date | None = None,
    templates: Sequence[ChartTemplate] | None = None,
) -> dict[str, int]:
    """Write an export folder of `patients` generated patients; the resources written by type."""
    as_of = as_of or datetime.now(UTC).date()
    templates = templates or carebundle_templates()
    output.mkdir(parents=True, exist_ok=True)
    counts = dict.fromkeys(EXPORTED_TYPES, 0)
    with ExitStack() as stack:
        files: dict[str, IO[str]] = {
            name: stack.enter_context((output / f"{name}.ndjson").open("w", encoding="utf-8"))
            for name in EXPORTED_TYPES
        }
        for chart in generated_patients(patients, seed, as_of, templates):
            for resource in chart:
                name = resource["resourceType"]
                files[name].write(json.dumps(resource, separators=(",", ":")) + "\n")
                counts[name] += 1
    return counts


def _observation_code(resource: Mapping[str, Any]) -> str:
    if resource.get("resourceType") != "Observation":
        return ""
    codings = resource.get("code", {}).get("coding", [])
    return str(codings[0].get("code", "")) if codings else ""


def _drop_unexported_references(resource: dict[str, Any]) -> None:
    for key in [
        key
        for key, value in resource.items()
        if isinstance(value, dict) and str(value.get("reference", "")).startswith(_URN)
    ]:
        del resource[key]


def _shift_dates(resource: dict[str, Any], shift: timedelta) -> None:
    for element in _DATE_ELEMENTS:
        _shift_date(resource, element, shift)
    for element in _PERIOD_ELEMENTS:
        period = resource.get(element)
        if isinstance(period, dict):
            _shift_date(period, "start", shift)
            _shift_date(period, "end", shift)


def _shift_date(holder: dict[str, Any], element: str, shift: timedelta) -> None:
    value = holder.get(element)
    if not isinstance(value, str):
        return
    match = _DATE.match(value)
    if match is not None:
        moved = date.fromisoformat(match.group(1)) + shift
        holder[element] = moved.isoformat() + value[len(match.group(1)) :]


def _scale_values(resource: dict[str, Any], factors: dict[str, float], rng: random.Random) -> None:
    quantities = [resource.get("valueQuantity")]
    quantities += [c.get("valueQuantity") for c in resource.get("component", [])]
    code = _observation_code(resource)
    factor = factors.setdefault(code, max(0.5, rng.gauss(1.0, VALUE_SPREAD)))
    for quantity in quantities:
        if isinstance(quantity, dict) and isinstance(quantity.get("value"), int | float):
            quantity["value"] = round(quantity["value"] * factor, 1)


def main(argv: list[str] | None = None) -> None:
    """`python -m cds_service.population.synthetic_export --patients N --output DIR --seed S`."""
    parser = argparse.ArgumentParser(description="Write a seeded synthetic FHIR Bulk export.")
    parser.add_argument("--patients", type=int, required=True)
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--as-of", type=date.fromisoformat, default=None)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    counts = write_synthetic_export(args.output, args.patients, args.seed, args.as_of)
    seconds = time.perf_counter() - started
    written = ", ".join(f"{name} {count}" for name, count in counts.items())
    sys.stdout.write(f"wrote {written} to {args.output} in {seconds:.1f} s\n")


if __name__ == "__main__":
    main()
