#!/usr/bin/env bash
# Installs the service into .venv with the versions pinned in constraints.txt.
# Usage: [CDSS_VENV=DIR] bash scripts/install.sh [--dev|--demo|--population]
#   CDSS_VENV: the virtual environment to install into (default .venv; relative to the repo);
#     made when missing (scripts/check-base-install.sh installs the base into a fresh one)
#   --dev adds the test and lint tools (and axe-core, with npm, for the accessibility tests);
#   --demo the FHIR server and synthetic patients of `cdss demo`
#   --population Apache Spark for `cdss population score` (and Java 17+: scripts/install-system.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-}
if [ -z "$python" ]; then
  if command -v python3.11 >/dev/null 2>&1; then python=python3.11; else python=python3; fi
fi
"$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
  || { echo "Python 3.11 is required (found: $("$python" --version 2>&1))" >&2; exit 1; }

target="."
case "${1:-}" in
  --dev) target=".[dev]" ;;
  --demo) target=".[demo]" ;;
  --population) target=".[population]" ;;
esac

venv=${CDSS_VENV:-.venv}
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
# Editable, in setuptools' compat mode: the checkout itself is on sys.path, so a script run from
# tests/ or bench/ (whose folders mirror the package names) still finds the real packages.
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -c constraints.txt \
  --config-settings editable_mode=compat -e "$target"

if [ "$target" = ".[dev]" ]; then
  # The page tests check accessibility with axe-core, pinned in tests/axe/package-lock.json.
  command -v npm >/dev/null 2>&1 || {
    echo "npm is required to install axe-core for the accessibility tests (tests/axe): install Node.js 20 and npm" >&2
    exit 1
  }
  npm ci --prefix tests/axe --no-audit --no-fund --loglevel=error >/dev/null
fi
