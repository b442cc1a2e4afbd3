//! UiPath seats (`seats: true`): per tenant, Orchestrator's licence
//! (`GET …/odata/Settings/UiPath.Server.Configuration.OData.GetLicense`: `Allowed` and `Used`
//! per licence type, `ExpireDate`) and its named users per robot type
//! (`GET …/odata/LicensesNamedUser/…GetLicensesNamedUser(robotType='…')`: `UserName`,
//! `LastLoginDate`), shared/vendor-seats.md §2.
//!
//! Vendor facts and gaps: `$top` is at most 1000; `$count=true` asks for `@odata.count`, and
//! pages are read until it is reached, or, from a server that sends no count, until an empty
//! page (a short page may be a server's cap on `$top`, not the last); `LastLoginDate` is when the robot last acquired a licence (the
//! activity read here), null for one never used; which robot types are named-user types is
//! undocumented, so the configured list is asked and a type the tenant refuses with a 400
//! that names it (OData's "The value 'X' is not valid for robotType") is skipped, any other
//! 400 fails the poll; the keys of `Allowed` and `Used` are undocumented and read as licence names.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::UiPath;
use crate::http::{HttpError, PageError, PollSession, Request};
use crate::model::seats::{Activity, Holder, LicenceEnd, LicenceSeats, SeatRule, Seats};
use crate::sources::windows::parse_day_or_time;
use crate::sources::PollError;

/// The robot types asked for named users unless `seat_robot_types` says otherwise.
pub(super) const LICENCE_ODATA: &str = "Settings/UiPath.Server.Configuration.OData.GetLicense";

pub(super) fn named_users_odata(robot_type: &str) -> String {
    format!("LicensesNamedUser/UiPath.Server.Configuration.OData.GetLicensesNamedUser(robotType='{robot_type}')")
}

pub(super) fn default_robot_types() -> Vec<String> {
    [
        "Attended",
        "Development",
        "StudioX",
        "RpaDeveloper",
        "RpaDeveloperPro",
        "CitizenDeveloper",
        "StudioPro",
    ]
    .map(String::from)
    .to_vec()
}

/// The scopes `seats: true` adds to the token request: Orchestrator's spec requires them of
/// `GetLicense` and `GetLicensesNamedUser`.
pub(super) const SEATS_SCOPES: [&str; 2] = ["OR.License.Read", "OR.Settings.Read"];

/// What a refused licence read needs.
const LICENCE_GRANT: &str = "seats: true needs the scopes OR.License.Read (named users) and OR.Settings.Read (the licence) and the License.View permission on the tenant";

/// Named users per page: Orchestrator's maximum.
const PAGE: usize = 1000;

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct LicenseDto {
    allowed: BTreeMap<String, Option<f64>>,
    used: BTreeMap<String, Option<f64>>,
    expire_date: Option<serde_json::Value>,
}

/// `value` is required: a body without it is not a tenant without named users.
#[derive(Deserialize)]
struct NamedUserPage {
    #[serde(deserialize_with = "crate::sources::strict::objects")]
    value: Vec<NamedUser>,
    #[serde(rename = "@odata.count", default)]
    count: Option<usize>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct NamedUser {
    user_name: Option<String>,
    last_login_date: Option<String>,
}

/// A licence type in one tenant: the tenant is the seats' sub-account.
type TenantLicence = (String, String);

/// Seats per licence type and tenant, as they are read.
#[derive(Default)]
struct SeatFolder {
    purchased: BTreeMap<TenantLicence, f64>,
    used: BTreeMap<TenantLicence, f64>,
    activity: BTreeMap<TenantLicence, Activity>,
    ends: Vec<LicenceEnd>,
}

impl UiPath {
    /// Every tenant's licence and named users, tenant by tenant.
    pub(super) async fn seats(
        &self,
        session: &PollSession<'_>,
        rule: &SeatRule,
    ) -> Result<Seats, PollError> {
        let mut folder = SeatFolder::default();
        for tenant in &self.settings.tenant_ids {
            let licence = self.licence(session, tenant).await?;
            folder.add_licence(tenant, licence);
            let of_tenant = |name: String| (name, tenant.clone());
            let robot_types = self.settings.seat_robot_types.clone();
            for robot_type in &robot_types.unwrap_or_else(default_robot_types) {
                let users = self.named_users(session, (tenant, robot_type), rule);
                if let Some(activity) = users.await? {
                    folder
                        .activity
                        .insert(of_tenant(robot_type.clone()), activity);
                }
            }
        }
        Ok(folder.finish())
    }

    async fn licence(
        &self,
        session: &PollSession<'_>,
        tenant: &str,
    ) -> Result<LicenseDto, PollError> {
        let fail = |source| PollError::Item {
            item: format!("the Orchestrator licence of tenant {tenant} ({LICENCE_GRANT})"),
            source,
        };
        let path = self.orchestrator_path(tenant, LICENCE_ODATA);
        let response = session
            .send(&Request::get(session.url(&path)))
            .await
            .map_err(fail)?;
        response.json_object().map_err(fail)
    }

