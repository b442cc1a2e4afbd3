//! The simulators held to the vendors' own machine-readable contracts, pinned in
//! `tests/fixtures/vendor-specs/` (rebuilt by `scripts/vendor-specs.py` from the artefacts named
//! in each file): every answer the exporter read, every page of every endpoint, validates
//! against the vendor's schema, and every request it made names a path of the contract with
//! the query parameters the contract requires. Where an artefact is wrong, the test names the
//! defect and relaxes only it.

use std::path::Path;

use consumption_exporter::simulator::RunningSimulator;
use serde_json::Value;

use crate::helpers::TestExporter;

/// A vendor's pinned contract: endpoints with their path template, required query parameters
/// and answer schema, and the schemas they reference.
struct Contract {
    document: Value,
}

impl Contract {
    fn load(name: &str) -> Self {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/vendor-specs")
            .join(format!("{name}.json"));
        let text = std::fs::read_to_string(&path).unwrap();
        Contract {
            document: serde_json::from_str(&text).unwrap(),
        }
    }

    /// Where the vendor's artefact is wrong: `pointer` (into `$defs`) gets `value`, for `why`.
    fn relax(&mut self, pointer: &str, value: Value, why: &str) {
        let target = self.document.pointer_mut(pointer).unwrap_or_else(|| {
            panic!("the defect ({why}) is no longer at {pointer}: drop the relaxation")
        });
        *target = value;
    }

    /// The endpoint whose path template `path` ends with, and its name.
    fn endpoint_of(&self, path: &str) -> Option<(&str, &Value)> {
        let endpoints = self.document["endpoints"].as_object()?;
        endpoints.iter().find_map(|(name, endpoint)| {
            let template = endpoint["path"].as_str()?;
            ends_with_template(path, template).then_some((name.as_str(), endpoint))
        })
    }

    /// A validator of the endpoint's answers, the contract's schemas beside it.
    fn validator(&self, endpoint: &Value) -> jsonschema::Validator {
        let mut schema = endpoint["schema"].clone();
        schema["$defs"] = self.document["$defs"].clone();
        jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&schema)
            .unwrap()
    }
}

/// Whether `path` ends with `template`, each `{name}` standing for one non-empty segment part.
fn ends_with_template(path: &str, template: &str) -> bool {
    let literals: Vec<&str> = template
        .split('{')
        .enumerate()
        .map(|(i, part)| match i {
            0 => part,
            _ => part.split_once('}').map_or(part, |(_, rest)| rest),
        })
        .collect();
    (0..path.len()).any(|start| {
        let mut rest = &path[start..];
        for (i, literal) in literals.iter().enumerate() {
            if i > 0 {
                // A placeholder: at least one character, none a '/', then the literal.
                let end = rest.find('/').unwrap_or(rest.len());
                let Some(at) = (1..=end).find(|&n| {
                    rest[n..].starts_with(literal) && (!literal.is_empty() || n == rest.len())
                }) else {
                    return false;
                };
                rest = &rest[at..];
            }
            let Some(after) = rest.strip_prefix(literal) else {
                return false;
            };
            rest = after;
        }
        rest.is_empty()
    })
}

