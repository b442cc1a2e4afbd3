#!/usr/bin/env bash
# The performance benchmark (docs/performance.md): installs nginx for the static-file
# baseline if it is missing, builds the exporter and the benchmark in release mode, and prints
# every figure as Markdown tables. Options go to the benchmark: ./scripts/bench.sh --help
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "nginx is missing: run 'sudo apt-get install nginx', or run this script as root" >&2
        exit 1
    fi
    echo "Installing nginx (the static-file baseline) from Debian's packages..." >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null
fi

cargo build --release --locked --bin consumption_exporter --example performance
exec target/release/examples/performance "$@"
