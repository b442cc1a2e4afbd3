//! Qlik Cloud entitlement consumption: `GET /api/v1/consumption/executions`.
//!
//! Vendor facts (shared/vendor-apis.md §4): `limit` is at most 200; the cursor is
//! `links.next.token` (sent back as `page=`) or `links.next.href`, whose host may be anything
//! (the spec's own example names `localhost:8787`), so only its path and query are kept and the
//! tenant host is used; errors come as `{errors:[{code,title,detail}],traceId}` (the spec's
//! example says `details`, so both are read); enums are open-ended and read as strings.

use std::borrow::Cow;
use std::sync::Arc;

use hashbrown::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use url::Url;

use super::windows::{end_of_last_day, parse_day_or_time};
use super::{with_query, Endpoint, Facts, PollError, PollPlan, Probe, Source, Vendor};
use crate::http::{Page, PageError, PollSession, Request, TOKEN_ENDPOINT};
use crate::model::billing::Billing;
use crate::model::clock::Clock;
use crate::model::seats::LicenceEnd;
use crate::model::snapshot::{Combine, FamilyDesc, FamilyId, Snapshot, SnapshotBuilder};
use crate::model::usage::{BudgetUnit, LevelUsage, ServiceOf, Usage, VendorBudget};
use crate::settings::{check_labels, FieldError};

mod folder;
mod licence;
mod seats;

use folder::*;
use licence::*;

const EXECUTIONS_PATH: &str = "/api/v1/consumption/executions";
const MAX_PAGE_SIZE: u32 = 200;

pub static LOCAL_USAGE: FamilyDesc = FamilyDesc {
    name: "consumption_qlik_local_usage",
    help: "Qlik Cloud localUsage summed over the consumption execution records of the label set, in the record's unit.",
};
pub static GLOBAL_USAGE: FamilyDesc = FamilyDesc {
    name: "consumption_qlik_global_usage",
    help: "Qlik Cloud globalUsage summed over the consumption execution records of the label set, in the record's unit.",
};
pub static CAPACITY_LIMIT: FamilyDesc = FamilyDesc {
    name: "consumption_qlik_capacity_limit",
    help: "Qlik Cloud capacityLimit summed over the consumption execution records of the label set, in the record's unit.",
};
pub static GUARDRAIL_LIMIT: FamilyDesc = FamilyDesc {
    name: "consumption_qlik_guardrail_limit",
    help: "Qlik Cloud guardrailLimit summed over the consumption execution records of the label set, in the record's unit.",
};
pub static OVERAGE: FamilyDesc = FamilyDesc {
    name: "consumption_qlik_overage",
    help: "1 if any Qlik Cloud consumption record of the label set is in overage, else 0.",
};
pub static BLOCKED: FamilyDesc = FamilyDesc {
    name: "consumption_qlik_blocked",
    help: "1 if any Qlik Cloud consumption record of the label set is blocked, else 0.",
};
pub static CLOSE_TO_OVERAGE: FamilyDesc = FamilyDesc {
    name: "consumption_qlik_close_to_overage",
    help: "1 if any Qlik Cloud consumption record of the label set is close to overage, else 0.",
};
pub static PERIOD_END: FamilyDesc = FamilyDesc {
    name: "consumption_qlik_period_end_timestamp_seconds",
    help: "End of the Qlik Cloud consumption period (Unix seconds; a periodEnd date ends at the following midnight UTC).",
};
pub static TENANT_OVERAGE: FamilyDesc = FamilyDesc {
    name: "consumption_qlik_tenant_overage",
    help: "The Qlik Cloud tenant-level overage flag of the consumption response (1 or 0).",
};
pub static TENANT_CLOSE_TO_OVERAGE: FamilyDesc = FamilyDesc {
    name: "consumption_qlik_tenant_close_to_overage",
    help: "The Qlik Cloud tenant-level closeToOverage flag of the consumption response (1 or 0).",
};

