// Validates prometheus-operator resources (JSON, one per argument file) against npm's
// @kubernetes-models/prometheus-operator, the operator's CRD schemas. Exits 1 naming each failure.
import { readFileSync } from "node:fs";
import * as v1 from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";

let failed = false;
for (const file of process.argv.slice(2)) {
  const resource = JSON.parse(readFileSync(file, "utf8"));
  const Kind = v1[resource.kind];
  if (!Kind) {
    console.error(`${file}: ${resource.kind} is not a monitoring.coreos.com/v1 kind`);
    failed = true;
    continue;
  }
  try {
    new Kind(resource).validate();
    console.log(`${file}: ${resource.kind} valid`);
  } catch (error) {
    console.error(`${file}: ${resource.kind}: ${error.message}`);
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
