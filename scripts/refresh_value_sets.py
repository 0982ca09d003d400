"""Refresh the value-set data files in fhir_adapters/value_sets/ from published expansions.

The expansions are CMS eCQM value sets from NLM's VSAC, as FHIR ValueSet resources. VSAC itself
needs a UMLS licence and a network this project's machines lack, so they are read from a git
checkout of a repository that ships them (cqframework's ecqm-content repositories keep them in
input/vocabulary/valueset/external/), at a named commit, and that commit is written into each
file. Run from the repository root:

    python scripts/refresh_value_sets.py --git-dir CHECKOUT --commit SHA \
        --repository github.com/cqframework/ecqm-content-qicore-2024

then run tests/fhir_adapters/test_value_sets.py and read the diff (docs/codes.md).
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path
from typing import Any

from fhir_adapters.codes import RXNORM, ConditionKind
from fhir_adapters.medication_classes import ingredients_in, is_non_systemic, product_classes

OUT = Path(__file__).resolve().parent.parent / "fhir_adapters" / "value_sets"
FOLDER = "input/vocabulary/valueset/external"

# Condition value sets: file name, OID, the kind each code means.
CONDITION_VALUE_SETS = (
    ("diabetes", "2.16.840.1.113883.3.464.1003.103.12.1001", ConditionKind.DIABETES),
    ("essential-hypertension", "2.16.840.1.113883.3.464.1003.104.12.1011",
     ConditionKind.HYPERTENSION),
    ("pregnancy", "2.16.840.1.113883.3.526.3.378", ConditionKind.PREGNANCY),
    ("gestational-diabetes", "2.16.840.1.113762.1.4.1029.269",
     ConditionKind.GESTATIONAL_DIABETES),
)  # fmt: skip
# Medication value sets whose RxNorm codes go into rxnorm-drugs.json.
MEDICATION_VALUE_SETS = (
    "2.16.840.1.113883.3.526.1577",  # Pharmacologic Therapy for Hypertension (CMS22)
    "2.16.840.1.113762.1.4.1248.164",  # Antihypertensives
    "2.16.840.1.113762.1.4.1196.394",  # Hypoglycemics Treatment Medications
)


def read_value_set(git_dir: Path, commit: str, oid: str) -> tuple[dict[str, Any], str]:
    """The ValueSet resource of an OID at a commit, and its path in the repository."""
    path = f"{FOLDER}/valueset-{oid}.json"
    text = subprocess.run(
        ["git", "-C", str(git_dir), "show", f"{commit}:{path}"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    resource: dict[str, Any] = json.loads(text)
    expansion = resource["expansion"]
    total = expansion.get("total")
    if total is not None and total != len(expansion["contains"]):
        raise SystemExit(f"{path}: a page of {len(expansion['contains'])} of {total} codes")
    return resource, path


def header(resource: dict[str, Any], repository: str, commit: str, path: str) -> dict[str, Any]:
    """What a data file says about where its codes came from."""
    return {
        "title": resource["title"],
        "oid": resource["id"],
        "url": resource["url"],
        "version": resource["version"],
        "expansion": resource["expansion"].get("identifier"),
        "publisher": f"{resource.get('publisher', 'NLM')} VSAC (CMS eCQM value set)",
        "copied_from": {"repository": repository, "commit": commit, "path": path},
    }


def write(name: str, content: dict[str, Any]) -> None:
    """Write one data file, one code a line so a refresh reads as a diff."""
    *head, (key, items) = content.items()
    text = json.dumps(dict(head), indent=1, ensure_ascii=False)[:-2]
    rows = ",\n".join("  " + json.dumps(item, ensure_ascii=False) for item in items)
    text += f',\n "{key}": [\n{rows}\n ]\n}}\n'
    (OUT / f"{name}.json").write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    """Write the condition value sets and rxnorm-drugs.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--git-dir", type=Path, required=True)
    parser.add_argument("--commit", required=True)
    parser.add_argument("--repository", required=True)
    args = parser.parse_args(argv)
    for name, oid, kind in CONDITION_VALUE_SETS:
        resource, path = read_value_set(args.git_dir, args.commit, oid)
        codes = sorted(
            (item["system"], item["code"], item["display"])
            for item in resource["expansion"]["contains"]
        )
        write(name, {**header(resource, args.repository, args.commit, path), "kind": kind.value,
                     "codes": [list(code) for code in codes]})  # fmt: skip
    sources = []
    drugs: dict[str, dict[str, Any]] = {}
    for oid in MEDICATION_VALUE_SETS:
        resource, path = read_value_set(args.git_dir, args.commit, oid)
        sources.append(header(resource, args.repository, args.commit, path))
        for item in resource["expansion"]["contains"]:
            if item["system"] != RXNORM:
                continue
            entry = drugs.setdefault(item["code"], {"display": item["display"], "value_sets": []})
            entry["value_sets"].append(oid)
    local = json.loads((OUT / "local-drugs.json").read_text(encoding="utf-8"))
    for code, display in local["drugs"].items():
        drugs.setdefault(code, {"display": display, "value_sets": []})
    rows = []
    for code, entry in sorted(drugs.items(), key=lambda item: int(item[0])):
        display = entry["display"]
        ingredients = ingredients_in(display)
        classes = product_classes(ingredients, is_non_systemic(display))
        rows.append({
            "rxcui": code, "display": display, "ingredients": list(ingredients),
            "classes": {drug_class.value: list(names) for drug_class, names in classes.items()},
            "value_sets": entry["value_sets"],
        })  # fmt: skip
    write("rxnorm-drugs", {
        "about": "RxNorm products of the medication value sets below and of local-drugs.json, "
                 "with their ingredients (read from the RxNorm name) and classes "
                 "(fhir_adapters.medication_classes.product_classes)",
        "sources": sources, "drugs": rows,
    })  # fmt: skip


if __name__ == "__main__":
    main()
