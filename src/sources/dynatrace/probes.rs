//! What `check --online` asks Dynatrace, and what each endpoint needs of an OAuth client.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::allocation::allocation_url;
use super::{active_in, ApiVersion, Dynatrace};
use crate::http::{Endpoint, PollSession, Request, Response, TOKEN_ENDPOINT};
use crate::sources::windows::Windows;
use crate::sources::{with_query, Probe};

/// Most specific first: the commitment's path (`…/subscriptions/{uuid}`) is the list's
/// (`…/subscriptions`) and more.
pub(super) const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        name: TOKEN_ENDPOINT,
        path_contains: "/sso/oauth2/token",
        needs: "an OAuth client created in Account Management > Identity & access management > OAuth clients, its client ID and secret (shown once), the scope account-uac-read, and resource=urn:dtaccount:<account_uuid> of this account",
    },
    Endpoint {
        name: "cost allocation",
        path_contains: "/cost-allocation",
        needs: "cost_allocation needs the scope account-uac-read, the account-viewer permission, and cost allocation on the subscription (DPS agreements signed after April 2023)",
    },
    Endpoint {
        name: "cost",
        path_contains: "/environments/cost",
        needs: "entitlements: true needs the scope account-uac-read and the account-viewer permission of the client's service user",
    },
    Endpoint {
        name: "usage",
        path_contains: "/environments/usage",
        needs: "the scope account-uac-read on the OAuth client and the account-viewer permission (Allow read access for usage and consumption resources) of its service user, in the account account_uuid names",
    },
    Endpoint {
        name: "forecast",
        path_contains: "/subscriptions/forecast",
        needs: "entitlements: true needs the scope account-uac-read and the account-viewer permission",
    },
    Endpoint {
        name: "commitment",
        path_contains: "/subscriptions/",
        needs: "entitlements: true needs the scope account-uac-read and the account-viewer permission",
    },
    Endpoint {
        name: "subscription list",
        path_contains: "/subscriptions",
        needs: "without subscription_uuid the account's subscriptions are listed, which needs the scope account-uac-read and the account-viewer permission",
    },
];

impl Dynatrace {
    /// The subscription's endpoints, or the account's list and then the first active
    /// subscription's endpoints when the config names none.
    pub(super) fn smallest_requests(
        &self,
        session: &PollSession<'_>,
        now: DateTime<Utc>,
    ) -> Vec<Probe> {
        if let Some(uuid) = &self.settings.subscription_uuid {
            return self.subscription_probes(session, uuid, true, now);
        }
        let source = self.clone();
        let then = move |response: &Response, session: &PollSession<'_>| {
            let active = active_in(response).unwrap_or_default();
            let with_forecast = active.len() == 1;
            match active.first() {
                Some(uuid) => source.subscription_probes(session, uuid, with_forecast, now),
                None => Vec::new(),
            }
        };
        vec![Probe {
            request: Request::get(self.list_url(session)),
            then: Some(Box::new(then)),
        }]
    }

    fn subscription_probes(
        &self,
        session: &PollSession<'_>,
        subscription: &str,
        with_forecast: bool,
        now: DateTime<Utc>,
    ) -> Vec<Probe> {
        let today = Windows::today_only(now);
        let smallest = |path: &str| {
            let url = self.first_url(session, path, today, now);
            match self.settings.api_version {
                ApiVersion::V3 => with_query(&url, "page-size", "1"),
                ApiVersion::V2 => url,
            }
        };
        let mut probes = vec![Probe::of(Request::get(smallest(&self.path(subscription))))];
        if !self.settings.entitlements {
            return probes;
        }
        let mut cost = Probe::of(Request::get(smallest(&self.cost_path(subscription))));
        if let Some(field) = self.settings.cost_allocation {
            let subscription = subscription.to_string();
            let configured = self.settings.environment_ids.first().cloned();
            cost.then = Some(Box::new(
                move |response: &Response, session: &PollSession<'_>| {
                    let Some(environment) = configured.or_else(|| first_environment(response))
                    else {
                        return Vec::new();
                    };
                    let day = now.date_naive();
                    let url =
                        allocation_url(session, (&subscription, &environment), field, (day, day));
                    vec![Probe::of(Request::get(url))]
                },
            ));
        }
        probes.push(cost);
        probes.push(Probe::of(Request::get(
            self.commitment_url(session, subscription),
        )));
        if with_forecast {
            probes.push(Probe::of(Request::get(self.forecast_url(session))));
        }
        probes
    }
}

/// The first environment a cost page names, for the cost-allocation probe.
fn first_environment(response: &Response) -> Option<String> {
    let body: Value = response.json().ok()?;
    body["data"]
        .as_array()?
        .iter()
        .find_map(|item| item["environmentId"].as_str().map(str::to_string))
}