/// Replays every GET the exporter made (with the token it sent) and checks the request against
/// the contract and the answer against its schema; returns the endpoints met, by name.
async fn check_requests(
    contract: &Contract,
    running: &RunningSimulator,
    alone_with: Option<&str>,
) -> std::collections::BTreeSet<String> {
    let mut met = std::collections::BTreeSet::new();
    for request in running.requests() {
        if request.method != axum::http::Method::GET {
            continue;
        }
        let url = url::Url::parse(&format!("http://x{}", request.uri)).unwrap();
        let Some((name, endpoint)) = contract.endpoint_of(url.path()) else {
            continue;
        };
        let query: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
        let continues = alone_with.is_some_and(|key| query.iter().any(|q| q == key));
        if !continues {
            for required in endpoint["required_query"].as_array().unwrap() {
                let required = required.as_str().unwrap();
                assert!(
                    query.iter().any(|q| q == required),
                    "{name}: {} lacks the required {required}",
                    request.uri
                );
            }
        }
        let mut replay = crate::helpers::client().get(format!("{}{}", running.url(), request.uri));
        if let Some(authorization) = request.headers.get("authorization") {
            replay = replay.header("authorization", authorization.to_str().unwrap());
        }
        let answer = replay.send().await.unwrap();
        assert!(answer.status().is_success(), "{name}: {}", request.uri);
        if answer.status() == reqwest::StatusCode::NO_CONTENT {
            continue;
        }
        let body: Value = answer.json().await.unwrap();
        let validator = contract.validator(endpoint);
        let errors: Vec<String> = validator
            .iter_errors(&body)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{name} {}: {errors:#?}", request.uri);
        met.insert(name.to_string());
    }
    met
}

#[tokio::test]
async fn every_dynatrace_answer_and_request_keeps_to_the_account_management_openapi() {
    use consumption_exporter::simulator::dynatrace::{DynatraceAccount, DynatraceSimulator};
    let mut contract = Contract::load("dynatrace");
    // Defect: `nextPageKey` is required, but the last page has none (sent null or left out).
    let nullable_key = serde_json::json!({"type": ["string", "null"]});
    for list in [
        "SubscriptionEnvironmentUsageListV3Dto",
        "SubscriptionEnvironmentCostListV3Dto",
    ] {
        contract.relax(
            &format!("/$defs/{list}/required"),
            serde_json::json!(["data", "lastModifiedTime"]),
            "nextPageKey required on the last page",
        );
        contract.relax(
            &format!("/$defs/{list}/properties/nextPageKey"),
            nullable_key.clone(),
            "nextPageKey a string on the last page",
        );
    }
    // Defect: cost-allocation `records` are typed strings; the reference shows objects.
    contract.relax(
        "/$defs/PaginatedEnvironmentBreakdownDto/properties/records/items",
        serde_json::json!({"type": ["object", "string"]}),
        "cost-allocation records typed string",
    );
    contract.relax(
        "/$defs/PaginatedEnvironmentBreakdownDto/properties/nextPageKey",
        nullable_key,
        "nextPageKey a string on the last page",
    );
    contract.relax(
        "/$defs/PaginatedEnvironmentBreakdownDto/required",
        serde_json::json!(["environmentId", "field", "records"]),
        "nextPageKey required on the last page",
    );
    let account = DynatraceAccount {
        default_page_size: 2,
        days: 40,
        ..DynatraceAccount::default()
    };
    let running = DynatraceSimulator::new(account.clone())
        .start(0)
        .await
        .unwrap();
    let url = running.url();
    let yaml = format!(
        "sources:\n  - name: dt\n    type: dynatrace\n    base_url: {url}\n    account_uuid: {}\n    page_size: 1\n    entitlements: true\n    cost_allocation: cost_center\n    oauth2:\n      token_url: {url}/sso/oauth2/token\n      client_id: {}\n      client_secret: {}\n",
        account.account_uuid, account.client_id, account.client_secret,
    );
    let exporter = TestExporter::start(&yaml).await;
    exporter.assert_polls(0).await;
    let met = check_requests(&contract, &running, Some("page-key")).await;
    for endpoint in [
        "subscriptions",
        "subscription",
        "forecast",
        "usage",
        "cost",
        "cost_allocation",
    ] {
        assert!(
            met.contains(endpoint),
            "{endpoint} was read and checked: {met:?}"
        );
    }
}

#[tokio::test]
async fn every_orchestrator_licence_answer_keeps_to_orchestrators_openapi() {
    use consumption_exporter::simulator::uipath::{UiPathOrganization, UiPathSimulator};
    let mut contract = Contract::load("uipath-orchestrator");
    // Defect: ActiveRobotId is an int64 without nullability, but the documented example of
    // GetLicensesNamedUser sends null for a licence not in use.
    contract.relax(
        "/$defs/LicenseNamedUserDto/properties/ActiveRobotId/type",
        serde_json::json!(["integer", "null"]),
        "ActiveRobotId null in the documented example",
    );
    let org = UiPathOrganization {
        named_users: 2_500,
        ..UiPathOrganization::default()
    };
    let running = UiPathSimulator::new(org.clone()).start(0).await.unwrap();
    let yaml = format!(
        "sources:\n  - name: robots\n    type: uipath\n    base_url: {}\n    organization_id: {}\n    tenant_ids: [{}]\n    consumable_codes: [RU]\n    seats: true\n    oauth2:\n      client_id: {}\n      client_secret: {}\n",
        running.url(),
        org.organization_id,
        org.tenant_ids.join(", "),
        org.client_id,
        org.client_secret,
    );
    let exporter = TestExporter::start(&yaml).await;
    exporter.assert_polls(0).await;
    let met = check_requests(&contract, &running, None).await;
    assert_eq!(met, ["licence", "named_users"].map(String::from).into());
}

#[test]
fn a_path_matches_its_template_and_no_other() {
    let template = "/sub/v2/accounts/{accountUuid}/subscriptions/{subscriptionUuid}";
    assert!(ends_with_template(
        "/sub/v2/accounts/a-1/subscriptions/s-2",
        template
    ));
    assert!(!ends_with_template(
        "/sub/v2/accounts/a-1/subscriptions/s-2/environments/usage",
        template
    ));
    assert!(!ends_with_template(
        "/sub/v2/accounts/a-1/subscriptions/forecast/x",
        template
    ));
    let odata = "/odata/LicensesNamedUser/UiPath.Server.Configuration.OData.GetLicensesNamedUser(robotType='{robotType}')";
    assert!(ends_with_template(
        "/o/t/orchestrator_/odata/LicensesNamedUser/UiPath.Server.Configuration.OData.GetLicensesNamedUser(robotType='Attended')",
        odata
    ));
}

#[tokio::test]
async fn every_qlik_answer_keeps_to_the_types_of_qliks_generated_client() {
    use consumption_exporter::simulator::qlik::{generate_records, QlikSimulator, QlikTenant};
    let mut contract = Contract::load("qlik");
    // Defect: an assignment requires `excess` and `type`, but the type's own example has an
    // item with neither (read as a seat of unknown type, not excess).
    contract.relax(
        "/$defs/licenses.AssignmentsResponse/properties/data/items/required",
        serde_json::json!(["created", "subject"]),
        "assignments' example without excess and type",
    );
    let tenant = QlikTenant {
        assignments: 450,
        today: crate::helpers::test_today(),
        ..QlikTenant::default()
    };
    let records = generate_records(4, 250, tenant.today);
    let running = QlikSimulator::new(tenant, records).start(0).await.unwrap();
    let extra =
        "    page_size: 100\n    entitlements: true\n    seats: true\n    seat_activity: true\n";
    let yaml = format!(
        "sources:\n{}",
        crate::helpers::qlik_source("q", &running.url(), extra)
    );
    let exporter = TestExporter::start(&yaml).await;
    exporter.assert_polls(0).await;
    let met = check_requests(&contract, &running, None).await;
    assert_eq!(
        met,
        ["assignments", "audits", "executions", "overview"]
            .map(String::from)
            .into()
    );
}

/// A Power Platform tenant on its simulator, and a source with its summary and entitlements
/// (and `extra` keys) reading it.
async fn power_platform(extra: &str) -> (RunningSimulator, String) {
    use consumption_exporter::simulator::powerplatform::{
        PowerPlatformSimulator, PowerPlatformTenant,
    };
    let tenant = PowerPlatformTenant {
        today: crate::helpers::test_today(),
        ..PowerPlatformTenant::default()
    };
    let running = PowerPlatformSimulator::new(tenant.clone())
        .start(0)
        .await
        .unwrap();
    let url = running.url();
    let yaml = format!(
        "sources:\n  - name: flows\n    type: powerplatform\n    base_url: {url}\n{extra}    tenant_summary: true\n    entitlements: true\n    oauth2:\n      token_url: {url}/contoso.onmicrosoft.com/oauth2/v2.0/token\n      client_id: {}\n      client_secret: {}\n",
        tenant.client_id, tenant.client_secret,
    );
    (running, yaml)
}

#[tokio::test]
async fn every_power_platform_answer_keeps_to_the_models_of_microsofts_generated_client() {
    let contract = Contract::load("powerplatform");
    let (running, yaml) = power_platform("    page_size: 500\n").await;
    let exporter = TestExporter::start(&yaml).await;
    exporter.assert_polls(0).await;
    let met = check_requests(&contract, &running, None).await;
    assert_eq!(
        met,
        [
            "currency_reports",
            "records",
            "tenant_capacity",
            "tenant_summary"
        ]
        .map(String::from)
        .into()
    );
}

#[tokio::test]
async fn every_graph_licence_answer_keeps_to_graphs_csdl() {
    use consumption_exporter::simulator::microsoft::{MicrosoftSimulator, MicrosoftTenant};
    let contract = Contract::load("microsoft-graph");
    let tenant = MicrosoftTenant {
        page_size: Some(3),
        ..MicrosoftTenant::generated(9, 4)
    };
    let running = MicrosoftSimulator::new(tenant.clone())
        .start(0)
        .await
        .unwrap();
    let yaml = crate::microsoft::source(&running.url(), &tenant, "");
    let exporter = TestExporter::start(&yaml).await;
    exporter.assert_polls(0).await;
    let met = check_requests(&contract, &running, None).await;
    assert_eq!(met, ["subscribed_skus"].map(String::from).into());
    let pages = running
        .requests()
        .iter()
        .filter(|r| r.uri.contains("subscribedSkus"))
        .count();
    assert!(pages >= 3, "every page was checked: {pages}");
}

/// The contracts' formats are enforced, not annotations: a UUID field holds a UUID, a
/// date-time field a date-time.
#[test]
fn formats_are_enforced() {
    let contract = Contract {
        document: serde_json::json!({"$defs": {}}),
    };
    let endpoint = serde_json::json!({"schema": {"type": "object", "properties": {
        "environmentId": {"type": "string", "format": "uuid"},
        "at": {"type": "string", "format": "date-time"}}}});
    let validator = contract.validator(&endpoint);
    let good = serde_json::json!({"environmentId": "5c0e2b1a-7d3f-4e5a-9b6c-0d1e2f3a4b5c", "at": "2026-11-22T00:00:00Z"});
    assert!(validator.is_valid(&good));
    assert!(!validator.is_valid(&serde_json::json!({"environmentId": "sim"})));
    assert!(!validator.is_valid(&serde_json::json!({"at": "2026-11-22"})));
}

/// Which members a contract's nullability turns to null.
#[derive(Clone, Copy, PartialEq)]
enum Nulls {
    /// Members the answer leaves out, written as null instead.
    WhereLeftOut,
    /// Every nullable member, present or not.
    Everywhere,
}

fn resolved<'a>(schema: &'a Value, defs: &'a Value) -> &'a Value {
    match schema["$ref"]
        .as_str()
        .and_then(|r| r.strip_prefix("#/$defs/"))
    {
        Some(name) => resolved(&defs[name], defs),
        None => schema,
    }
}

fn is_null_type(schema: &Value) -> bool {
    schema["type"] == "null"
}

fn nullable(schema: &Value) -> bool {
    let in_type = schema["type"]
        .as_array()
        .is_some_and(|types| types.iter().any(|t| t == "null"));
    let in_any_of = schema["anyOf"]
        .as_array()
        .is_some_and(|branches| branches.iter().any(is_null_type));
    in_type || in_any_of
}

/// The schema a present (non-null) value follows.
fn when_present<'a>(schema: &'a Value, defs: &'a Value) -> &'a Value {
    let schema = resolved(schema, defs);
    let branch = schema["anyOf"]
        .as_array()
        .and_then(|branches| branches.iter().find(|b| !is_null_type(b)));
    branch.map_or(schema, |branch| resolved(branch, defs))
}

/// Writes null into `value` where its schema says a member is nullable.
fn write_nulls(value: &mut Value, schema: &Value, defs: &Value, nulls: Nulls) {
    let schema = when_present(schema, defs);
    match value {
        Value::Object(members) => {
            let Some(properties) = schema["properties"].as_object() else {
                return;
            };
            for (name, property) in properties {
                let may_be_null = nullable(resolved(property, defs));
                match members.get_mut(name) {
                    None if may_be_null => {
                        members.insert(name.clone(), Value::Null);
                    }
                    Some(member) if may_be_null && nulls == Nulls::Everywhere => {
                        *member = Value::Null;
                    }
                    Some(member) => write_nulls(member, property, defs, nulls),
                    None => {}
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                write_nulls(item, &schema["items"], defs, nulls);
            }
        }
        _ => {}
    }
}

/// A simulator's rewrite of every answer of the contract's endpoints: nulls where it allows.
fn nulls_of(
    contract: &Contract,
    nulls: Nulls,
) -> consumption_exporter::simulator::variants::Rewrite {
    let contract = Contract {
        document: contract.document.clone(),
    };
    std::sync::Arc::new(move |path: &str, answer: &mut Value| {
        if let Some((_, endpoint)) = contract.endpoint_of(path) {
            let defs = &contract.document["$defs"];
            write_nulls(answer, &endpoint["schema"], defs, nulls);
        }
    })
}

#[test]
fn nulls_go_where_the_schema_says_nullable_and_nowhere_else() {
    let defs = serde_json::json!({"Sku": {"type": "object", "properties": {
        "skuId": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "id": {"type": "string"},
        "units": {"anyOf": [{"$ref": "#/$defs/Units"}, {"type": "null"}]}}},
        "Units": {"type": "object", "properties": {"enabled": {"type": ["integer", "null"]}}}});
    let schema = serde_json::json!({"type": "object", "properties": {
        "value": {"type": "array", "items": {"$ref": "#/$defs/Sku"}}}});
    let answer = serde_json::json!({"value": [{"id": "a", "units": {}}]});
    let mut left_out = answer.clone();
    write_nulls(&mut left_out, &schema, &defs, Nulls::WhereLeftOut);
    assert_eq!(
        left_out,
        serde_json::json!({"value": [{"id": "a", "skuId": null, "units": {"enabled": null}}]})
    );
    let mut everywhere = answer;
    write_nulls(&mut everywhere, &schema, &defs, Nulls::Everywhere);
    assert_eq!(
        everywhere,
        serde_json::json!({"value": [{"id": "a", "skuId": null, "units": null}]})
    );
}

/// The vendor series an exporter serves after one poll of `yaml` at a fixed noon.
async fn vendor_series(yaml: &str) -> (bool, String, Vec<String>) {
    use consumption_exporter::model::clock::FixedClock;
    let noon = crate::helpers::test_today()
        .and_hms_opt(12, 0, 0)
        .unwrap()
        .and_utc();
    let exporter =
        TestExporter::start_with_clock(yaml, std::sync::Arc::new(FixedClock::new(noon))).await;
    let polled = exporter.poll(0).await;
    let error = if polled {
        String::new()
    } else {
        exporter.last_error(0)
    };
    let text = exporter.scrape().await.text;
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with("consumption_") && !l.starts_with("consumption_source_"))
        .filter(|l| !l.starts_with("consumption_exporter_"))
        .map(str::to_owned)
        .collect();
    lines.sort();
    (polled, error, lines)
}

/// A member sent as null where the contract allows it reads as the member left out; every
/// nullable member null at once fails nothing and serves nothing (a null amount is no amount,
/// never a zero).
async fn nulls_read_as_the_contract_means(
    contract: &Contract,
    running: &RunningSimulator,
    yaml: &str,
) {
    let (_, _, usual) = vendor_series(yaml).await;
    assert!(!usual.is_empty());
    running.rewrite_answers(Some(nulls_of(contract, Nulls::WhereLeftOut)));
    let (polled, error, left_out) = vendor_series(yaml).await;
    assert!(polled, "{error}");
    assert_eq!(usual, left_out, "nulls where members were left out");
    check_requests(contract, running, None).await;
    running.rewrite_answers(Some(nulls_of(contract, Nulls::Everywhere)));
    let (polled, error, everywhere) = vendor_series(yaml).await;
    assert!(polled, "every nullable member null: {error}");
    assert!(
        everywhere.is_empty(),
        "every number these contracts send is nullable, so none is left to serve: {everywhere:#?}"
    );
    check_requests(contract, running, None).await;
    running.rewrite_answers(None);
}

#[tokio::test]
async fn power_platforms_nullable_members_read_as_its_client_reads_them() {
    let contract = Contract::load("powerplatform");
    let (running, yaml) = power_platform("").await;
    nulls_read_as_the_contract_means(&contract, &running, &yaml).await;
}

#[tokio::test]
async fn graphs_nullable_members_read_as_its_csdl_means() {
    use consumption_exporter::simulator::microsoft::{MicrosoftSimulator, MicrosoftTenant};
    let contract = Contract::load("microsoft-graph");
    let tenant = MicrosoftTenant::generated(9, 4);
    let running = MicrosoftSimulator::new(tenant.clone())
        .start(0)
        .await
        .unwrap();
    let yaml = crate::microsoft::source(&running.url(), &tenant, "");
    nulls_read_as_the_contract_means(&contract, &running, &yaml).await;
}
