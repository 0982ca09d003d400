"""Synthetic patients for the tests, all seeded: carebundle and Synthea output, and variants of it.

Nothing here is hand-edited data: every bundle comes from a package with a fixed seed, or from a
documented, deterministic transformation of one. Run as a script to write them all to a folder:
`python tests/synthetic_patients.py --out DIR`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from demo_ehr.patients import (
    CAREBUNDLE_PROFILES,
    Json,
    carebundle_patient,
    synthea_patients,
)

# Tried in order by large_synthea_patient(); the first big enough wins, so the choice is stable.
LARGE_PATIENT_SEEDS = (1, 2, 3, 4, 5, 6, 7, 8)


def large_synthea_patient(min_resources: int = 3000) -> Json:
    """The first Synthea patient aged 70-85, over a fixed list of seeds, with enough entries."""
    for seed in LARGE_PATIENT_SEEDS:
        (bundle,) = synthea_patients(count=1, seed=seed, age="70-85").values()
        if len(bundle["entry"]) >= min_resources:
            return bundle
    raise RuntimeError(f"no seed in {LARGE_PATIENT_SEEDS} gives {min_resources} resources")


# The names `all_patients()` gives, in its order (for parametrising tests without building them).
PATIENT_NAMES = (
    *(f"carebundle-{profile}" for profile in CAREBUNDLE_PROFILES),
    "variant-units",
    "variant-blood-pressure",
    "variant-messy",
    "synthea-1",
    "synthea-2",
    "synthea-3",
)


def all_patients() -> dict[str, Json]:
    """Every synthetic patient by name: the carebundle profiles, the variants and Synthea's."""
    # Imported here: the variants module builds on this one's carebundle_patient().
    from patient_variants import blood_pressure_variant, messy_variant, units_variant

    patients = {
        f"carebundle-{profile}": carebundle_patient(profile) for profile in CAREBUNDLE_PROFILES
    }
    patients["variant-units"] = units_variant()
    patients["variant-blood-pressure"] = blood_pressure_variant()
    patients["variant-messy"] = messy_variant()
    patients.update(synthea_patients())
    return patients


def main(argv: list[str] | None = None) -> None:
    """Write every synthetic patient to a folder as <name>.json and list them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder to write the bundles to")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, bundle in all_patients().items():
        path = args.out / f"{name}.json"
        path.write_text(json.dumps(bundle, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"{name:28} {len(bundle['entry']):5} resources")


if __name__ == "__main__":
    main()
