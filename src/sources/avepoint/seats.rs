//! AvePoint seats (`seats: true`): the Power Automate cloud flows
//! (`GET /smp/powerplatform/powerautomate/cloudflows`, `lastRunTime`) and the Power Apps with a
//! premium connection (`GET /smp/powerplatform/powerapps`, `lastLaunchedOn`), each per
//! environment, shared/vendor-seats.md §3. A flow that has not run and a premium app that has
//! not been opened within `idle_after` are idle: paid for (a Process licence, premium seats)
//! and not used.
//!
//! Vendor facts and gaps: `top` 1–1000, `nextLink` as on every EnPower list; timestamps are
//! `YYYY-MM-DD HH:MM:SS` with no zone (read as UTC) and `""` for never; the samples write
//! counters and flags as strings at times, so `hasPremiumConnection` is read as a bool or a
//! string; the activity fields were added in December 2025, so an older answer without them
//! reads as never active.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::AvePoint;
use url::Url;

use crate::http::{Endpoint, PageError, PollSession, Request, TOKEN_ENDPOINT};
use crate::model::seats::{Activity, Holder, LicenceSeats, SeatRule, Seats};
use crate::sources::{PollError, Probe};

/// What a refused inventory read needs.
const SEATS_SCOPE: &str = "seats: true needs the scope enpower.data.read.all and an app registered for EnPower's Power Platform inventory";

/// The permission Cloud Backup's seats need, asked for in the token request.
pub(super) const BACKUP_SCOPE_NAME: &str = "microsoft365backup.subscriptionInfo.read.all";

/// What a refused Cloud Backup read needs.
const BACKUP_SCOPE: &str =
    "cloud_backup_seats: true needs the permission microsoft365backup.subscriptionInfo.read.all";

const BACKUP_PATH: &str = "/backup/m365/cloudbackuplicenseconsumption";

/// AvePoint's envelope: `data` is required, an answer without it is no seat count.
#[derive(Deserialize)]
struct BackupBody {
    data: Value,
}

/// One inventory list: its path, the key of its items, and what its items are.
struct Inventory {
    path: &'static str,
    list: &'static str,
    licence: &'static str,
}

const FLOWS: Inventory = Inventory {
    path: "/smp/powerplatform/powerautomate/cloudflows",
    list: "cloudFlows",
    licence: "cloud flow",
};

const APPS: Inventory = Inventory {
    path: "/smp/powerplatform/powerapps",
    list: "powerApps",
    licence: "premium app",
};

#[derive(Deserialize)]
struct InventoryPage {
    #[serde(flatten)]
    fields: BTreeMap<String, Value>,
}

/// AvePoint's endpoints: an app registered in AvePoint Online Services > Administration > App
/// registrations, with the EnPower service added.
pub(super) const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        name: TOKEN_ENDPOINT,
        path_contains: "/connect/token",
        needs: "an app registered in AvePoint Online Services > Administration > App registrations, its application (client) ID and a current client secret or its certificate, on the identity host of the tenant's data centre, with the scope enpower.data.read.all; with a certificate, a refused assertion may also mean this machine's clock is off (check NTP)",
    },
    Endpoint {
        name: "usage",
        path_contains: super::USAGE_PATH,
        needs: "the EnPower service added to the app registration with the permission enpower.data.read.all, on the graph host of the tenant's data centre (graph-us, graph-eu, …)",
    },
    Endpoint {
        name: "cloud flows",
        path_contains: FLOWS.path,
        needs: "seats: true needs the permission enpower.data.read.all and EnPower's Power Platform inventory for the tenant",
    },
    Endpoint {
        name: "apps",
        path_contains: APPS.path,
        needs: "seats: true needs the permission enpower.data.read.all and EnPower's Power Platform inventory for the tenant",
    },
    Endpoint {
        name: "Cloud Backup seats",
        path_contains: BACKUP_PATH,
        needs: "cloud_backup_seats: true needs the Cloud Backup for Microsoft 365 service on the app registration with the permission microsoft365backup.subscriptionInfo.read.all",
    },
];

impl AvePoint {
    /// The first flow and the first app of the inventory, and the Cloud Backup seats.
    pub(super) fn seat_probes(&self, session: &PollSession<'_>) -> Vec<Probe> {
        let mut probes: Vec<Probe> = [FLOWS, APPS]
            .iter()
            .map(|inventory| Probe::of(Request::get(self.inventory_url(session, inventory, 1))))
            .collect();
        if self.settings.cloud_backup_seats {
            probes.push(Probe::of(Request::get(session.url(BACKUP_PATH))));
        }
        probes
    }

    fn inventory_url(&self, session: &PollSession<'_>, inventory: &Inventory, top: u32) -> Url {
        let mut url = session.url(inventory.path);
        let mut query = url.query_pairs_mut();
        query.append_pair("top", &top.to_string());
        if let Some(tenant) = &self.settings.tenant {
            query.append_pair("tenant", tenant);
        }
        drop(query);
        url
    }

