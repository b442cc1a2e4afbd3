#!/usr/bin/env bash
# Installs what the tests need from Debian's packages, then runs every test.
# The tests run `prometheus` (with promtool), `prometheus-alertmanager` (with amtool), `openssl`
# (s_client), `systemd` (systemd-socket-activate) and `python3-prometheus-client` (the OpenMetrics
# parser); a test fails, naming the package, when one is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
{ command -v prometheus-alertmanager || command -v alertmanager; } >/dev/null 2>&1 && command -v amtool >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v systemd-socket-activate >/dev/null 2>&1 || missing+=(systemd)
# Debian's python, not one a version manager put first on the PATH: that is where apt installs.
/usr/bin/python3 -c 'import prometheus_client' >/dev/null 2>&1 || missing+=(python3-prometheus-client)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing ${missing[*]} from Debian's packages" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi

cargo test --locked