/// The `type: qlik` entry of the config.
pub struct QlikType;

#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QlikSettings {
    #[serde(default = "default_periods")]
    periods_to_include: Vec<PeriodToInclude>,
    filter: Option<String>,
    #[serde(default)]
    sort: Vec<String>,
    #[serde(default = "default_labels")]
    labels: Vec<Label>,
    page_size: Option<u32>,
    /// Also read the licence overview: allotments, validity.
    #[serde(default)]
    entitlements: bool,
    /// Also read seats: the assigned allotments and the licence assignments.
    #[serde(default)]
    seats: bool,
    /// With seats, also read who was active: the user-session audit events of 90 days.
    #[serde(default)]
    seat_activity: bool,
}

#[derive(Deserialize, Serialize, JsonSchema, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "snake_case")]
enum PeriodToInclude {
    Current,
    Previous,
}

/// The record fields a series can be split by; `period` is always a label.
#[derive(Deserialize, Serialize, JsonSchema, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "snake_case")]
enum Label {
    ResourceType,
    ResourceAction,
    PeriodType,
    Unit,
    ResourceId,
    UserId,
}

impl Label {
    fn name(self) -> &'static str {
        match self {
            Label::ResourceType => "resource_type",
            Label::ResourceAction => "resource_action",
            Label::PeriodType => "period_type",
            Label::Unit => "unit",
            Label::ResourceId => "resource_id",
            Label::UserId => "user_id",
        }
    }

    fn value<'r>(self, record: &'r Execution<'_>) -> &'r str {
        let field = match self {
            Label::ResourceType => &record.resource_type,
            Label::ResourceAction => &record.resource_action,
            Label::PeriodType => &record.period_type,
            Label::Unit => &record.unit,
            Label::ResourceId => &record.resource_id,
            Label::UserId => &record.user_id,
        };
        field.as_deref().unwrap_or("")
    }
}

fn default_periods() -> Vec<PeriodToInclude> {
    vec![PeriodToInclude::Current, PeriodToInclude::Previous]
}

fn default_labels() -> Vec<Label> {
    vec![
        Label::ResourceType,
        Label::ResourceAction,
        Label::PeriodType,
        Label::Unit,
    ]
}

impl Vendor for QlikType {
    type Settings = QlikSettings;

    fn name(&self) -> &'static str {
        "qlik"
    }

    /// Qlik's OAuth M2M token endpoint lives on the tenant host.
    fn default_token_url(&self, base_url: &Url) -> Option<Url> {
        base_url.join("/oauth/token").ok()
    }

    fn source(&self, settings: QlikSettings) -> Result<Arc<dyn Source>, Vec<FieldError>> {
        let page_size = settings.page_size.unwrap_or(MAX_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&page_size) {
            return Err(vec![FieldError::new(
                "page_size",
                format!("must be 1 to {MAX_PAGE_SIZE} (Qlik's limit)"),
            )]);
        }
        let names: Vec<&str> = settings.labels.iter().map(|l| l.name()).collect();
        let label_errors = check_labels("labels", &names);
        if !label_errors.is_empty() {
            return Err(label_errors);
        }
        if settings.seat_activity && !settings.seats {
            return Err(vec![FieldError::new(
                "seat_activity",
                "seat_activity reads who holds the seats seats: true reads: set seats: true",
            )]);
        }
        let facts = facts(&settings);
        Ok(Arc::new(Qlik {
            facts,
            entitlements: settings.entitlements,
            seats: settings.seats,
            seat_activity: settings.seat_activity,
            periods: settings.periods_to_include,
            filter: settings.filter,
            sort: settings.sort,
            labels: settings.labels,
            page_size,
        }))
    }
}

