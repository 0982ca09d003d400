"""Run by tests/test_base_install.py with the base venv's Python: what importing the runtime loads.

Standard library only, as the base venv has no test tools. Reads a JSON request (the packages
to walk, the module prefixes to leave out, the modules to import first, the libraries and
distributions to look for) and writes a JSON report: the modules imported, those that failed
with their error, each library found in `sys.modules` with the module whose import loaded it,
and the distributions installed.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import pkgutil
import re
import sys
from pathlib import Path
from typing import Any


def distribution_name(name: str) -> str:
    """A distribution's name as PEP 503 normalises it (`Scikit_Learn` -> `scikit-learn`)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def probe(request: dict[str, Any]) -> dict[str, Any]:
    """Import the entry points, then walk the packages; report what happened."""
    skip: list[str] = request["skip"]
    libraries: list[str] = request["libraries"]
    imported: list[str] = []
    failed: dict[str, str] = {}
    loaded_by: dict[str, str] = {}

    def visit(name: str) -> None:
        if name in imported or name in failed:
            return
        if any(name == prefix or name.startswith(prefix + ".") for prefix in skip):
            return
        module = None
        try:
            module = importlib.import_module(name)
        except Exception as error:  # every failure is reported, none stops the walk
            failed[name] = f"{type(error).__name__}: {error}"
        for library in libraries:
            if library in sys.modules:
                loaded_by.setdefault(library, name)
        if module is None:
            return
        imported.append(name)
        # Subpackages and modules only: folders without __init__.py hold data (templates).
        for info in pkgutil.iter_modules(getattr(module, "__path__", []), name + "."):
            visit(info.name)

    for name in [*request["entry_points"], *request["packages"]]:
        visit(name)
    installed = {distribution_name(d.metadata["Name"]) for d in importlib.metadata.distributions()}
    return {
        "python": sys.executable,
        "imported": imported,
        "failed": failed,
        "loaded_libraries": loaded_by,
        "installed_distributions": sorted(installed & set(request["distributions"])),
    }


def main() -> None:
    """`python -I base_install_probe.py REQUEST.json REPORT.json`."""
    request_file, report_file = map(Path, sys.argv[1:3])
    report = probe(json.loads(request_file.read_text(encoding="utf-8")))
    report_file.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
