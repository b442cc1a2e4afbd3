//! What `check --online` asks UiPath, and what each endpoint needs of a credential.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::folders::FOLDER_ENDPOINT;
use super::seats::{default_robot_types, named_users_odata, LICENCE_ODATA};
use super::{UiPath, DAILY_ENDPOINT};
use crate::http::{Endpoint, PollSession, Request, TOKEN_ENDPOINT};
use crate::sources::{with_query, Probe};

/// Whether an external application's client-credentials token is accepted by the usage
/// (`lease_`) endpoints is not documented; the password grant of an Organization Administrator
/// is what UiPath documents for them. Most specific first: `GetLicensesNamedUser` holds
/// `GetLicense`.
pub(super) const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        name: TOKEN_ENDPOINT,
        path_contains: "/identity_/connect/token",
        needs: "an external application (Admin > External Applications) registered as a confidential application with application scopes, its app ID and a current app secret; scopes a confidential app was not granted are refused (invalid_scope)",
    },
    Endpoint {
        name: "usage",
        path_contains: DAILY_ENDPOINT,
        needs: "a token that may read license consumption: the external application's scope PM.License (Platform Management), or the password grant of an Organization Administrator; and the organization_id and tenant_ids of this organisation",
    },
    Endpoint {
        name: "consumption summary",
        path_contains: "/consumption-summary",
        needs: "entitlements: true needs the scope PM.License, or the password grant of an Organization Administrator",
    },
    Endpoint {
        name: "consumption by folder",
        path_contains: FOLDER_ENDPOINT,
        needs: "by_folder: true needs the scope PM.License, or the password grant of an Organization Administrator",
    },
    Endpoint {
        name: "named users",
        path_contains: "GetLicensesNamedUser",
        needs: "seats: true needs the scope OR.License.Read (or OR.License) and the License.View permission on the tenant (a tenant role in Orchestrator)",
    },
    Endpoint {
        name: "Orchestrator licence",
        path_contains: "OData.GetLicense",
        needs: "seats: true needs the scope OR.Settings.Read (or OR.Settings) and, for the application, the License.View permission on the tenant (a tenant role in Orchestrator)",
    },
];

impl UiPath {
    /// One request to each endpoint the config calls, for its first tenant and consumable:
    /// today only, the first named user of the first robot type.
    pub(super) fn smallest_requests(
        &self,
        session: &PollSession<'_>,
        now: DateTime<Utc>,
    ) -> Vec<Probe> {
        let settings = &self.settings;
        let (Some(tenant), Some(consumable)) = (
            settings.tenant_ids.first(),
            settings.consumable_codes.first(),
        ) else {
            return Vec::new();
        };
        let midnight = now
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .unwrap_or_default()
            .and_utc();
        let today = json!({
            "tenantId": tenant,
            "startDate": midnight.timestamp_millis(),
            "endDate": now.timestamp_millis(),
            "consumableCode": consumable,
            "aggregateByOwnership": settings.aggregate_by_ownership,
        });
        let post = |path: String, body| Probe::of(Request::post_json(session.url(&path), body));
        let mut probes = vec![post(self.lease_path(DAILY_ENDPOINT), today.clone())];
        if settings.entitlements {
            let summary = self.lease_path(&format!("{tenant}/consumption-summary"));
            probes.push(post(summary, json!({"consumableCode": consumable})));
        }
        if settings.by_folder {
            probes.push(post(self.lease_path(FOLDER_ENDPOINT), today));
        }
        if settings.seats {
            let licence = session.url(&self.orchestrator_path(tenant, LICENCE_ODATA));
            probes.push(Probe::of(Request::get(licence)));
            let robot_type = settings
                .seat_robot_types
                .clone()
                .unwrap_or_else(default_robot_types);
            if let Some(robot_type) = robot_type.first() {
                let users =
                    session.url(&self.orchestrator_path(tenant, &named_users_odata(robot_type)));
                probes.push(Probe::of(Request::get(with_query(&users, "$top", "1"))));
            }
        }
        probes
    }
}
