#!/usr/bin/env python3
"""Rebuilds tests/fixtures/vendor-specs/ from the vendors' own machine-readable contracts.

The artefacts are fetched by hand (CI never downloads them) as git checkouts pinned below:

    scripts/vendor-specs.py --dynatrace DIR --uipath DIR --graph DIR --qlik NPM_DIR --powerplatform PKG_DIR

DIR is a clone of the repository named in SOURCES (its pinned commit is read with `git show`,
whatever is checked out). NPM_DIR is a directory where
`npm install @qlik/api@2.19.0 ts-json-schema-generator@2 typescript@5` was run: Qlik publishes
its contract as the TypeScript types of its generated client, which ts-json-schema-generator
turns into JSON Schema (its closed-world `additionalProperties: false` is dropped: the types
are open, and a client must ignore unknown fields). PKG_DIR is where the wheel
`powerplatform-management==2.0.3578.333` (PyPI) was unpacked: Microsoft's generated (Kiota)
client, whose models' `get_field_deserializers` give each field's name and type (read here;
Kiota keeps no required-ness, and reads null for any field, so every field is optional and
nullable). For each endpoint the exporter calls, the 200 answer's schema is cut
out with every component it references, converted from OpenAPI 3.0 to JSON Schema (draft
2020-12: `nullable` becomes a `null` type, `#/components/schemas/X` becomes `#/$defs/X`), and
written with the endpoint's path template and required query parameters. Nothing is relaxed
here: where a vendor's artefact is wrong, the test names the defect and relaxes only it.
"""
import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import yaml

SOURCES = {
    "dynatrace": {
        "repository": "https://github.com/Dynatrace/dynatrace-configuration-as-code-core",
        "commit": "7fb4c95",
        "file": "gen/specs/account_management/spec.json",
        "licence": "Apache-2.0",
        "endpoints": {
            "subscriptions": "/sub/v2/accounts/{accountUuid}/subscriptions",
            "subscription": "/sub/v2/accounts/{accountUuid}/subscriptions/{subscriptionUuid}",
            "forecast": "/sub/v2/accounts/{accountUuid}/subscriptions/forecast",
            "usage_v2": "/sub/v2/accounts/{accountUuid}/subscriptions/{subscriptionUuid}/environments/usage",
            "usage": "/sub/v3/accounts/{accountUuid}/subscriptions/{subscriptionUuid}/environments/usage",
            "cost": "/sub/v3/accounts/{accountUuid}/subscriptions/{subscriptionUuid}/environments/cost",
            "cost_allocation": "/v1/subscriptions/{subscription-uuid}/cost-allocation",
        },
    },
    "uipath-orchestrator": {
        "repository": "https://github.com/UiPath/uipathcli",
        "commit": "310b305",
        "file": "definitions/orchestrator.yaml",
        "licence": "MIT",
        "endpoints": {
            "licence": "/odata/Settings/UiPath.Server.Configuration.OData.GetLicense",
            "named_users": "/odata/LicensesNamedUser/UiPath.Server.Configuration.OData.GetLicensesNamedUser(robotType='{robotType}')",
        },
    },
}


