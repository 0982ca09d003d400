"""Laboratory observations keep the value and unit they were reported in beside the converted one.

Issue 16 item 5: an IFCC HbA1c of 47 mmol/mol is 6.45% (NGSP), below ADA 2025's 6.5%; the card
shows it as reported, so the adapter must keep it.
"""

from __future__ import annotations

import pytest
from fhir_charts import chart, lab_result

from fhir_adapters.codes import Measure


@pytest.mark.parametrize(
    ("loinc", "value", "unit", "measure", "canonical", "converted"),
    [
        ("59261-8", 47, "mmol/mol", Measure.HBA1C, 6.45156, True),
        ("4548-4", 6.45, "%", Measure.HBA1C, 6.45, False),
        ("1558-6", 7.0, "mmol/L", Measure.GLUCOSE_FASTING, 126.112, True),
        # Glucose without a fasting status is not read as fasting (ADA criteria are by test).
        ("2345-7", 130, "mg/dL", Measure.GLUCOSE_RANDOM, 130.0, False),
        ("2339-0", 130, "mg/dL", Measure.GLUCOSE_RANDOM, 130.0, False),
    ],
)
def test_a_result_keeps_what_the_laboratory_reported(
    loinc: str,
    value: float,
    unit: str,
    measure: Measure,
    canonical: float,
    converted: bool,
) -> None:
    record = chart(lab_result(loinc, value, unit, days=5))
    (item,) = record.history(measure)
    assert item.value == pytest.approx(canonical, rel=1e-9)
    assert (item.reported_value, item.reported_unit) == (value, unit)
    assert item.converted is converted


def test_a_derived_bmi_has_no_reported_value() -> None:
    weight = lab_result("29463-7", 80.0, "kg", days=5)
    height = lab_result("8302-2", 180.0, "cm", days=5)
    record = chart(weight, height, measures=())
    (bmi,) = record.history(Measure.BMI)
    assert bmi.reported_value is None
    assert not bmi.converted


@pytest.mark.parametrize(
    ("members", "path", "reason"),
    [
        ({"status": []}, "lab-4548-4-5-9.status", "status is not a code"),
        ({"status": {}}, "lab-4548-4-5-9.status", "status is not a code"),
        (
            {"valueQuantity": {"value": 10**400, "unit": "%", "code": "%",
                               "system": "http://unitsofmeasure.org"}},
            "lab-4548-4-5-9.valueQuantity",
            "value is not a finite number",
        ),
    ],
    ids=["status-list", "status-object", "value-beyond-float-range"],
)  # fmt: skip
def test_an_observation_that_cannot_be_read_is_a_data_issue_not_an_error(
    members: dict[str, object], path: str, reason: str
) -> None:
    # Found by fuzzing a prefetch: these raised TypeError and OverflowError (a 500 for the call).
    result = lab_result("4548-4", 6.1, "%", days=5)
    result.update(members)
    record = chart(result)
    assert not list(record.history(Measure.HBA1C))
    assert [(issue.path, issue.reason) for issue in record.data_issues] == [
        (f"Observation/{path}", reason)
    ]
