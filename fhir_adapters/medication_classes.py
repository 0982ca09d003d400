"""Which class a medication product belongs to, from its ingredients and dose form.

An RxNorm code names a product ("amlodipine 5 MG / olmesartan medoxomil 20 MG Oral Tablet"); the
value-set data (`value_sets`) gives its ingredients and class for every code it lists, computed by
`product_classes` below when the data was refreshed. For a code it does not list, the same rule
reads the ingredients' names in the coding display or text.

The rule for drugs with other uses (`as_treatment`): a drug that lowers blood pressure but is as
often prescribed for something else counts as antihypertensive treatment only where hypertension
is evident: a hypertension diagnosis on record, or a dedicated antihypertensive taken beside it
(spironolactone added to three blood-pressure drugs is resistant-hypertension treatment).
Otherwise the patient is read as untreated: the worse mistake is the other one, taking
propranolol for migraine as treated hypertension, which hides an undiagnosed hypertension and
words a card as if the drug were failing. A skin, eye or ear form (topical minoxidil for hair
loss, timolol eye drops) is never treatment.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace

from fhir_adapters.codes import (
    HEART_FAILURE_PARTNERS,
    INGREDIENT_CLASSES,
    NON_SYSTEMIC_FORM_WORDS,
    PREDIABETES_INGREDIENTS,
    DrugClass,
)
from fhir_adapters.patient_record import MedicationFact

# Longest names first, so "enalaprilat" is not read as "enalapril".
_INGREDIENT_NAMES = re.compile(
    r"\b("
    + "|".join(
        re.escape(name)
        for name in sorted((*INGREDIENT_CLASSES, *HEART_FAILURE_PARTNERS), key=len, reverse=True)
    )
    + r")\b"
)
_NON_SYSTEMIC = re.compile(r"\b(" + "|".join(NON_SYSTEMIC_FORM_WORDS) + r")")


def ingredients_in(text: str) -> tuple[str, ...]:
    """The known ingredient names in a product's name or text, in order, each once."""
    return tuple(dict.fromkeys(_INGREDIENT_NAMES.findall(text.lower())))


def is_non_systemic(text: str) -> bool:
    """Whether a product's name says it acts on the skin, eye or ear only."""
    return _NON_SYSTEMIC.search(text.lower()) is not None


def product_classes(
    ingredients: Iterable[str], non_systemic: bool
) -> dict[DrugClass, tuple[str, ...]]:
    """Each class the product belongs to, with its ingredients of that class.

    A product with a dedicated antihypertensive is antihypertensive treatment, whatever else it
    holds (amlodipine with atorvastatin); one whose blood-pressure-lowering ingredients all have
    other uses, or that is a heart-failure combination, is `BLOOD_PRESSURE_LOWERING_OTHER_USE`.
    """
    if non_systemic:
        return {}
    names = tuple(ingredients)
    by_class: dict[DrugClass, list[str]] = {}
    for name in names:
        if name in INGREDIENT_CLASSES:
            by_class.setdefault(INGREDIENT_CLASSES[name][0], []).append(name)
    lowering = [
        *by_class.pop(DrugClass.ANTIHYPERTENSIVE, []),
        *by_class.pop(DrugClass.BLOOD_PRESSURE_LOWERING_OTHER_USE, []),
    ]
    lowering = [name for name in names if name in lowering]  # in the product's order
    result = {drug_class: tuple(found) for drug_class, found in by_class.items()}
    if lowering:
        dedicated = any(
            INGREDIENT_CLASSES[name][0] is DrugClass.ANTIHYPERTENSIVE for name in lowering
        )
        heart_failure = any(name in HEART_FAILURE_PARTNERS for name in names)
        treatment = dedicated and not heart_failure
        result[
            DrugClass.ANTIHYPERTENSIVE if treatment else DrugClass.BLOOD_PRESSURE_LOWERING_OTHER_USE
        ] = tuple(lowering)
    return result


def for_prediabetes(medication: MedicationFact, prediabetes_only: bool) -> MedicationFact:
    """Metformin alone, where prediabetes is on the record and diabetes is not (diagnosed, or
    treated with another glucose-lowering drug), is read as prediabetes treatment: otherwise the
    patient would be taken for diabetic and lose the yearly HbA1c the ADA advises."""
    if (
        prediabetes_only
        and medication.drug_class is DrugClass.ANTIDIABETIC
        and medication.ingredient in PREDIABETES_INGREDIENTS
    ):
        return replace(medication, drug_class=DrugClass.PREDIABETES_TREATMENT)
    return medication


def as_treatment(drug_class: DrugClass, hypertension_evident: bool) -> DrugClass:
    """The class a medication counts as, given whether hypertension is evident (a diagnosis on
    record, or a dedicated antihypertensive taken)."""
    if drug_class is DrugClass.BLOOD_PRESSURE_LOWERING_OTHER_USE and hypertension_evident:
        return DrugClass.ANTIHYPERTENSIVE
    return drug_class
