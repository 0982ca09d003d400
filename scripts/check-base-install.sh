#!/usr/bin/env bash
# Proves the README's run command works on a fresh machine: installs the service into a fresh
# venv (var/base-venv) exactly as scripts/serve.sh and the Dockerfile do (scripts/install.sh, no
# extras), starts `cdss serve` from it on 127.0.0.1 (SQLite, two workers, JWT checks on, a key
# made by its own `cdss keys generate`) and sends one signed patient-view, with a real prefetch
# of a synthetic patient, to each service discovery lists: each must answer 200 with a card.
# The EHR's side runs with the development venv (tests/base_install_check.py), so the base venv
# stays exactly the base install. Run by scripts/test.sh after `install.sh --dev`.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=var/base-venv
issuer=http://127.0.0.1/base-install-check
started=$SECONDS

if [ ! -x .venv/bin/python ]; then
  echo "check-base-install: needs the development venv first: bash scripts/install.sh --dev" >&2
  exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/cdss-base-check.XXXXXX")
server_pid=""
stop_server() {
  local status=$?
  if [ -n "$server_pid" ]; then
    # The server leads its own process group (setsid): gunicorn's master and its workers.
    kill -TERM -- "-$server_pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 -- "-$server_pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL -- "-$server_pid" 2>/dev/null || true
  fi
  if [ "$status" -ne 0 ] && [ -s "$work/serve.log" ]; then
    cp "$work/serve.log" var/check-base-install.serve.log
    echo "--- the end of the server's log (all of it: var/check-base-install.serve.log):" >&2
    # A line repeated (the note reader logs thousands alike) is shown once, with a count.
    awk '{ text = $0; sub(/^[0-9-]+ [0-9:,]+ /, "", text) }
         text == last { repeats++; next }
         { if (repeats) print "  (and", repeats, "more like it)"; print; last = text; repeats = 0 }
         END { if (repeats) print "  (and", repeats, "more like it)" }' \
      "$work/serve.log" | tail -n 40 >&2
  fi
  rm -rf "$work"
  if [ "$status" -ne 0 ]; then
    echo "check-base-install: FAILED after $((SECONDS - started)) s" >&2
  fi
}
trap stop_server EXIT

echo "check-base-install: installing the service into a fresh $venv (scripts/install.sh, no extras)"
rm -rf "$venv" var/check-base-install.serve.log
if ! CDSS_VENV="$venv" bash scripts/install.sh >"$work/install.log" 2>&1; then
  echo "check-base-install: scripts/install.sh failed:" >&2
  cat "$work/install.log" >&2
  exit 1
fi
installed=$("$venv/bin/python" -m pip list --format=freeze --disable-pip-version-check 2>/dev/null)
echo "  installed in $((SECONDS - started)) s: $(wc -l <<<"$installed") distributions"

port=$("$venv/bin/python" -c 'import socket
with socket.socket() as s:
    s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base_url="http://127.0.0.1:$port"
"$venv/bin/cdss" keys generate --kid base-install-check-1 \
  --private "$work/ehr.private.jwk.json" --jwks "$work/ehr.jwks.json" >/dev/null
cat >"$work/cdss.toml" <<EOF
# As config/cdss.toml, on a port of its own, with everything it writes in $work.
[server]
public_base_url = "$base_url"
host = "127.0.0.1"
port = $port
workers = 2
metrics_directory = "$work/metrics"

[storage]
database_url = "sqlite:///$work/cdss.db"

[privacy]
patient_key_file = "$work/cdss-patient.key"

[[auth.issuers]]
iss = "$issuer"
jwks_file = "$work/ehr.jwks.json"

[notes]
# No embedder line: the check proves the shipped default (MiniLM on the CPU build of torch).
# One call per service must show the note card, so it waits for the summary (the default,
# 0.4 s, answers without it the first time and with it on the next view of the chart).
answer_within_seconds = 30
EOF

echo "check-base-install: starting $venv/bin/cdss serve on $base_url"
# Without any CDSS_* variable of the caller's, which would override the configuration.
(
  while read -r name; do unset "$name"; done < <(compgen -e | grep '^CDSS_' || true)
  exec setsid "$venv/bin/cdss" serve --config "$work/cdss.toml"
) >"$work/serve.log" 2>&1 &
server_pid=$!
server_started=$(date +%s.%N)

echo "check-base-install: calling each service as an EHR does"
# The repository ahead of tests/, whose folders mirror the packages' names (as pytest's
# pythonpath = ["."] does).
PYTHONPATH="$PWD" .venv/bin/python tests/base_install_check.py --base-url "$base_url" \
  --server-pid "$server_pid" --server-started "$server_started" --ready-timeout 180 \
  --cdss "$venv/bin/cdss" --key "$work/ehr.private.jwk.json" --issuer "$issuer"
echo "check-base-install: OK in $((SECONDS - started)) s"
