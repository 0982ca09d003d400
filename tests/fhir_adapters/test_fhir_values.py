"""Reading values from FHIR JSON: a patient's name for the detail page's banner."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_adapters.fhir_values import patient_name


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        ([{"given": ["Ana", "María"], "family": "Ruiz"}], "Ana María Ruiz"),
        (
            [{"use": "nickname", "given": ["Annie"]}, {"use": "official", "family": "Ruiz"}],
            "Ruiz",
        ),
        ([{"text": "Ana Ruiz"}], "Ana Ruiz"),
        ([{"given": [7], "family": {"x": 1}, "text": "Ana"}], "Ana"),  # wrong types ignored
        ([], ""),
        (None, ""),
        (["not a name"], ""),
    ],
)
def test_the_official_name_or_the_first_is_spoken_as_given_then_family(
    names: Any, expected: str
) -> None:
    assert patient_name({"resourceType": "Patient", "id": "p", "name": names}) == expected