    /// Every cloud flow and premium app, as seats per environment; with
    /// `cloud_backup_seats`, AvePoint's own Cloud Backup seats too.
    pub(super) async fn seats(
        &self,
        session: &PollSession<'_>,
        rule: &SeatRule,
    ) -> Result<Seats, PollError> {
        let mut activity: BTreeMap<EnvironmentLicence, Activity> = BTreeMap::new();
        for inventory in [FLOWS, APPS] {
            self.read_inventory(session, &inventory, (rule, &mut activity))
                .await?;
        }
        let backup = match self.settings.cloud_backup_seats {
            true => Some(self.backup_seats(session).await?),
            false => None,
        };
        let licences = activity
            .into_iter()
            .map(|((licence, environment), activity)| LicenceSeats {
                licence: licence.to_string(),
                sub_account: environment,
                purchased: None,
                assigned: None,
                activity: Some(activity),
            })
            .chain(backup)
            .collect();
        Ok(Seats {
            licences,
            ends: Vec::new(),
        })
    }

    /// `GET /backup/m365/cloudbackuplicenseconsumption`: Cloud Backup for Microsoft 365 seats,
    /// bought and assigned (no activity per seat).
    async fn backup_seats(&self, session: &PollSession<'_>) -> Result<LicenceSeats, PollError> {
        let fail = |source| PollError::Item {
            item: format!("Cloud Backup licence consumption ({BACKUP_SCOPE})"),
            source,
        };
        let url = session.url(BACKUP_PATH);
        let response = session
            .send(&crate::http::Request::get(url))
            .await
            .map_err(fail)?;
        let body: BackupBody = response.json_object().map_err(fail)?;
        // Absent or null: not said; anything else must be a finite count.
        let seats = |key: &str| match &body.data[key] {
            Value::Null => Ok(None),
            value => crate::sources::strict::finite_number(value)
                .map(Some)
                .ok_or_else(|| {
                    let detail = format!("{key} is {value}, not a finite number of seats");
                    fail(response.decode_error(detail))
                }),
        };
        Ok(LicenceSeats {
            licence: "Cloud Backup for Microsoft 365".to_string(),
            sub_account: String::new(),
            purchased: seats("purchasedUserSeats")?,
            assigned: seats("assignedUserSeats")?,
            activity: None,
        })
    }

    async fn read_inventory(
        &self,
        session: &PollSession<'_>,
        inventory: &Inventory,
        (rule, activity): (&SeatRule, &mut BTreeMap<EnvironmentLicence, Activity>),
    ) -> Result<(), PollError> {
        let fail = |PageError { page, source }| PollError::Item {
            item: format!("page {page} of {} ({SEATS_SCOPE})", inventory.path),
            source,
        };
        let mut url = self.inventory_url(session, inventory, self.settings.page_size);
        loop {
            let page = session.get_page(&url).await.map_err(fail)?;
            let mut body: InventoryPage = page.json_object().map_err(fail)?;
            let Some(Value::Array(items)) = body.fields.remove(inventory.list) else {
                let detail = format!("the answer has no `{}` list", inventory.list);
                return Err(fail(PageError {
                    page: page.number,
                    source: page.response.decode_error(detail),
                }));
            };
            for item in &items {
                if let Some((licence, holder)) = seat_of(inventory, item) {
                    activity.entry(licence).or_default().add(rule, holder);
                }
            }
            let next = body.fields.get("nextLink").and_then(Value::as_str);
            match next.map(str::trim).filter(|l| !l.is_empty()) {
                Some(link) => url = session.same_host_link(&page, link).map_err(fail)?,
                None => return Ok(()),
            }
        }
    }
}

/// A seat kind in one environment: the environment is the seats' sub-account.
type EnvironmentLicence = (&'static str, String);

/// The licence (kind and environment) and holder of one item; none for an app without a
/// premium connection, which needs no premium seat.
fn seat_of(inventory: &Inventory, item: &Value) -> Option<(EnvironmentLicence, Holder)> {
    let text = |key: &str| item[key].as_str().unwrap_or("").to_string();
    let (id, environment, last) = match inventory.list {
        "cloudFlows" => (text("flowId"), text("environmentId"), text("lastRunTime")),
        _ => {
            if !is_true(&item["hasPremiumConnection"]) {
                return None;
            }
            (text("appId"), text("environment"), text("lastLaunchedOn"))
        }
    };
    let name = text("displayName");
    let holder = Holder {
        id,
        name: (!name.is_empty()).then_some(name),
        last_activity: parse_time(&last),
    };
    Some(((inventory.licence, environment), holder))
}

fn is_true(value: &Value) -> bool {
    value.as_bool().unwrap_or(false)
        || value
            .as_str()
            .is_some_and(|s| s.eq_ignore_ascii_case("true"))
}

/// `YYYY-MM-DD HH:MM:SS` (UTC, as AvePoint writes it without a zone) or RFC 3339; `""`: never.
fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(at) = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S") {
        return Some(at.and_utc());
    }
    crate::sources::windows::parse_day_or_time(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avepoint_times_without_a_zone_are_utc_and_empty_is_never() {
        let at = parse_time("2024-06-13 03:31:12").map(|t| t.to_rfc3339());
        assert_eq!(at.as_deref(), Some("2024-06-13T03:31:12+00:00"));
        assert_eq!(parse_time(""), None);
    }

    #[test]
    fn an_app_needs_a_premium_connection_written_as_a_bool_or_a_string() {
        let app = |premium: Value| serde_json::json!({"appId": "a", "environment": "e", "hasPremiumConnection": premium, "lastLaunchedOn": ""});
        assert!(seat_of(&APPS, &app(Value::Bool(true))).is_some());
        assert!(seat_of(&APPS, &app(Value::from("True"))).is_some());
        assert!(seat_of(&APPS, &app(Value::Bool(false))).is_none());
    }
}
