#!/usr/bin/env bash
# Rebuild tests/sandbox_app/: the CDS Hooks sandbox (github.com/cds-hooks/sandbox) as the static
# files its production build makes, vendored so that tests/cds_service/test_sandbox_browser.py
# drives the real sandbox offline. Needs Node 20 and npm (the registry, for `npm ci`).
#
#   bash scripts/build-sandbox.sh /path/to/sandbox-checkout [commit]
#
# The commit is read from the checkout's git when not given (a `git archive` export has none).
# The checkout's node_modules/ and build/ are written to; nothing else of it changes.
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 ]]; then
  echo "usage: $0 SANDBOX_CHECKOUT [COMMIT]" >&2
  exit 2
fi
source_dir=$(cd "$1" && pwd)
repo=$(cd "$(dirname "$0")/.." && pwd)
target="$repo/tests/sandbox_app"
commit=${2:-$(git -C "$source_dir" rev-parse HEAD)}

# What index.html and launch.html load, and the bundle's own licence notices; not the source map,
# nor what the sandbox's repository keeps in build/ for its GitHub Pages site (CNAME, jwks.json).
outputs=(
  index.html
  launch.html
  app.bundle.js
  app.bundle.js.LICENSE.txt
  smart-launch.bundle.js
  fhir-client.min.js
  cds-hooks-logo.png
)

cd "$source_dir"
# The lock file as it is; FHIR_URL unset, so the bundle keeps the sandbox's own default server.
npm ci --no-audit --no-fund
env -u FHIR_URL npm run build

rm -rf "$target"
mkdir -p "$target"
for name in "${outputs[@]}"; do
  cp "build/$name" "$target/$name"
done
cp LICENSE "$target/LICENSE"
cp NOTICE "$target/NOTICE"
cat >"$target/README.md" <<README
# The CDS Hooks sandbox, built

The static files of the CDS Hooks sandbox's production build (\`npm run build\`, that is
\`webpack --config webpack.config.prod.js\`), for \`tests/cds_service/test_sandbox_browser.py\`,
which serves them on 127.0.0.1 and drives them in headless Chromium against \`cdss serve\`.

- Source: https://github.com/cds-hooks/sandbox at commit \`$commit\`.
- Licence: Apache License 2.0 (\`LICENSE\`, \`NOTICE\`); the bundled libraries' notices are in
  \`app.bundle.js.LICENSE.txt\`. Nothing here was changed after the build.
- Built with Node $(node --version) and npm $(npm --version), by \`npm ci\` from the sandbox's
  \`package-lock.json\` then \`npm run build\`, with \`FHIR_URL\` unset.
- \`app.bundle.js\` holds the sandbox's ES384 private key (\`keys/ecprivkey.pem\` in its
  repository), with which it signs its CDS Hooks JWTs in the browser. The sandbox publishes it;
  it is no secret, and the service trusts it only with \`[auth] sandbox = true\`.
- Rebuild: \`bash scripts/build-sandbox.sh /path/to/sandbox-checkout [commit]\`; the build's
  files' sums are in \`SHA256SUMS\`.
README
# The build is reproducible (two builds of one commit gave the same bytes): a rebuild can be
# checked against the committed sums with `git diff`.
(cd "$target" && sha256sum "${outputs[@]}" >SHA256SUMS)
du -sh "$target"
