"""Renders and lints a Helm chart offline with PyPI's helm-python-sdk (Helm's own SDK, no helm
binary). argv: chart directory, values as JSON. Prints {"manifests": {template: text},
"lint": report} as JSON; a render error is raised."""

import json
import sys

import helm_python as helm

chart_dir, values = sys.argv[1], json.loads(sys.argv[2])
chart = helm.Chart.load(chart_dir)
manifests = chart.render(values, name="billing", namespace="monitoring", is_install=True)
report = helm.lint(chart_dir, values, strict=True)
print(json.dumps({"manifests": manifests, "lint": report}))
