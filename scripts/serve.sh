#!/usr/bin/env bash
# The README's "run" command: install, then start the service on http://127.0.0.1:8080.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec bash scripts/start.sh "$@"