/// Qlik bills capacity per resource type and action; budgets read the current period's local
/// usage by the configured labels.
fn facts(settings: &QlikSettings) -> Facts {
    let usage_labels: Vec<&'static str> = settings.labels.iter().map(|l| l.name()).collect();
    let mut label_names = usage_labels.clone();
    label_names.extend(["period", "allotment"]);
    if settings.seats {
        label_names.extend(["type", "kind"]);
    }
    Facts {
        label_names,
        reports_seat_activity: settings.seat_activity,
        service: Some(ServiceOf::Joined(&["resource_type", "resource_action"])),
        budget_unit: BudgetUnit::Label("unit"),
        error_detail: describe_qlik_error,
        ..Facts::new(ENDPOINTS, &usage_labels)
    }
}

/// A configured Qlik Cloud tenant.
pub struct Qlik {
    facts: Facts,
    entitlements: bool,
    seats: bool,
    seat_activity: bool,
    periods: Vec<PeriodToInclude>,
    filter: Option<String>,
    sort: Vec<String>,
    labels: Vec<Label>,
    page_size: u32,
}

// Borrowed from the page's bytes: a record costs no allocation unless a string has escapes.
/// As Qlik's contract has it (`@qlik/api` consumption.d.ts): `currentPageCount` and
/// `totalCount` are required, `data` is not (an empty result may leave it out). An object
/// without the counts (a gateway's or an error's body) is not read as a tenant without records.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExecutionsPage<'a> {
    #[serde(borrow, default, deserialize_with = "crate::sources::strict::objects")]
    data: Vec<Execution<'a>>,
    #[serde(rename = "currentPageCount")]
    _current_page_count: serde::de::IgnoredAny,
    #[serde(rename = "totalCount")]
    _total_count: serde::de::IgnoredAny,
    #[serde(
        borrow,
        default,
        deserialize_with = "crate::sources::strict::optional_object"
    )]
    links: Option<Links<'a>>,
    #[serde(default)]
    overage: Option<bool>,
    #[serde(default)]
    close_to_overage: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Execution<'a> {
    #[serde(borrow)]
    unit: Option<Cow<'a, str>>,
    #[serde(borrow)]
    user_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    resource_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    resource_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    resource_action: Option<Cow<'a, str>>,
    #[serde(borrow)]
    period_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    period_start: Option<Cow<'a, str>>,
    #[serde(borrow)]
    period_end: Option<Cow<'a, str>>,
    local_usage: Option<f64>,
    global_usage: Option<f64>,
    capacity_limit: Option<f64>,
    guardrail_limit: Option<f64>,
    overage: Option<bool>,
    blocked: Option<bool>,
    close_to_overage: Option<bool>,
    #[serde(borrow)]
    update_time: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Links<'a> {
    #[serde(
        borrow,
        deserialize_with = "crate::sources::strict::optional_object",
        default
    )]
    next: Option<Link<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Link<'a> {
    #[serde(borrow)]
    href: Option<Cow<'a, str>>,
    #[serde(borrow)]
    token: Option<Cow<'a, str>>,
}

/// Qlik's endpoints. M2M OAuth clients have the Tenant Admin role; an API key acts as its user.
const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        name: TOKEN_ENDPOINT,
        path_contains: "/oauth/token",
        needs: "an OAuth client created in the Administration activity center > OAuth as a Web client with Machine-to-machine checked and consent method Trusted, its client ID and a current client secret",
    },
    Endpoint {
        name: "usage",
        path_contains: EXECUTIONS_PATH,
        needs: "a Machine-to-machine OAuth client (it has the Tenant Admin role), or an API key of a user with the Tenant Admin role, on this tenant host",
    },
    Endpoint {
        name: "licence overview",
        path_contains: "/api/v1/licenses/overview",
        needs: "entitlements: true and seats: true need a user with the Tenant Admin role (a Machine-to-machine OAuth client has it)",
    },
    Endpoint {
        name: "seat assignments",
        path_contains: "/api/v1/licenses/assignments",
        needs: "seats: true needs a user with the Tenant Admin role (a Machine-to-machine OAuth client has it)",
    },
    Endpoint {
        name: "audit events",
        path_contains: "/api/v1/audits",
        needs: "seat_activity: true needs a user with the Tenant Admin role that may read the audit events",
    },
];

