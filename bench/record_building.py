"""Building a `PatientRecord` against parsing the same payload with `json.loads`.

The payloads are what an EHR would send as prefetch: a searchset Bundle of every resource of
a Synthea patient of the test suite (3,533 resources; all of it, and only the observations the
risk services ask for), of an older Synthea patient (6,184), and of a carebundle type 2 diabetes
chart. For comparison, full validation of the
same Bundle with `fhir.resources` R4B models, which the hot path does not do. And a hook call's
own path for Synthea patient `synthea-1` (the load benchmark's): a risk service's prefetch
gathered (each resource checked to be this patient's) and the record built from it.

Run from the repository root: `.venv/bin/python bench/record_building.py`, with
`--write docs/benchmarks.md` to record the result. Generating the Synthea patient takes a while.
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from fhir.resources.R4B.bundle import Bundle

from cds_service.services.definition import RISK_PREFETCH
from fhir_adapters.codes import LOINC, RISK_OBSERVATION_LOINCS
from fhir_adapters.fhir_server import FhirFetcher, bundle_resources
from fhir_adapters.gathering import PatientDataGatherer
from fhir_adapters.record_builder import build_patient_record, record_from_gathered

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "bench"))
from load import chart_prefetch  # noqa: E402
from report import emit  # noqa: E402
from synthetic_patients import (  # noqa: E402
    carebundle_patient,
    large_synthea_patient,
    synthea_patients,
)

REPEATS = 15
# Measured changes, kept with the section (the numbers of the run that measured them).
HISTORY = (
    "",
    "Issue 19 (2026-11-30): each resource's codes read once and passed along, JSON objects",
    "checked as dicts before the slower `Mapping` ABC, each quantity's number and unit read once,",
    "a Condition's dates read only when it is a diagnosis of interest, and each patient reference",
    "matched once per search result. The same records (every synthetic patient, compared field",
    "for field); in two runs of this script before and after, one after the other (load average",
    "about 2): synthea-1's prefetch gathered and built 14.4 and 8.0 ms before, 4.5 and 4.5 ms",
    "after; synthea-3's every resource 23.4 and 22.0 ms before, 19.0 and 18.7 ms after; the older",
    "patient's 55.2 and 47.8 ms before, 45.0 and 32.7 ms after.",
)
AS_OF = date(2026, 11, 23)


def searchset(transaction: dict[str, Any], keep: Callable[[dict[str, Any]], bool]) -> bytes:
    """The transaction's resources as a searchset Bundle, with ids, as a prefetch value."""
    entries = []
    for number, entry in enumerate(transaction["entry"]):
        resource = dict(entry["resource"])
        resource.setdefault("id", f"r{number}")
        if keep(resource):
            entries.append({"fullUrl": f"urn:bench:{number}", "resource": resource})
    bundle = {"resourceType": "Bundle", "type": "searchset", "total": len(entries),
              "entry": entries}  # fmt: skip
    return json.dumps(bundle).encode()


