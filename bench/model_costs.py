"""What the risk models cost: loading, one patient explained, and 10,000 patients at once.

Run: `.venv/bin/python bench/model_costs.py --write docs/benchmarks.md`
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np

from fhir_adapters.patient_record import PatientRecord
from fhir_adapters.record_builder import build_patient_record
from models.hypertension import assess_hypertension
from models.registry import load_risk_models
from models.training import nhanes
from models.training.fitting import design

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "bench"))

from report import emit  # noqa: E402
from synthetic_patients import carebundle_patient  # noqa: E402

AS_OF = date(2026, 11, 23)
SINGLE_CALLS = 2000
BATCH = 10_000
BATCH_REPEATS = 5


def _times_ms(work: Callable[[], object], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    return times


def _patient(profile: str) -> PatientRecord:
    resources = [
        {**entry["resource"], "id": f"r{n}"}
        for n, entry in enumerate(carebundle_patient(profile)["entry"])
    ]
    return build_patient_record("r0", resources, AS_OF)


def main() -> None:
    """Measure; print the section, and write it with `--write FILE`."""
    load_ms = statistics.median(_times_ms(load_risk_models, 5))
    models = load_risk_models()
    chart = _patient("healthy")
    single = {
        "diabetes-dysglycemia (logistic regression)": lambda: models.dysglycemia.predict(chart),
        "diabetes-undiagnosed (logistic regression)": lambda: models.undiagnosed_diabetes.predict(
            chart
        ),
        "hypertension-unmeasured (XGBoost, 400 trees)": lambda: (
            models.unmeasured_blood_pressure.predict(chart)
        ),
        "hypertension assessment (routing + Parikh or the model)": lambda: assess_hypertension(
            chart, models.unmeasured_blood_pressure, models.hypertension_incidence
        ),
    }
    single_rows = []
    for name, work in single.items():
        work()
        times = sorted(_times_ms(work, SINGLE_CALLS))
        single_rows.append((name, statistics.median(times), times[int(0.99 * len(times))]))

    survey = nhanes.read_survey()
    glycemia = nhanes.glycemia_population(survey).frame
    pressure = nhanes.blood_pressure_population(survey).frame
    batch_rows = []
    for model, frame in (
        (models.dysglycemia, glycemia),
        (models.unmeasured_blood_pressure, pressure),
    ):
        rows = design(model.spec, frame)
        rows = np.resize(rows, (BATCH, rows.shape[1]))  # real NHANES rows, repeated
        explain = model.scorer.explain
        ms = statistics.median(_times_ms(lambda e=explain, r=rows: e(r), BATCH_REPEATS))
        batch_rows.append((f"{model.spec.name}, inputs as a matrix", ms))
    charts = [chart] * BATCH
    ms = statistics.median(
        _times_ms(lambda: [models.unmeasured_blood_pressure.predict(c) for c in charts], 3)
    )
    batch_rows.append(("hypertension-unmeasured, one record at a time", ms))

    lines = [
        "## Risk models: prediction with its explanation",
        "",
        "Command: `.venv/bin/python bench/model_costs.py --write docs/benchmarks.md` "
        f"(one process; single calls: median and p99 of {SINGLE_CALLS}; batches: median of "
        f"{BATCH_REPEATS})",
        "",
        f"Loading and verifying every artifact (content hashes, TreeSHAP tables): "
        f"{load_ms:.0f} ms, once per worker at start-up.",
        "",
        "| one patient (carebundle `healthy`), record to explained estimate | median ms | p99 ms |",
        "|---|---:|---:|",
        *(f"| {name} | {median:.3f} | {p99:.3f} |" for name, median, p99 in single_rows),
        "",
        f"| {BATCH:,} patients, probability + exact Shapley values | ms |",
        "|---|---:|",
        *(f"| {name} | {ms:.1f} |" for name, ms in batch_rows),
        "",
        "A single estimate reads the inputs from the record, scores them and builds the",
        "explanation in the same pass; the trees' explanation is a look-up in tables built",
        "at load time (`models/tree_shap.py`), so it costs about what scoring costs.",
    ]
    emit("\n".join(lines), REPO)


if __name__ == "__main__":
    main()
