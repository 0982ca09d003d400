#!/usr/bin/env bash
# The README's test command (and CI's): installs what the tests need, proves the README's run
# command works on a fresh venv, then lints, type-checks and runs the whole suite against real
# servers (cdss serve, PostgreSQL) started by the tests. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-system.sh
bash scripts/install.sh --dev
# The base install (no extras) in a fresh var/base-venv, serving a card from each service;
# tests/test_base_install.py then checks that venv holds no training library.
bash scripts/check-base-install.sh
export CDSS_BASE_VENV="$PWD/var/base-venv"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
# The package picture (pyproject.toml [tool.importlinter]): no arrow back up the layers, no
# runtime import of training code, Flask only in cds_service/web.
.venv/bin/lint-imports --no-logo
.venv/bin/pytest "$@"
