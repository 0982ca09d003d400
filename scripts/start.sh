#!/usr/bin/env bash
# Starts the installed service with config/cdss.toml (SQLite in var/, JWT checks on).
# On first run it makes the local EHR's signing key, which the configuration trusts.
# Extra arguments go to `cdss serve` (e.g. --port 9090).
set -euo pipefail
cd "$(dirname "$0")/.."

mkdir -p var
if [ ! -f var/local-ehr.jwks.json ]; then
  .venv/bin/cdss keys generate --kid local-ehr-1 \
    --private var/local-ehr.private.jwk.json --jwks var/local-ehr.jwks.json
fi
exec .venv/bin/cdss serve --config "${CDSS_CONFIG:-config/cdss.toml}" "$@"