#[async_trait]
impl Source for Qlik {
    fn facts(&self) -> &Facts {
        &self.facts
    }

    fn probes(&self, session: &PollSession<'_>, now: DateTime<Utc>) -> Vec<Probe> {
        let mut probes = vec![Probe::of(Request::get(with_query(
            &self.first_page_url(session),
            "limit",
            "1",
        )))];
        if self.entitlements || self.seats {
            let overview = session.url("/api/v1/licenses/overview");
            probes.push(Probe::of(Request::get(overview)));
        }
        if self.seats {
            probes.push(Probe::of(Request::get(seats::smallest_page(session))));
        }
        if self.seat_activity {
            probes.push(Probe::of(Request::get(seats::smallest_audit_page(
                session, now,
            ))));
        }
        probes
    }

    async fn poll(
        &self,
        session: &PollSession<'_>,
        clock: &dyn Clock,
        plan: PollPlan,
    ) -> Result<Snapshot, PollError> {
        let first = self.first_page_url(session);
        let reads_inventories = plan.reads_inventories();
        let rule = plan.seat_rule(clock.now());
        let mut folder = Folder::new(&self.labels, clock.now(), plan);
        let mut url = first.clone();
        loop {
            let page = session.get_page(&url).await?;
            let body: ExecutionsPage = page.json_object()?;
            folder.fold_page(&body);
            match next_page_url(&body, &first, &page, session)? {
                Some(next) => url = next,
                None => break,
            }
        }
        let seats = match self.seats && reads_inventories {
            true => Some(seats::read(session, self.seat_activity, clock.now()).await?),
            false => None,
        };
        let overview = match (&seats, self.entitlements) {
            (Some(read), _) => Some(read.overview().clone()),
            (None, true) => Some(license_overview(session).await?),
            (None, false) => None,
        };
        let licence_end = overview.as_ref().and_then(LicenseOverview::end);
        if self.entitlements {
            folder.license = overview;
        }
        let mut snapshot = folder.finish();
        if let Some(read) = seats {
            seats::add(&mut snapshot, read, &rule);
        }
        // Read for seats or for entitlements, the licence's end is a renewal either way.
        if let Some(at) = licence_end {
            let seats = snapshot.seats.get_or_insert_with(Default::default);
            seats.ends.push(LicenceEnd {
                licence: "Qlik Cloud licence".to_string(),
                sub_account: String::new(),
                at: at.timestamp() as f64,
            });
        }
        Ok(snapshot)
    }

    /// The account is the tenant, whose hostname the base URL is.
    fn billing(&self, base_url: &Url, _token_url: Option<&Url>) -> Option<Billing> {
        Some(Billing {
            provider: "Qlik",
            account_id: base_url.host_str().unwrap_or_default().to_string(),
            sub_account_label: None,
            service_category: "Analytics",
            service_subcategory: "Business Intelligence",
            virtual_currency: false,
        })
    }
}

impl Qlik {
    fn first_page_url(&self, session: &PollSession<'_>) -> Url {
        let mut url = session.url(EXECUTIONS_PATH);
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("limit", &self.page_size.to_string());
            for period in &self.periods {
                let value = match period {
                    PeriodToInclude::Current => "current",
                    PeriodToInclude::Previous => "previous",
                };
                query.append_pair("periodsToInclude", value);
            }
            if let Some(filter) = &self.filter {
                query.append_pair("filter", filter);
            }
            for sort in &self.sort {
                query.append_pair("sort", sort);
            }
        }
        url
    }
}

