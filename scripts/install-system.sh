#!/usr/bin/env bash
# Installs the Debian packages the test suite starts for itself: PostgreSQL, and Chromium with
# its WebDriver for the page tests; npm, which installs the pages' accessibility checker; and a
# Java runtime for Apache Spark (`cdss population score` and its tests): Spark 4 needs Java 17+.
set -euo pipefail

missing=()
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
command -v npm >/dev/null || missing+=(nodejs npm)
java_major=""
if command -v java >/dev/null; then
  java_major=$(java -version 2>&1 | sed -n '1s/.*version "\([0-9]*\).*/\1/p')
fi
[ "${java_major:-0}" -ge 17 ] || missing+=(openjdk-17-jre-headless)
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
