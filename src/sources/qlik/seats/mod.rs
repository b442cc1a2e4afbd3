//! Qlik Cloud seats (`seats: true`): the licence overview's assigned allotments (professional,
//! analyzer: `units` bought, `unitsUsed` assigned) and the licence assignments
//! (`GET /api/v1/licenses/assignments`, counted per type: all, in excess, and orphans, those of
//! users the tenant no longer has), shared/vendor-seats.md §1.
//!
//! Vendor facts and gaps: `limit` is at most 100; `links.next.href` names the licence service's
//! internal host (`http://license/v1/…`), so only its `page` cursor is taken and the next URL is
//! built on the tenant host, never sent elsewhere with the token; qlik.dev's own example has an
//! item with `"type": false` and no `excess` (read as type `unknown`, not in excess);
//! assignments are the entitlement's across tenants, so they may outnumber this tenant's users.
//! Qlik's licence APIs hold no last activity: these seats are bought and assigned, not idle.
//! Assignments are counted as they page: a 20,000-assignment tenant holds counts, not items.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use super::{license_overview, LicenseOverview};
use crate::http::{PageError, PollSession};
use crate::model::seats::{Activity, Holder, LicenceSeats, SeatRule, Seats};
use crate::model::snapshot::{Combine, FamilyDesc, Snapshot, SnapshotBuilder};
use crate::sources::PollError;

mod audit;

use audit::SESSION_EVENTS_PROBED;

const ASSIGNMENTS_PATH: &str = "/api/v1/licenses/assignments";

/// Assignments per page: Qlik's maximum.
const PAGE: u32 = 100;

/// What a refused assignments read needs.
const SEATS_ROLE: &str = "seats: true needs a key or client whose user may read the licence overview and assignments, as a Tenant Admin may";

pub static ASSIGNMENTS: FamilyDesc = FamilyDesc {
    name: "consumption_qlik_license_assignments",
    help: "Qlik Cloud licence assignments per allotment type: all of them, those in excess of the allotment, and orphans (users the tenant no longer has).",
};

/// `data` is required: a body without it is not a tenant without assignments.
#[derive(Deserialize)]
struct AssignmentsPage {
    data: Vec<Value>,
    #[serde(default)]
    links: Value,
}

/// Assignment counts per type: all, excess, orphan; and with `seat_activity`, each type's
/// subjects.
#[derive(Default)]
pub(super) struct AssignmentCounts {
    by_type: BTreeMap<String, [f64; 3]>,
    subjects: Option<BTreeMap<String, Vec<String>>>,
}

impl AssignmentCounts {
    fn add(&mut self, item: &Value, orphans: bool) {
        let kind = item["type"].as_str().unwrap_or("unknown").to_string();
        let counts = self.by_type.entry(kind).or_default();
        if orphans {
            counts[2] += 1.0;
            return;
        }
        counts[0] += 1.0;
        if item["excess"].as_bool() == Some(true) {
            counts[1] += 1.0;
        }
        if let (Some(subjects), Some(subject)) = (&mut self.subjects, item["subject"].as_str()) {
            let kind = item["type"].as_str().unwrap_or("unknown");
            subjects
                .entry(kind.to_string())
                .or_default()
                .push(subject.to_string());
        }
    }
}

/// What a seats read found: the overview, the assignment counts, and with `seat_activity`
/// each subject's last session.
pub(super) struct SeatRead {
    overview: LicenseOverview,
    counts: AssignmentCounts,
    sessions: Option<HashMap<String, DateTime<Utc>>>,
}

impl SeatRead {
    pub(super) fn overview(&self) -> &LicenseOverview {
        &self.overview
    }
}

/// Reads the overview and every assignment, then the orphans; with `activity`, the user
/// sessions of the 90 days audits keep.
pub(super) async fn read(
    session: &PollSession<'_>,
    activity: bool,
    now: DateTime<Utc>,
) -> Result<SeatRead, PollError> {
    let overview = license_overview(session).await?;
    let mut counts = AssignmentCounts {
        subjects: activity.then(BTreeMap::new),
        ..AssignmentCounts::default()
    };
    for orphans in [false, true] {
        walk(session, orphans, &mut counts).await?;
    }
    let sessions = match activity {
        true => Some(audit::last_sessions(session, now).await?),
        false => None,
    };
    Ok(SeatRead {
        overview,
        counts,
        sessions,
    })
}