/// The next page: the first page's query with `page=<token>` when Qlik gives a token. Else
/// `href`: an absolute one keeps only its path and query, on the tenant host (Qlik's own
/// examples name other hosts); a relative one is resolved against the page that carried it.
fn next_page_url(
    body: &ExecutionsPage<'_>,
    first: &Url,
    page: &Page,
    session: &PollSession<'_>,
) -> Result<Option<Url>, PageError> {
    let Some(next) = body.links.as_ref().and_then(|l| l.next.as_ref()) else {
        return Ok(None);
    };
    if let Some(token) = next.token.as_deref().filter(|t| !t.is_empty()) {
        let mut url = first.clone();
        url.query_pairs_mut().append_pair("page", token);
        return Ok(Some(url));
    }
    let Some(href) = next.href.as_deref().filter(|h| !h.is_empty()) else {
        return Ok(None);
    };
    let Ok(absolute) = Url::parse(href) else {
        return session.same_host_link(page, href).map(Some);
    };
    let mut url = session.url(absolute.path());
    url.set_query(absolute.query());
    Ok(Some(url))
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    errors: Vec<ErrorEntry>,
    #[serde(default, rename = "traceId")]
    trace_id: Option<String>,
}

#[derive(Deserialize)]
struct ErrorEntry {
    code: Option<String>,
    title: Option<String>,
    detail: Option<String>,
    details: Option<String>,
}

