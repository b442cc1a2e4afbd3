#!/usr/bin/env bash
# Installs what the tests need from Debian's packages, then runs every test.
# The tests run `prometheus` (with promtool), `prometheus-alertmanager` (with amtool), `openssl`
# (s_client), `systemd` (systemd-socket-activate, systemd-analyze), `python3-prometheus-client`
# (the OpenMetrics parser), `podman` with `runc`, `lintian` and `tinyproxy`; from PyPI helm-python-sdk,
# kubernetes-validate, check-jsonschema and focus-validator (with Python 3.12+), from npm
# @kubernetes-models/prometheus-operator, and from crates.io cargo-deb. A test fails, naming what to install, when one is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
{ command -v prometheus-alertmanager || command -v alertmanager; } >/dev/null 2>&1 && command -v amtool >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v systemd-socket-activate >/dev/null 2>&1 || missing+=(systemd)
# Debian's python, not one a version manager put first on the PATH: that is where apt installs.
/usr/bin/python3 -c 'import prometheus_client' >/dev/null 2>&1 || missing+=(python3-prometheus-client)
command -v podman >/dev/null 2>&1 || missing+=(podman)
command -v runc >/dev/null 2>&1 || missing+=(runc)
command -v lintian >/dev/null 2>&1 || missing+=(lintian)
command -v tinyproxy >/dev/null 2>&1 || missing+=(tinyproxy)
command -v jsonnet >/dev/null 2>&1 && command -v jsonnetfmt >/dev/null 2>&1 || missing+=(jsonnet)
command -v npm >/dev/null 2>&1 || missing+=(npm)
python3 -m venv --help >/dev/null 2>&1 || missing+=(python3-venv)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing ${missing[*]} from Debian's packages" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi

# PyPI and npm tools, kept beside the build (target/test-tools), installed once.
tools=target/test-tools
if [ ! -x "$tools/venv/bin/check-jsonschema" ] || [ ! -x "$tools/venv/bin/kubernetes-validate" ] \
   || ! "$tools/venv/bin/python" -c 'import helm_python' >/dev/null 2>&1; then
  echo "installing helm-python-sdk, kubernetes-validate and check-jsonschema from PyPI into $tools/venv" >&2
  python3 -m venv "$tools/venv"
  "$tools/venv/bin/pip" install --quiet --disable-pip-version-check \
    'helm-python-sdk==0.2.2' 'kubernetes-validate==1.37.0' 'check-jsonschema==0.39.0'
fi
# The FinOps Foundation's FOCUS validator needs Python 3.12 or later, which Debian 12 lacks:
# the first python3.12+ on the PATH or under pyenv.
if [ ! -x "$tools/focus-venv/bin/focus-validator" ]; then
  focus_python=""
  for candidate in python3.13 python3.12 "$HOME"/.pyenv/versions/3.1[2-9]*/bin/python3.1[2-9]; do
    if "$candidate" -c 'import sys, venv; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then
      focus_python="$candidate"
      break
    fi
  done
  if [ -z "$focus_python" ]; then
    echo "focus-validator needs Python 3.12 or later: install one (e.g. pyenv install 3.12) and run this again" >&2
    exit 1
  fi
  echo "installing focus-validator 2.2.1 from PyPI into $tools/focus-venv (with $focus_python)" >&2
  "$focus_python" -m venv "$tools/focus-venv"
  "$tools/focus-venv/bin/pip" install --quiet --disable-pip-version-check 'focus-validator==2.2.1' 'pyarrow<20'
fi
if [ ! -d "$tools/node/node_modules/@kubernetes-models/prometheus-operator" ]; then
  echo "installing @kubernetes-models/prometheus-operator from npm into $tools/node" >&2
  mkdir -p "$tools/node"
  npm install --silent --no-audit --no-fund --prefix "$tools/node" '@kubernetes-models/prometheus-operator@6'
fi
if [ ! -x "$tools/cargo/bin/cargo-deb" ]; then
  echo "installing cargo-deb from crates.io into $tools/cargo (a few minutes, once)" >&2
  cargo install --quiet --locked --version 3.8.0 --root "$tools/cargo" cargo-deb
fi

# Plain `cargo test` runs the hermetic tests only; the ones that need the tools above are
# #[ignore]d there, with the tool they need, and run here.
cargo test --locked -- --include-ignored
