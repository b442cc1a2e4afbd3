"""Parses an exposition from stdin with the Python prometheus_client parsers and prints every
sample as `name<TAB>sorted labels<TAB>value`, one per line, sorted, then the families' types and
units. argv[1]: `openmetrics` (the strict OpenMetrics 1.0.0 parser) or `text` (text 0.0.4)."""

import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics
from prometheus_client.parser import text_string_to_metric_families as text

parse = {"openmetrics": openmetrics, "text": text}[sys.argv[1]]
samples, families = [], []
for family in parse(sys.stdin.read()):
    families.append(f"family\t{family.name}\t{family.type}\t{family.unit}")
    for sample in family.samples:
        labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
        samples.append(f"sample\t{sample.name}\t{labels}\t{float(sample.value)!r}")
print("\n".join(sorted(samples) + sorted(families)))
