#!/usr/bin/env bash
# The README's test command (and CI's): installs what the tests need, then lints, type-checks
# and runs the whole suite against real servers (cdss serve, PostgreSQL) started by the tests.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-system.sh
bash scripts/install.sh --dev
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/pytest "$@"
