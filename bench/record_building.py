"""Building a `PatientRecord` against parsing the same payload with `json.loads`.

The payloads are what an EHR would send as prefetch: a searchset Bundle of every resource of
a Synthea patient of the test suite (3,533 resources; all of it, and only the observations the
risk services ask for), of an older Synthea patient (6,184), and of a carebundle type 2 diabetes
chart. For comparison, full validation of the
same Bundle with `fhir.resources` R4B models, which the hot path does not do.

Run from the repository root: `.venv/bin/python bench/record_building.py`, with
`--write docs/benchmarks.md` to record the result. Generating the Synthea patient takes a while.
"""

from __future__ import annotations

import gc
import json
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from fhir.resources.R4B.bundle import Bundle

from fhir_adapters.codes import LOINC, RISK_OBSERVATION_LOINCS
from fhir_adapters.fhir_server import bundle_resources
from fhir_adapters.record_builder import build_patient_record

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "bench"))
from report import emit  # noqa: E402
from synthetic_patients import (  # noqa: E402
    carebundle_patient,
    large_synthea_patient,
    synthea_patients,
)

REPEATS = 15
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


def measure(name: str, payload: bytes) -> tuple[str, int, float, float, float, float]:
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


def main() -> None:
    """Measure each payload; print the section, and write it with `--write FILE`."""
    synthea = synthea_patients()["synthea-3"]
    large = large_synthea_patient()
    risk_codes = set(RISK_OBSERVATION_LOINCS)

    def risk_observation(resource: dict[str, Any]) -> bool:
        codings = (resource.get("code") or {}).get("coding") or []
        return resource["resourceType"] == "Observation" and any(
            c.get("system") == LOINC and c.get("code") in risk_codes for c in codings
        )

    payloads = [
        ("Synthea patient (synthea-3), every resource", searchset(synthea, lambda r: True)),
        ("the same, risk observations only", searchset(synthea, risk_observation)),
        ("older Synthea patient, every resource", searchset(large, lambda r: True)),
        (
            "carebundle type 2 diabetes, every resource",
            searchset(carebundle_patient("type2_diabetes"), lambda r: True),
        ),
    ]
    del synthea, large
    # The generated patients are millions of live objects; frozen, the garbage collector stops
    # walking them during the timings, as it would in a service that never held them.
    gc.collect()
    gc.freeze()
    rows = [measure(name, payload) for name, payload in payloads]
    lines = [
        "## Building the patient record",
        "",
        "Command: `.venv/bin/python bench/record_building.py --write docs/benchmarks.md` "
        f"(median of {REPEATS} runs; R4B validation median of 3; one process)",
        "",
        "| payload | resources | KiB | `json.loads` ms | record ms | record / `json.loads` "
        "| R4B validation ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {name} | {count} | {len(payload) // 1024} | {loads:.1f} | {build:.1f} "
            f"| {ratio:.2f} | {validate:.0f} |"
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
        "",
        "On this two-core machine the absolute times vary by up to half between runs (other",
        "work, the garbage collector); the ratio to `json.loads` stayed under 2 in every run.",
    ]
    emit("\n".join(lines), REPO)


if __name__ == "__main__":
    main()