def _median_ms(work: Callable[[], object], repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


# (payload, resources, json.loads ms, record ms, R4B validation ms or None, record/json ratio)
Row = tuple[str, int, float, float, float | None, float]


def measure(name: str, payload: bytes) -> Row:
    """(payload, resources, json.loads ms, record ms, R4B ms, record/json ratio)."""
    parsed = json.loads(payload)
    resources = bundle_resources(parsed)
    patient_id = next(r["id"] for r in resources if r["resourceType"] == "Patient") if any(
        r["resourceType"] == "Patient" for r in resources
    ) else "none"  # fmt: skip
    loads = _median_ms(lambda: json.loads(payload))
    build = _median_ms(lambda: build_patient_record(patient_id, resources, AS_OF))
    validate = _median_ms(lambda: Bundle.model_validate(parsed), repeats=3)
    return (name, len(resources), loads, build, validate, build / loads)


def measure_hook_prefetch(name: str, payload: bytes, patient_id: str) -> Row:
    """(payload, resources, json.loads ms, gathered and built ms, R4B ms, ratio) for the
    prefetch an EHR sends a risk service, as `payload`."""
    parsed = json.loads(payload)
    context = {"patientId": patient_id}
    with httpx.Client() as client, ThreadPoolExecutor(1) as executor:
        # Everything is prefetched: the fetcher is never asked to read.
        gatherer = PatientDataGatherer(FhirFetcher(client, executor))

        def gather_and_build() -> object:
            gathered = gatherer.gather(RISK_PREFETCH, parsed, context, None, 60.0)
            return record_from_gathered(patient_id, gathered, AS_OF)

        count = sum(
            len(found)
            for found in gatherer.gather(
                RISK_PREFETCH, parsed, context, None, 60.0
            ).resources.values()
        )
        loads = _median_ms(lambda: json.loads(payload))
        build = _median_ms(gather_and_build)
    return (name, count, loads, build, None, build / loads)


def main() -> None:
    """Measure each payload; print the section, and write it with `--write FILE`."""
    synthea = synthea_patients()
    large = large_synthea_patient()
    risk_codes = set(RISK_OBSERVATION_LOINCS)

    def risk_observation(resource: dict[str, Any]) -> bool:
        codings = (resource.get("code") or {}).get("coding") or []
        return resource["resourceType"] == "Observation" and any(
            c.get("system") == LOINC and c.get("code") in risk_codes for c in codings
        )

    payloads = [
        (
            "Synthea patient (synthea-3), every resource",
            searchset(synthea["synthea-3"], lambda r: True),
        ),
        ("the same, risk observations only", searchset(synthea["synthea-3"], risk_observation)),
        ("older Synthea patient, every resource", searchset(large, lambda r: True)),
        (
            "carebundle type 2 diabetes, every resource",
            searchset(carebundle_patient("type2_diabetes"), lambda r: True),
        ),
    ]
    hook_patient, hook_prefetch = chart_prefetch(synthea["synthea-1"])
    hook_payload = json.dumps(hook_prefetch).encode()
    hook_name = "Synthea patient (synthea-1), a risk service's prefetch, gathered and built"
    del synthea, large, hook_prefetch
    # The generated patients are millions of live objects; frozen, the garbage collector stops
    # walking them during the timings, as it would in a service that never held them.
    gc.collect()
    gc.freeze()
    rows = [measure(name, payload) for name, payload in payloads]
    rows.append(measure_hook_prefetch(hook_name, hook_payload, hook_patient))
    payloads.append((hook_name, hook_payload))
    load_average = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    lines = [
        "## Building the patient record",
        "",
        "Command: `.venv/bin/python bench/record_building.py --write docs/benchmarks.md` "
        f"(median of {REPEATS} runs; R4B validation median of 3; one process; load average "
        f"{load_average} at the end)",
        "",
        "| payload | resources | KiB | `json.loads` ms | record ms | record / `json.loads` "
        "| R4B validation ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {name} | {count} | {len(payload) // 1024} | {loads:.1f} | {build:.1f} "
            f"| {ratio:.2f} | {'-' if validate is None else f'{validate:.0f}'} |"
            for (name, count, loads, build, validate, ratio), (_, payload) in zip(
                rows, payloads, strict=True
            )
        ),
        "",
        '"record" is `build_patient_record` on the parsed resources: demographics, every',
        "measurement converted and range-checked, blood pressure readings paired, conditions,",
        "medications, family history and note text decoded. The hot path stays on the dicts",
        "`json.loads` gives; validating the same Bundle with `fhir.resources` R4B models costs",
        "the last column, which is why it is kept for test data and never run per request.",
        '"gathered and built" is a hook call\'s own path: the prefetch read per key, each',
        "resource checked to be this patient's (`patient_links`), then the record.",
        *HISTORY,
        "",
        "On this two-core machine the absolute times vary by up to half between runs (other",
        "work, the garbage collector); the ratio to `json.loads` stayed under 2 in every run.",
    ]
    emit("\n".join(lines), REPO)


if __name__ == "__main__":
    main()
