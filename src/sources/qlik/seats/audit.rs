//! Qlik's user sessions from its audit events (`seat_activity: true`):
//! `GET /api/v1/audits?eventType=…&eventTime=<start>/<end>&limit=100`, for both names the
//! event has had (`com.qlik.user-session.begin`, and `com.qlik.core.user-session.begun` which
//! replaces it), over the 90 days the audits API keeps (shared/vendor-seats.md §1.4).
//!
//! Vendor facts and gaps: which name the API returns after the switch is undocumented, so both
//! are asked; the subject is read from `data.subject` (as the scripts that use these events
//! read it; the spec leaves `data` event-specific), an event without one is not a session of
//! a known holder; `links.next.href`'s cursor is followed on the tenant's audits path.

use std::collections::HashMap;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use crate::http::{PageError, PollSession};
use crate::sources::windows::parse_day_or_time;
use crate::sources::PollError;

const AUDITS_PATH: &str = "/api/v1/audits";

/// Both names of the event a user session begins with.
const SESSION_EVENTS: [&str; 2] = [
    "com.qlik.user-session.begin",
    "com.qlik.core.user-session.begun",
];

/// The event `check --online` asks for: any proves the audits may be read.
pub(super) const SESSION_EVENTS_PROBED: &str = SESSION_EVENTS[0];

/// How far back the audits API keeps events.
const KEPT_DAYS: i64 = 90;

const AUDIT_ROLE: &str =
    "seat_activity: true needs a key or client whose user may read the audit events, as a Tenant Admin may";

/// The first page of `event`s over the days the audits API keeps.
pub(super) fn first_page(
    session: &PollSession<'_>,
    event: &str,
    now: DateTime<Utc>,
    limit: u32,
) -> Url {
    let interval = format!(
        "{}/{}",
        (now - Duration::days(KEPT_DAYS)).to_rfc3339_opts(SecondsFormat::Secs, true),
        now.to_rfc3339_opts(SecondsFormat::Secs, true)
    );
    let mut url = session.url(AUDITS_PATH);
    url.query_pairs_mut()
        .append_pair("eventType", event)
        .append_pair("eventTime", &interval)
        .append_pair("limit", &limit.to_string());
    url
}

/// `data` is optional in Qlik's contract (`@qlik/api` audits.d.ts, `GetResult`): an event
/// name without events in 90 days may leave it out.
#[derive(Deserialize)]
struct AuditPage {
    #[serde(default)]
    data: Vec<Value>,
    #[serde(default)]
    links: Value,
}

/// The last session of each subject within the 90 days before `now`.
pub(super) async fn last_sessions(
    session: &PollSession<'_>,
    now: DateTime<Utc>,
) -> Result<HashMap<String, DateTime<Utc>>, PollError> {
    let mut last: HashMap<String, DateTime<Utc>> = HashMap::new();
    for event in SESSION_EVENTS {
        let fail = |PageError { page, source }| PollError::Item {
            item: format!("page {page} of the {event} audit events ({AUDIT_ROLE})"),
            source,
        };
        let mut url = first_page(session, event, now, 100);
        loop {
            let page = session.get_page(&url).await.map_err(fail)?;
            let body: AuditPage = page.json_object().map_err(fail)?;
            for item in &body.data {
                note(&mut last, item);
            }
            match body.links["next"]["href"]
                .as_str()
                .filter(|h| !h.is_empty())
            {
                Some(href) => url = on_tenant_host(session, &page, href).map_err(fail)?,
                None => break,
            }
        }
    }
    Ok(last)
}

fn note(last: &mut HashMap<String, DateTime<Utc>>, item: &Value) {
    let Some(subject) = item["data"]["subject"].as_str() else {
        return;
    };
    let Some(at) = item["eventTime"].as_str().and_then(parse_day_or_time) else {
        return;
    };
    let entry = last.entry(subject.to_string()).or_insert(at);
    *entry = (*entry).max(at);
}

/// The next page on the tenant's audits path, with the link's query: Qlik's contract pages
/// audits by query cursors (`next`), and its links may name an internal host and path
/// (`https://…internal…/v1/audits?next=…`), which only the cursor survives.
fn on_tenant_host(
    session: &PollSession<'_>,
    page: &crate::http::Page,
    href: &str,
) -> Result<Url, PageError> {
    let link = match Url::parse(href) {
        Ok(absolute) => absolute,
        Err(_) => session.same_host_link(page, href)?,
    };
    let mut url = session.url(AUDITS_PATH);
    url.set_query(link.query());
    Ok(url)
}
