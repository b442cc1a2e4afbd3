//! AvePoint Graph (EnPower): `GET /smp/powerplatform/connectionusage/cloudflows`, the
//! connections each Power Automate cloud flow uses.
//!
//! Vendor facts (shared/vendor-apis.md §2): `top` is 1–1000 (default 100); `nextLink` comes
//! absolute, relative, `""` or null; `flowId` is marked required but the same page says all flows
//! are returned without it, so an empty `flow_ids` sends one query without it; errors come as
//! `{statusCode, message, requestId, traceId}`.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use url::Url;

use super::{with_query, Facts, PollError, PollPlan, Probe, Source, TokenDefaults, Vendor};
use crate::http::{HttpError, PollSession, Request};
use crate::model::billing::Billing;
use crate::model::clock::Clock;
use crate::model::snapshot::{Combine, FamilyDesc, Snapshot, SnapshotBuilder};
use crate::model::usage::{BudgetUnit, LevelUsage, Usage};
use crate::settings::FieldError;

mod seats;

const USAGE_PATH: &str = "/smp/powerplatform/connectionusage/cloudflows";

pub static FLOW_CONNECTIONS: FamilyDesc = FamilyDesc {
    name: "consumption_avepoint_flow_connections",
    help: "Distinct connections a Power Automate cloud flow uses, from AvePoint EnPower connection usage.",
};
pub static USAGE_RECORDS: FamilyDesc = FamilyDesc {
    name: "consumption_avepoint_connection_usage_records",
    help: "Connection usage records AvePoint reports (its totalCount, summed over the configured flow queries).",
};

/// The `type: avepoint` entry of the config.
pub struct AvePointType;

#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    flow_ids: Vec<String>,
    tenant: Option<String>,
    #[serde(default = "default_page_size")]
    page_size: u32,
    /// Also read the cloud flows and Power Apps as seats, with their last run and launch.
    #[serde(default)]
    seats: bool,
    /// With seats, also read AvePoint's own Cloud Backup for Microsoft 365 seats.
    #[serde(default)]
    cloud_backup_seats: bool,
}

fn default_page_size() -> u32 {
    1000
}

impl Vendor for AvePointType {
    type Settings = Settings;

    fn name(&self) -> &'static str {
        "avepoint"
    }

    fn default_base_url(&self) -> Option<&'static str> {
        Some("https://graph-us.avepointonlineservices.com")
    }

    fn default_token_url(&self, _base_url: &Url) -> Option<Url> {
        Url::parse("https://identity.avepointonlineservices.com/connect/token").ok()
    }

    fn default_scopes(&self, _base_url: &Url) -> Vec<String> {
        vec!["enpower.data.read.all".to_string()]
    }

    fn source(&self, settings: Settings) -> Result<Arc<dyn Source>, Vec<FieldError>> {
        if !(1..=1000).contains(&settings.page_size) {
            return Err(vec![FieldError::new(
                "page_size",
                "must be 1 to 1000 (AvePoint's `top` range)",
            )]);
        }
        if settings.cloud_backup_seats && !settings.seats {
            return Err(vec![FieldError::new(
                "cloud_backup_seats",
                "Cloud Backup seats are read with the other seats: set seats: true",
            )]);
        }
        let facts = facts(&settings);
        Ok(Arc::new(AvePoint { settings, facts }))
    }
}

/// AvePoint's connection counts are not billed; Cloud Backup's seats need their permission in
/// the token request (a token's scope is the permission it is requested for).
fn facts(settings: &Settings) -> Facts {
    let scopes = match settings.cloud_backup_seats {
        true => vec![seats::BACKUP_SCOPE_NAME.to_string()],
        false => Vec::new(),
    };
    Facts {
        reports_seat_activity: settings.seats,
        error_detail: describe_avepoint_error,
        budget_unit: BudgetUnit::Fixed("connections"),
        token_defaults: TokenDefaults {
            params: Vec::new(),
            scopes,
        },
        ..Facts::new(seats::ENDPOINTS, &USAGE_LABELS)
    }
}

/// A configured AvePoint Online Services organisation.
pub struct AvePoint {
    settings: Settings,
    facts: Facts,
}

/// `connectionUsageCloudFlows` is required: AvePoint's answer carries it, empty or not, and an
/// object without it (a gateway's or an error's body) read as no records would drop every series.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UsagePage<'a> {
    #[serde(borrow, deserialize_with = "crate::sources::strict::objects")]
    connection_usage_cloud_flows: Vec<ConnectionUsage<'a>>,
    #[serde(default)]
    total_count: Option<f64>,
    #[serde(borrow, default)]
    next_link: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct ConnectionUsage<'a> {
    #[serde(borrow)]
    flow_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    environment_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    connection_id: Option<Cow<'a, str>>,
}

