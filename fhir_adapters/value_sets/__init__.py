"""The published value sets the adapter recognises diagnoses and medications by, read once.

The data files in `fhir_adapters/value_sets/` are CMS eCQM value sets from NLM's VSAC (Diabetes,
Essential Hypertension, Pregnancy, Gestational Diabetes; the antihypertensive and glucose-lowering
medication value sets in `rxnorm-drugs.json`), each with its OID, version, expansion and the
repository and commit it was copied from, plus the local additions in `local-conditions.json`
and `local-drugs.json`, each with its reason. docs/codes.md says how to refresh them.

`load_vocabulary()` reads them once per process (about 50 ms), on first use; the service's
start-up should call it before the workers fork so they share it. A lookup is then a dict
access, with ICD-10-CM's hierarchy as a few more (see `codes.ICD10_CM_CATEGORIES`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

from fhir_adapters.codes import (
    ICD10,
    ICD10_CM,
    ICD10_CM_CATEGORIES,
    ICD10_WHO_CATEGORIES,
    ConditionKind,
    DrugClass,
)

CONDITION_FILES = ("diabetes", "essential-hypertension", "pregnancy", "gestational-diabetes")
LOCAL_CONDITIONS = "local-conditions"
DRUG_FILE = "rxnorm-drugs"


@dataclass(frozen=True)
class ValueSetSource:
    """Where a value set's codes came from."""

    title: str
    oid: str
    version: str
    expansion: str
    copied_from: str  # "repository@commit:path"


@dataclass(frozen=True)
class RxNormProduct:
    """An RxNorm product: its name, ingredients and the classes it belongs to."""

    rxcui: str
    display: str
    ingredients: tuple[str, ...]
    classes: dict[DrugClass, tuple[str, ...]]


@dataclass(frozen=True)
class Vocabulary:
    """Every code the adapter recognises, keyed for lookup, and where each value set came from."""

    # (system, code) -> kinds; ICD-10-CM codes keyed without the dot, upper case.
    conditions: dict[tuple[str, str], tuple[ConditionKind, ...]]
    drugs: dict[str, RxNormProduct]
    sources: tuple[ValueSetSource, ...]

    def condition_kinds(self, system: str, code: str) -> tuple[ConditionKind, ...]:
        """The kinds of condition a code means: a listed code's and its ICD-10 category's."""
        if system not in (ICD10_CM, ICD10):
            return self.conditions.get((system, code.strip()), ())
        compact = _compact_icd(code)
        listed = self.conditions.get((ICD10_CM, compact), ()) if system == ICD10_CM else ()
        categories = ICD10_CM_CATEGORY_KEYS if system == ICD10_CM else ICD10_WHO_CATEGORY_KEYS
        for length in range(len(compact), 2, -1):
            kind = categories.get(compact[:length])
            if kind is not None:
                return listed if kind in listed else (*listed, kind)
        return listed


def _compact_icd(code: str) -> str:
    return code.strip().replace(".", "").upper()


ICD10_CM_CATEGORY_KEYS = {_compact_icd(code): kind for code, kind in ICD10_CM_CATEGORIES.items()}
ICD10_WHO_CATEGORY_KEYS = {_compact_icd(code): kind for code, kind in ICD10_WHO_CATEGORIES.items()}


def _read(name: str) -> dict[str, Any]:
    resource = files(__name__) / f"{name}.json"
    content: dict[str, Any] = json.loads(resource.read_text(encoding="utf-8"))
    return content


def _source(header: dict[str, Any]) -> ValueSetSource:
    origin = header["copied_from"]
    return ValueSetSource(
        title=header["title"],
        oid=header["oid"],
        version=header["version"],
        expansion=header["expansion"],
        copied_from=f"{origin['repository']}@{origin['commit']}:{origin['path']}",
    )


def _key(system: str, code: str) -> tuple[str, str]:
    return (system, _compact_icd(code)) if system == ICD10_CM else (system, code)


@cache
def load_vocabulary() -> Vocabulary:
    """The value sets, read and keyed once per process (the files are package data)."""
    kinds: dict[tuple[str, str], list[ConditionKind]] = {}
    sources: list[ValueSetSource] = []
    for name in CONDITION_FILES:
        content = _read(name)
        sources.append(_source(content))
        kind = ConditionKind(content["kind"])
        for system, code, _display in content["codes"]:
            kinds.setdefault(_key(system, code), []).append(kind)
    for system, code, _display, kind_name, _reason in _read(LOCAL_CONDITIONS)["codes"]:
        kinds.setdefault(_key(system, code), []).append(ConditionKind(kind_name))
    drug_content = _read(DRUG_FILE)
    sources.extend(_source(header) for header in drug_content["sources"])
    drugs = {
        row["rxcui"]: RxNormProduct(
            rxcui=row["rxcui"],
            display=row["display"],
            ingredients=tuple(row["ingredients"]),
            classes={DrugClass(name): tuple(found) for name, found in row["classes"].items()},
        )
        for row in drug_content["drugs"]
    }
    return Vocabulary(
        conditions={key: tuple(dict.fromkeys(found)) for key, found in kinds.items()},
        drugs=drugs,
        sources=tuple(sources),
    )
