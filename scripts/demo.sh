#!/usr/bin/env bash
# Try the service on this machine: a FHIR server with synthetic patients, the service, and a
# small EHR that calls it, all on 127.0.0.1 (nothing downloaded beyond the Python packages).
# Extra arguments go to `cdss demo` (--ehr-port, --cds-port, --fhir-port, --workdir).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install.sh --demo
exec .venv/bin/cdss demo "$@"