def to_json_schema(node):
    """OpenAPI 3.0 schema objects as JSON Schema 2020-12."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "$ref" and value.startswith("#/components/schemas/"):
            out["$ref"] = "#/$defs/" + value.rsplit("/", 1)[1]
        elif key in ("nullable", "example", "xml", "discriminator", "externalDocs"):
            continue
        else:
            out[key] = to_json_schema(value)
    if node.get("nullable") is True:
        if "type" in out:
            kind = out["type"]
            out["type"] = (kind if isinstance(kind, list) else [kind]) + ["null"]
        elif "$ref" in out or "allOf" in out or "oneOf" in out:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def references(node, found):
    if isinstance(node, dict):
        ref = node.get("$ref", "")
        if ref.startswith("#/components/schemas/"):
            found.add(ref.rsplit("/", 1)[1])
        for value in node.values():
            references(value, found)
    elif isinstance(node, list):
        for value in node:
            references(value, found)


def subset(spec, endpoints):
    schemas = spec["components"]["schemas"]
    out = {"endpoints": {}, "$defs": {}}
    needed = set()
    for name, path in endpoints.items():
        operation = spec["paths"][path]["get"]
        answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
        query = [p["name"] for p in operation.get("parameters", []) if p.get("in") == "query" and p.get("required")]
        out["endpoints"][name] = {"path": path, "required_query": query, "schema": to_json_schema(answer)}
        references(answer, needed)
    done = set()
    while needed - done:
        name = sorted(needed - done)[0]
        done.add(name)
        references(schemas[name], needed)
    for name in sorted(done):
        out["$defs"][name] = to_json_schema(schemas[name])
    return out


QLIK = {
    "package": "@qlik/api@2.19.0",
    "licence": "ISC",
    "endpoints": {
        "executions": ("/api/v1/consumption/executions", "consumption.d.ts", "ExecutionsByTenantList"),
        "overview": ("/api/v1/licenses/overview", "licenses.d.ts", "LicenseOverview"),
        "assignments": ("/api/v1/licenses/assignments", "licenses.d.ts", "AssignmentsResponse"),
        "audits": ("/api/v1/audits", "audits.d.ts", "GetResult"),
    },
}


def open_world(node):
    """ts-json-schema-generator's draft-07 output as the other subsets are written."""
    if isinstance(node, list):
        return [open_world(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "additionalProperties" and value is False:
            continue
        if key == "$ref" and value.startswith("#/definitions/"):
            out["$ref"] = "#/$defs/" + value.rsplit("/", 1)[1]
        else:
            out[key] = open_world(value)
    return out


def qlik_subset(npm_dir):
    package = npm_dir / "node_modules/@qlik/api"
    out = {"endpoints": {}, "$defs": {}}
    for name, (path, file, kind) in QLIK["endpoints"].items():
        generated = subprocess.run(
            ["npx", "ts-json-schema-generator", "--path", str(package / file), "--type", kind, "--no-type-check"],
            cwd=npm_dir, check=True, capture_output=True, text=True,
        ).stdout
        schema = json.loads(generated)
        # Each file's definitions keep their names under a prefix, so that two files' `Href`s
        # do not collide.
        prefix = file.split(".")[0] + "."
        renamed = json.loads(json.dumps(schema).replace('"#/definitions/', '"#/definitions/' + prefix))
        for definition, body in renamed.get("definitions", {}).items():
            out["$defs"][prefix + definition] = open_world(body)
        out["endpoints"][name] = {"path": path, "required_query": [], "schema": {"$ref": "#/$defs/" + prefix + kind}}
    return out


POWERPLATFORM = {
    "package": "powerplatform-management==2.0.3578.333",
    "licence": "MIT",
    "endpoints": {
        "records": ("/licensing/UserPerFlowCapacitySource", "PowerPlatformRequestSnapshotResultWithoutPagesUserPerFlowCapacitySourceRecord", False),
        "tenant_summary": ("/licensing/UserPerFlowCapacitySource/TenantContextSummary", "UserPerFlowCapacitySourceTenantContextSummaryRecord", True),
        "currency_reports": ("/licensing/tenantCapacity/currencyReports", "CurrencyReportV2", True),
        "tenant_capacity": ("/licensing/tenantCapacity", "TenantCapacityDetailsModel", False),
    },
}

KIOTA_SCALARS = {
    "get_str_value": {"type": "string"},
    "get_int_value": {"type": "integer"},
    "get_float_value": {"type": "number"},
    "get_bool_value": {"type": "boolean"},
    "get_datetime_value": {"type": "string"},
    "get_date_value": {"type": "string"},
    "get_uuid_value": {"type": "string", "format": "uuid"},
}


def snake(name):
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


def kiota_model(models, name, defs):
    """A Kiota model class as JSON Schema, and the models it holds, into `defs`."""
    if name in defs:
        return
    defs[name] = None
    text = (models / f"{snake(name)}.py").read_text()
    properties = {}
    for field, call in re.findall(r'"([^"]+)": lambda n : setattr\(self, \'[a-z_0-9]+\', n\.([^\n]+)\),', text):
        method, _, argument = call.partition("(")
        argument = argument.rstrip(")")
        if method in KIOTA_SCALARS:
            schema = dict(KIOTA_SCALARS[method])
        elif method == "get_object_value":
            kiota_model(models, argument, defs)
            schema = {"$ref": f"#/$defs/{argument}"}
        elif method == "get_collection_of_object_values":
            kiota_model(models, argument, defs)
            schema = {"type": "array", "items": {"$ref": f"#/$defs/{argument}"}}
        elif method == "get_collection_of_primitive_values":
            schema = {"type": "array"}
        elif method == "get_enum_value":
            schema = {"type": "string"}
        else:
            schema = {}
        properties[field] = {"anyOf": [schema, {"type": "null"}]} if schema else {}
    defs[name] = {"type": "object", "properties": properties}


def powerplatform_subset(package_dir):
    models = package_dir / "mspp_management/models"
    out = {"endpoints": {}, "$defs": {}}
    for name, (path, model, listed) in POWERPLATFORM["endpoints"].items():
        kiota_model(models, model, out["$defs"])
        answer = {"$ref": f"#/$defs/{model}"}
        schema = {"type": "array", "items": answer} if listed else answer
        # Kiota keeps no required-ness; Microsoft's reference page requires startDate here.
        required = ["startDate"] if name == "records" else []
        out["endpoints"][name] = {"path": path, "required_query": required, "schema": schema}
    return out


GRAPH = {
    "repository": "https://github.com/microsoftgraph/msgraph-metadata",
    "commit": "84c1cb5",
    "file": "clean_v10_metadata/cleanMetadata.xml",
    "licence": "MIT",
    # Endpoint, path, and the entity type listed in an OData collection (`value`).
    "endpoints": {"subscribed_skus": ("/v1.0/subscribedSkus", "subscribedSku")},
}

EDM = {
    "Edm.String": "string", "Edm.Guid": "string", "Edm.DateTimeOffset": "string",
    "Edm.Date": "string", "Edm.Duration": "string", "Edm.Binary": "string",
    "Edm.Int16": "integer", "Edm.Int32": "integer", "Edm.Int64": "integer", "Edm.Byte": "integer",
    "Edm.Double": "number", "Edm.Single": "number", "Edm.Decimal": "number",
    "Edm.Boolean": "boolean",
}


def csdl_types(xml_text):
    """Every entity and complex type of Graph's CSDL: its base type and its properties."""
    import xml.etree.ElementTree as ET
    edm = "{http://docs.oasis-open.org/odata/ns/edm}"
    types = {}
    for kind in ("EntityType", "ComplexType"):
        for element in ET.fromstring(xml_text).iter(edm + kind):
            properties = [
                (p.get("Name"), p.get("Type"), p.get("Nullable") != "false")
                for p in element.findall(edm + "Property")
            ]
            base = (element.get("BaseType") or "").split(".")[-1] or None
            types[element.get("Name")] = (base, properties)
    return types


def csdl_schema(types, kind, defs):
    """A CSDL type as JSON Schema (OData may leave any property out; nullable unless the CSDL
    says `Nullable="false"`), and the types it holds, into `defs`."""
    if kind in defs:
        return
    defs[kind] = None
    properties = {}
    name = kind
    while name:
        base, fields = types[name]
        for field, edm_type, nullable in fields:
            collection = edm_type.startswith("Collection(")
            inner = edm_type[len("Collection("):-1] if collection else edm_type
            if inner in EDM:
                schema = {"type": EDM[inner]}
            elif inner.startswith("graph.") and inner[6:] in types:
                csdl_schema(types, inner[6:], defs)
                schema = {"$ref": f"#/$defs/{inner[6:]}"}
            else:
                schema = {}
            if collection:
                schema = {"type": "array", "items": schema}
            if nullable and schema:
                schema = {"anyOf": [schema, {"type": "null"}]}
            properties.setdefault(field, schema)
        name = base
    defs[kind] = {"type": "object", "properties": properties}


def graph_subset(checkout):
    text = subprocess.run(
        ["git", "-C", str(checkout), "show", f"{GRAPH['commit']}:{GRAPH['file']}"],
        check=True, capture_output=True, text=True,
    ).stdout
    types = csdl_types(text.lstrip("\ufeff"))
    out = {"endpoints": {}, "$defs": {}}
    for name, (path, kind) in GRAPH["endpoints"].items():
        csdl_schema(types, kind, out["$defs"])
        listing = {
            "type": "object",
            "properties": {
                "value": {"type": "array", "items": {"$ref": f"#/$defs/{kind}"}},
                "@odata.nextLink": {"type": "string"},
            },
            "required": ["value"],
        }
        out["endpoints"][name] = {"path": path, "required_query": [], "schema": listing}
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dynatrace", type=Path, required=True)
    parser.add_argument("--uipath", type=Path, required=True)
    parser.add_argument("--qlik", type=Path, required=True)
    parser.add_argument("--powerplatform", type=Path, required=True)
    parser.add_argument("--graph", type=Path, required=True)
    args = parser.parse_args()
    checkouts = {"dynatrace": args.dynatrace, "uipath-orchestrator": args.uipath}
    target = Path(__file__).resolve().parent.parent / "tests/fixtures/vendor-specs"
    for vendor, source in SOURCES.items():
        text = subprocess.run(
            ["git", "-C", str(checkouts[vendor]), "show", f"{source['commit']}:{source['file']}"],
            check=True, capture_output=True, text=True,
        ).stdout
        spec = yaml.safe_load(text)
        out = {
            "source": {k: source[k] for k in ("repository", "commit", "file", "licence")},
            "title": spec["info"].get("title"),
            "version": spec["info"].get("version"),
            **subset(spec, source["endpoints"]),
        }
        path = target / f"{vendor}.json"
        path.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
        print(f"wrote {path} ({len(out['endpoints'])} endpoints, {len(out['$defs'])} schemas)", file=sys.stderr)
    qlik = {
        "source": {"package": QLIK["package"], "licence": QLIK["licence"], "files": sorted({f for _, f, _ in QLIK["endpoints"].values()})},
        **qlik_subset(args.qlik),
    }
    path = target / "qlik.json"
    path.write_text(json.dumps(qlik, indent=1, sort_keys=True) + "\n")
    print(f"wrote {path} ({len(qlik['endpoints'])} endpoints, {len(qlik['$defs'])} schemas)", file=sys.stderr)
    powerplatform = {
        "source": {"package": POWERPLATFORM["package"], "licence": POWERPLATFORM["licence"], "models": "mspp_management/models"},
        **powerplatform_subset(args.powerplatform),
    }
    graph = {
        "source": {k: GRAPH[k] for k in ("repository", "commit", "file", "licence")},
        **graph_subset(args.graph),
    }
    path = target / "microsoft-graph.json"
    path.write_text(json.dumps(graph, indent=1, sort_keys=True) + "\n")
    print(f"wrote {path} ({len(graph['endpoints'])} endpoints, {len(graph['$defs'])} schemas)", file=sys.stderr)
    path = target / "powerplatform.json"
    path.write_text(json.dumps(powerplatform, indent=1, sort_keys=True) + "\n")
    print(f"wrote {path} ({len(powerplatform['endpoints'])} endpoints, {len(powerplatform['$defs'])} schemas)", file=sys.stderr)


if __name__ == "__main__":
    main()
