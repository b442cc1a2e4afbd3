#!/usr/bin/env bash
# Writes the rules and the dashboard the mixin generates, for a selector of your own:
#   ./scripts/mixin.sh OUT_DIR ['job="billing"']
# OUT_DIR gets consumption.rules.yml (for Prometheus's rule_files) and
# consumption-dashboard.json (for Grafana). Needs jsonnet (Debian: apt-get install jsonnet).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: scripts/mixin.sh OUT_DIR [SELECTOR]}
selector=${2:-}
mkdir -p "$out"
mixin="(import 'mixin/mixin.libsonnet') + { _config+:: { consumptionExporterSelector: std.extVar('selector') } }"
jsonnet --ext-str selector="$selector" -S -e "local m = $mixin; std.manifestYamlDoc({ groups: m.prometheusRules.groups + m.prometheusAlerts.groups }, indent_array_in_object=true, quote_keys=false)" > "$out/consumption.rules.yml"
jsonnet --ext-str selector="$selector" -e "($mixin).grafanaDashboards['consumption-dashboard.json']" > "$out/consumption-dashboard.json"
echo "wrote $out/consumption.rules.yml and $out/consumption-dashboard.json" >&2