    /// A tenant's named users of one robot type, page by page, each folded into the type's
    /// activity as its page arrives; none when the tenant says the type is not one it has (400).
    async fn named_users(
        &self,
        session: &PollSession<'_>,
        (tenant, robot_type): (&str, &str),
        rule: &SeatRule,
    ) -> Result<Option<Activity>, PollError> {
        let path = self.orchestrator_path(tenant, &named_users_odata(robot_type));
        let fail = |PageError { page, source }| PollError::Item {
            item: format!(
                "page {page} of the {robot_type} named users of tenant {tenant} ({LICENCE_GRANT})"
            ),
            source,
        };
        let mut activity = Activity::default();
        let mut previous_first = None;
        loop {
            let read = activity.assigned();
            let url = named_users_page_url(session.url(&path), read);
            let page = match session.get_page(&url).await {
                Ok(page) => page,
                Err(PageError {
                    source: HttpError::Status { status, detail, .. },
                    ..
                }) if status == reqwest::StatusCode::BAD_REQUEST
                    && read == 0
                    && detail.contains(&format!("'{robot_type}'")) =>
                {
                    return Ok(None)
                }
                Err(error) => return Err(fail(error)),
            };
            let body: NamedUserPage = page.json_object().map_err(fail)?;
            let first = body.value.first().map(|user| user.user_name.clone());
            if first.is_some() && first == previous_first {
                // The same page again: a server that ignores `$skip` would be read forever.
                let link = crate::model::secret::redacted_url(&url);
                let source = HttpError::PaginationLoop { link };
                return Err(fail(PageError {
                    page: page.number,
                    source,
                }));
            }
            previous_first = first;
            let empty = body.value.is_empty();
            for user in body.value {
                activity.add(rule, user.holder());
            }
            let all = |count: usize| activity.assigned() >= count as u64;
            if empty || body.count.is_some_and(all) {
                return Ok(Some(activity));
            }
        }
    }
}

/// A page of named users from `read` on, with the count that says when the last is read.
fn named_users_page_url(mut url: url::Url, read: u64) -> url::Url {
    url.query_pairs_mut()
        .append_pair("$top", &PAGE.to_string())
        .append_pair("$skip", &read.to_string())
        .append_pair("$count", "true");
    url
}

impl NamedUser {
    fn holder(self) -> Holder {
        Holder {
            id: self.user_name.unwrap_or_default(),
            name: None,
            last_activity: self.last_login_date.as_deref().and_then(parse_day_or_time),
        }
    }
}

impl SeatFolder {
    /// A tenant's Orchestrator licence: a null count is none given, not zero seats.
    fn add_licence(&mut self, tenant: &str, licence: LicenseDto) {
        let of_tenant = |name: String| (name, tenant.to_string());
        let given = |counts: BTreeMap<String, Option<f64>>| {
            counts
                .into_iter()
                .filter_map(move |(name, count)| Some((of_tenant(name), count?)))
        };
        for (key, allowed) in given(licence.allowed) {
            *self.purchased.entry(key).or_default() += allowed;
        }
        for (key, used) in given(licence.used) {
            *self.used.entry(key).or_default() += used;
        }
        if let Some(at) = licence.expire_date.as_ref().and_then(epoch_or_time) {
            self.ends.push(LicenceEnd {
                licence: "Orchestrator licence".to_string(),
                sub_account: tenant.to_string(),
                at,
            });
        }
    }

    /// A licence type with named users counts them as its assigned seats; one without (a
    /// runtime licence, a concurrent one) takes `Used`.
    fn finish(self) -> Seats {
        let mut keys: Vec<&TenantLicence> = self.purchased.keys().chain(self.used.keys()).collect();
        keys.extend(self.activity.keys());
        keys.sort_unstable();
        keys.dedup();
        let licences = keys
            .into_iter()
            .map(|key| {
                let activity = self.activity.get(key).filter(|a| a.assigned() > 0).cloned();
                LicenceSeats {
                    licence: key.0.clone(),
                    sub_account: key.1.clone(),
                    purchased: self.purchased.get(key).copied(),
                    assigned: match activity {
                        Some(_) => None,
                        None => self.used.get(key).copied(),
                    },
                    activity,
                }
            })
            .collect();
        Seats {
            licences,
            ends: self.ends,
        }
    }
}

/// `ExpireDate`: epoch seconds in the spec (int64); a time or day string read too.
fn epoch_or_time(value: &serde_json::Value) -> Option<f64> {
    if let Some(seconds) = value.as_f64() {
        return Some(seconds);
    }
    let at: DateTime<Utc> = parse_day_or_time(value.as_str()?)?;
    Some(at.timestamp() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_null_count_in_orchestrators_licence_is_no_count_not_zero_seats() {
        let licence: LicenseDto = serde_json::from_str(
            r#"{"Allowed": {"Attended": null, "Unattended": 3}, "Used": {"Attended": 2, "Unattended": null}}"#,
        )
        .unwrap();
        let mut folder = SeatFolder::default();
        folder.add_licence("t1", licence);
        let seats = folder.finish();
        let of = |name: &str| {
            let found = seats.licences.iter().find(|l| l.licence == name).unwrap();
            (found.purchased, found.assigned, found.sub_account.as_str())
        };
        assert_eq!(of("Attended"), (None, Some(2.0), "t1"));
        assert_eq!(of("Unattended"), (Some(3.0), None, "t1"));
    }
}