async fn walk(
    session: &PollSession<'_>,
    orphans: bool,
    counts: &mut AssignmentCounts,
) -> Result<(), PollError> {
    let which = match orphans {
        true => "orphaned licence assignments",
        false => "licence assignments",
    };
    let fail = |PageError { page, source }| PollError::Item {
        item: format!("page {page} of the {which} ({SEATS_ROLE})"),
        source,
    };
    let mut url = page_url(session, orphans, None);
    loop {
        let page = session.get_page(&url).await.map_err(fail)?;
        let body: AssignmentsPage = page.json_object().map_err(fail)?;
        for item in &body.data {
            counts.add(item, orphans);
        }
        match body.links["next"]["href"].as_str().and_then(cursor_of) {
            Some(cursor) => url = page_url(session, orphans, Some(&cursor)),
            None => return Ok(()),
        }
    }
}

/// The `page` cursor of a next link, wherever it points (Qlik's names an internal host).
fn cursor_of(href: &str) -> Option<String> {
    let base = Url::parse("http://relative/").ok()?;
    let url = Url::parse(href).or_else(|_| base.join(href)).ok()?;
    let page = url.query_pairs().find(|(key, _)| key == "page")?.1;
    (!page.is_empty()).then(|| page.into_owned())
}

/// The first assignment, for `check --online`.
pub(super) fn smallest_page(session: &PollSession<'_>) -> Url {
    crate::sources::with_query(&page_url(session, false, None), "limit", "1")
}

/// The last day's first session event, for `check --online`.
pub(super) fn smallest_audit_page(session: &PollSession<'_>, now: DateTime<Utc>) -> Url {
    audit::first_page(session, SESSION_EVENTS_PROBED, now, 1)
}

fn page_url(session: &PollSession<'_>, orphans: bool, cursor: Option<&str>) -> Url {
    let mut url = session.url(ASSIGNMENTS_PATH);
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("limit", &PAGE.to_string());
        if orphans {
            query.append_pair("orphans", "true");
        }
        if let Some(cursor) = cursor {
            query.append_pair("page", cursor);
        }
    }
    url
}

/// The seats of the assigned allotments (with `seat_activity`, each type's assignments as
/// holders with their last session), and the assignment counts as a family.
pub(super) fn add(snapshot: &mut Snapshot, read: SeatRead, rule: &SeatRule) {
    let SeatRead {
        overview,
        counts,
        sessions,
    } = read;
    let units = |name: &str| {
        let allotment = overview
            .allotments
            .iter()
            .find(|a| a.name.as_deref() == Some(name));
        allotment.and_then(|a| a.units)
    };
    let licences = match (&counts.subjects, &sessions) {
        (Some(subjects), Some(sessions)) => subjects
            .iter()
            .map(|(kind, subjects)| LicenceSeats {
                licence: kind.clone(),
                sub_account: String::new(),
                purchased: units(kind),
                assigned: None,
                activity: Some(subjects.iter().fold(
                    Activity::default(),
                    |mut activity, subject| {
                        let holder = Holder {
                            id: subject.clone(),
                            name: None,
                            last_activity: sessions.get(subject).copied(),
                        };
                        activity.add(rule, holder);
                        activity
                    },
                )),
            })
            .collect(),
        _ => overview
            .allotments
            .iter()
            .filter(|a| a.usage_class.as_deref() == Some("assigned"))
            .map(|a| LicenceSeats {
                licence: a.name.clone().unwrap_or_default(),
                sub_account: String::new(),
                purchased: a.units,
                assigned: a.units_used,
                activity: None,
            })
            .collect(),
    };
    snapshot.seats.get_or_insert_with(Seats::default).licences = licences;
    let mut builder = SnapshotBuilder::new();
    let family = builder.family(&ASSIGNMENTS, vec!["type", "kind"], Combine::Sum);
    for (kind, [all, excess, orphan]) in &counts.by_type {
        for (which, count) in [("all", all), ("excess", excess), ("orphan", orphan)] {
            builder.observe(family, &[kind, which], *count);
        }
    }
    snapshot.families.extend(builder.finish().families);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_is_taken_from_an_internal_host_or_a_relative_link() {
        let internal = "http://license/v1/licenses/assignments?limit=4&page=bmV4dDpGZ0FB%3D";
        assert_eq!(cursor_of(internal).as_deref(), Some("bmV4dDpGZ0FB="));
        assert_eq!(
            cursor_of("/v1/licenses/assignments?page=7").as_deref(),
            Some("7")
        );
        assert_eq!(
            cursor_of("http://license/v1/licenses/assignments?limit=4"),
            None
        );
    }

    #[test]
    fn qlik_docs_odd_item_counts_as_unknown_and_not_in_excess() {
        let mut counts = AssignmentCounts::default();
        let items: Vec<Value> = serde_json::from_str(
            r#"[{"type":"analyzer","excess":true,"subject":"a"},{"type":false,"subject":"b"}]"#,
        )
        .unwrap_or_default();
        for item in &items {
            counts.add(item, false);
        }
        assert_eq!(counts.by_type["analyzer"], [1.0, 1.0, 0.0]);
        assert_eq!(counts.by_type["unknown"], [1.0, 0.0, 0.0]);
    }
}