/// What a budget over AvePoint's usage may match on.
const USAGE_LABELS: [&str; 2] = ["environment_id", "flow_id"];

/// Distinct connections per (environment, flow), and the reported record totals.
#[derive(Default)]
struct Folder {
    connections: HashMap<(String, String), HashSet<String>>,
    total_count: f64,
}

impl Folder {
    fn fold_record(&mut self, record: &ConnectionUsage<'_>) {
        let key = (
            record.environment_id.as_deref().unwrap_or("").to_string(),
            record.flow_id.as_deref().unwrap_or("").to_string(),
        );
        let connections = self.connections.entry(key).or_default();
        if let Some(connection) = record.connection_id.as_deref().filter(|c| !c.is_empty()) {
            connections.insert(connection.to_string());
        }
    }

    fn finish(self, plan: PollPlan) -> Snapshot {
        let mut builder = SnapshotBuilder::new();
        let flows = builder.family(
            &FLOW_CONNECTIONS,
            vec!["environment_id", "flow_id"],
            Combine::Sum,
        );
        for ((environment, flow), connections) in &self.connections {
            builder.observe(flows, &[environment, flow], connections.len() as f64);
        }
        let records = builder.family(&USAGE_RECORDS, vec![], Combine::Sum);
        builder.observe(records, &[], self.total_count);
        if plan.wants_usage() {
            builder.usage(self.into_usage());
        }
        builder.finish()
    }

    /// Each flow's connections, moved (not copied): a budget over some flows counts the
    /// connections they use, each once.
    fn into_usage(self) -> Usage {
        let (series, members) = self
            .connections
            .into_iter()
            .map(|((environment, flow), connections)| {
                let count = connections.len() as f64;
                (
                    (vec![environment, flow], count),
                    connections.into_iter().collect(),
                )
            })
            .unzip();
        Usage::Level(LevelUsage {
            label_names: USAGE_LABELS.to_vec(),
            series,
            members: Some(members),
        })
    }
}

/// What to do when the query without `flowId` (the documented "all flows" call) is refused
/// with a 400: AvePoint's reference marks `flowId` "Required: Yes", so a server may enforce it.
fn unfiltered_refused(error: crate::http::PageError, flow_id: Option<&str>) -> PollError {
    let refused =
        matches!(&error.source, HttpError::Status { status, .. } if status.as_u16() == 400);
    if !refused || flow_id.is_some() {
        return error.into();
    }
    PollError::Item {
        item: "connection usage of all flows (no flowId: AvePoint's reference marks it required; list the flows to read in flow_ids)".to_string(),
        source: error.source,
    }
}

#[async_trait]
impl Source for AvePoint {
    fn facts(&self) -> &Facts {
        &self.facts
    }

    /// The first connection count (of the first flow asked for), and the seats as configured.
    fn probes(&self, session: &PollSession<'_>, _now: DateTime<Utc>) -> Vec<Probe> {
        let flow = self.settings.flow_ids.first().map(String::as_str);
        let usage = with_query(&self.first_url(session, flow), "top", "1");
        let mut probes = vec![Probe::of(Request::get(usage))];
        if self.settings.seats {
            probes.extend(self.seat_probes(session));
        }
        probes
    }

    async fn poll(
        &self,
        session: &PollSession<'_>,
        clock: &dyn Clock,
        plan: PollPlan,
    ) -> Result<Snapshot, PollError> {
        let mut folder = Folder::default();
        let queries: Vec<Option<&str>> = if self.settings.flow_ids.is_empty() {
            vec![None]
        } else {
            self.settings
                .flow_ids
                .iter()
                .map(|f| Some(f.as_str()))
                .collect()
        };
        for flow_id in queries {
            let mut url = self.first_url(session, flow_id);
            let mut first_page_of_query = true;
            loop {
                let page = session.get_page(&url).await;
                let page = page.map_err(|error| unfiltered_refused(error, flow_id))?;
                let body: UsagePage = page.json_object()?;
                for record in &body.connection_usage_cloud_flows {
                    folder.fold_record(record);
                }
                // totalCount describes the whole query; read it once, from the query's first page.
                if std::mem::take(&mut first_page_of_query) {
                    folder.total_count += body.total_count.unwrap_or(0.0);
                }
                match body
                    .next_link
                    .as_deref()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                {
                    Some(link) => url = session.same_host_link(&page, link)?,
                    None => break,
                }
            }
        }
        let reads_inventories = plan.reads_inventories();
        let rule = plan.seat_rule(clock.now());
        let mut snapshot = folder.finish(plan);
        if self.settings.seats && reads_inventories {
            snapshot.seats = Some(self.seats(session, &rule).await?);
        }
        Ok(snapshot)
    }