/// `HTTP-429 API rate limit reached. (You need to wait 13 seconds…) [traceId 7975…]`.
fn describe_qlik_error(body: &[u8]) -> Option<String> {
    let parsed: ErrorBody = serde_json::from_slice(body).ok()?;
    let mut parts: Vec<String> = parsed
        .errors
        .iter()
        .map(|e| {
            let head = [e.code.as_deref(), e.title.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            match e.detail.as_deref().or(e.details.as_deref()) {
                Some(detail) => format!("{head} ({detail})"),
                None => head,
            }
        })
        .collect();
    if parts.is_empty() {
        return None;
    }
    if let Some(trace) = parsed.trace_id {
        parts.push(format!("[traceId {trace}]"));
    }
    Some(parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::clock::testing::at;

    fn sample(snapshot: &Snapshot, family: &str, labels: &[&str]) -> Option<f64> {
        snapshot.family(family)?.get(labels)
    }

    #[test]
    fn records_fold_into_sums_flags_and_period_by_their_own_dates() {
        let page: ExecutionsPage = serde_json::from_str(
            r#"{"data":[
              {"unit":"reloads","resourceType":"app","resourceAction":"reload","periodType":"month",
               "periodStart":"2026-11-01","periodEnd":"2026-11-30","localUsage":20,"globalUsage":29,
               "capacityLimit":50,"guardrailLimit":20,"overage":false,"updateTime":"2026-11-22T08:00:00Z"},
              {"unit":"reloads","resourceType":"app","resourceAction":"reload","periodType":"month",
               "periodStart":"2026-11-01","periodEnd":"2026-11-30","localUsage":5,"globalUsage":1,
               "capacityLimit":50,"overage":true,"closeToOverage":true,"updateTime":"2026-11-22T09:30:00Z"},
              {"unit":"reloads","resourceType":"app","resourceAction":"reload","periodType":"month",
               "periodStart":"2026-10-01","periodEnd":"2026-10-31","localUsage":7,"blocked":true,
               "unknownField":{"ignored":true}}
            ],"overage":true,"closeToOverage":false,"totalCount":3,"currentPageCount":3}"#,
        )
        .unwrap();
        let labels = default_labels();
        let mut folder = Folder::new(&labels, at("2026-11-22T10:00:00Z"), PollPlan::default());
        folder.fold_page(&page);
        let snapshot = folder.finish();
        let current = ["app", "reload", "month", "reloads", "current"];
        let previous = ["app", "reload", "month", "reloads", "previous"];
        assert_eq!(
            sample(&snapshot, "consumption_qlik_local_usage", &current),
            Some(25.0)
        );
        assert_eq!(
            sample(&snapshot, "consumption_qlik_global_usage", &current),
            Some(30.0)
        );
        assert_eq!(
            sample(&snapshot, "consumption_qlik_capacity_limit", &current),
            Some(100.0)
        );
        assert_eq!(
            sample(&snapshot, "consumption_qlik_guardrail_limit", &current),
            Some(20.0)
        );
        assert_eq!(
            sample(&snapshot, "consumption_qlik_overage", &current),
            Some(1.0)
        );
        assert_eq!(
            sample(&snapshot, "consumption_qlik_close_to_overage", &current),
            Some(1.0)
        );
        assert_eq!(
            sample(&snapshot, "consumption_qlik_blocked", &current),
            Some(0.0)
        );
        assert_eq!(
            sample(&snapshot, "consumption_qlik_blocked", &previous),
            Some(1.0)
        );
        assert_eq!(
            sample(&snapshot, "consumption_qlik_local_usage", &previous),
            Some(7.0)
        );
        assert_eq!(
            sample(&snapshot, "consumption_qlik_global_usage", &previous),
            None
        );
        let end = at("2026-12-01T00:00:00Z").timestamp() as f64;
        assert_eq!(
            sample(
                &snapshot,
                "consumption_qlik_period_end_timestamp_seconds",
                &current
            ),
            Some(end)
        );
        assert_eq!(
            sample(&snapshot, "consumption_qlik_tenant_overage", &[]),
            Some(1.0)
        );
        assert_eq!(
            sample(&snapshot, "consumption_qlik_tenant_close_to_overage", &[]),
            Some(0.0)
        );
        assert_eq!(
            snapshot.data_updated,
            Some(at("2026-11-22T09:30:00Z").timestamp() as f64)
        );
    }

    #[test]
    fn a_period_ends_at_the_midnight_after_its_last_day() {
        assert_eq!(
            end_of_last_day("2026-11-30"),
            Some(at("2026-12-01T00:00:00Z"))
        );
        assert_eq!(
            end_of_last_day("2026-11-30T12:00:00Z"),
            Some(at("2026-11-30T12:00:00Z"))
        );
        assert_eq!(end_of_last_day("someday"), None);
    }

    #[test]
    fn qlik_error_bodies_read_as_one_line() {
        let body = br#"{"errors":[{"code":"HTTP-429","title":"API rate limit reached.","detail":"You need to wait 13 seconds until limit is lifted."}],"traceId":"7975401f3954aa47"}"#;
        assert_eq!(
            describe_qlik_error(body).as_deref(),
            Some("HTTP-429 API rate limit reached. (You need to wait 13 seconds until limit is lifted.); [traceId 7975401f3954aa47]")
        );
        let spec_example = br#"{"errors":[{"code":"HTTP-123","title":"short error message","details":"detailed error message"}]}"#;
        assert_eq!(
            describe_qlik_error(spec_example).as_deref(),
            Some("HTTP-123 short error message (detailed error message)")
        );
        assert_eq!(describe_qlik_error(b"<html>"), None);
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::sources::arbitrary_json::body;
    use proptest::prelude::*;

    const KEYS: &[&str] = &[
        "data",
        "links",
        "next",
        "href",
        "token",
        "overage",
        "closeToOverage",
        "unit",
        "userId",
        "resourceId",
        "resourceType",
        "resourceAction",
        "periodType",
        "periodStart",
        "periodEnd",
        "localUsage",
        "globalUsage",
        "capacityLimit",
        "guardrailLimit",
        "blocked",
        "updateTime",
        "errors",
        "code",
        "title",
        "detail",
        "traceId",
    ];

    proptest! {
        #[test]
        fn any_body_decodes_and_folds_or_errors_without_panicking(bytes in body(KEYS)) {
            let labels = default_labels();
            if let Ok(page) = serde_json::from_slice::<ExecutionsPage>(&bytes) {
                let mut folder = Folder::new(&labels, Utc::now(), PollPlan::default());
                folder.fold_page(&page);
                folder.finish();
            }
            let _ = describe_qlik_error(&bytes);
        }
    }
}