    fn billing(&self, _base_url: &Url, _token_url: Option<&Url>) -> Option<Billing> {
        None
    }
}

impl AvePoint {
    fn first_url(&self, session: &PollSession<'_>, flow_id: Option<&str>) -> Url {
        let mut url = session.url(USAGE_PATH);
        {
            let mut query = url.query_pairs_mut();
            if let Some(flow_id) = flow_id {
                query.append_pair("flowId", flow_id);
            }
            query.append_pair("top", &self.settings.page_size.to_string());
            if let Some(tenant) = &self.settings.tenant {
                query.append_pair("tenant", tenant);
            }
        }
        url
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AvePointError {
    status_code: Option<u16>,
    message: Option<String>,
    request_id: Option<String>,
    trace_id: Option<String>,
}

/// `message (statusCode 429, requestId …, traceId …)`.
fn describe_avepoint_error(body: &[u8]) -> Option<String> {
    let parsed: AvePointError = serde_json::from_slice(body).ok()?;
    let message = parsed.message?;
    let mut ids = Vec::new();
    if let Some(code) = parsed.status_code {
        ids.push(format!("statusCode {code}"));
    }
    if let Some(request) = parsed.request_id {
        ids.push(format!("requestId {request}"));
    }
    if let Some(trace) = parsed.trace_id {
        ids.push(format!("traceId {trace}"));
    }
    Some(if ids.is_empty() {
        message
    } else {
        format!("{message} ({})", ids.join(", "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_fold_into_distinct_connections_per_environment_and_flow() {
        let pages: [UsagePage; 2] = [
            serde_json::from_str(
                r#"{"connectionUsageCloudFlows":[
                  {"flowId":"f1","environmentId":"Default-1","connectionId":"c1"},
                  {"flowId":"f1","environmentId":"Default-1","connectionId":"c2"},
                  {"flowId":"f1","environmentId":"Default-1","connectionId":"c1"},
                  {"flowId":"f1","environmentId":"Default-2","connectionId":"c1"},
                  {"flowId":"f2","environmentId":"Default-1","connectionId":""}
                ],"totalCount":7,"nextLink":"x"}"#,
            )
            .unwrap(),
            serde_json::from_str(
                r#"{"connectionUsageCloudFlows":[
                  {"flowId":"f1","environmentId":"Default-1","connectionId":"c3"},
                  {"flowId":"f2","environmentId":"Default-1"}
                ],"totalCount":7,"nextLink":""}"#,
            )
            .unwrap(),
        ];
        let mut folder = Folder::default();
        for page in &pages {
            for record in &page.connection_usage_cloud_flows {
                folder.fold_record(record);
            }
        }
        // totalCount describes the whole query: the poll adds it once per query.
        folder.total_count += 7.0;
        let snapshot = folder.finish(PollPlan::default());
        let flows = snapshot
            .family("consumption_avepoint_flow_connections")
            .unwrap();
        assert_eq!(flows.get(&["Default-1", "f1"]), Some(3.0));
        assert_eq!(flows.get(&["Default-2", "f1"]), Some(1.0));
        assert_eq!(
            flows.get(&["Default-1", "f2"]),
            Some(0.0),
            "a flow without connections is still a flow"
        );
        assert_eq!(flows.len(), 3);
        let records = snapshot
            .family("consumption_avepoint_connection_usage_records")
            .unwrap();
        assert_eq!(records.get(&[]), Some(7.0));
    }

    #[test]
    fn avepoint_error_bodies_read_as_one_line() {
        let body = br#"{"statusCode":429,"message":"Too many requests.","requestId":"r-1","timestamp":"2026-02-27T03:56:10.87Z","traceId":"00-abc"}"#;
        assert_eq!(
            describe_avepoint_error(body).as_deref(),
            Some("Too many requests. (statusCode 429, requestId r-1, traceId 00-abc)")
        );
        assert_eq!(describe_avepoint_error(b"{}"), None);
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::sources::arbitrary_json::body;
    use proptest::prelude::*;

    const KEYS: &[&str] = &[
        "connectionUsageCloudFlows",
        "totalCount",
        "nextLink",
        "flowId",
        "environmentId",
        "connectionId",
        "statusCode",
        "message",
        "requestId",
        "traceId",
    ];

    proptest! {
        #[test]
        fn any_body_decodes_and_folds_or_errors_without_panicking(bytes in body(KEYS)) {
            if let Ok(page) = serde_json::from_slice::<UsagePage>(&bytes) {
                let mut folder = Folder::default();
                for record in &page.connection_usage_cloud_flows {
                    folder.fold_record(record);
                }
                folder.finish(PollPlan::default());
            }
            let _ = describe_avepoint_error(&bytes);
        }
    }
}
