//! Dynatrace's usage and cost pages folded as they arrive: per window, environment and
//! capability, and the days budgets and showback read.

use super::*;

/// A v3 follow-up page: the cursor alone, as Dynatrace's own CLI sends it (the cursor carries
/// the query).
pub(super) fn next_url(session: &PollSession<'_>, path: &str, key: &str) -> Url {
    let mut url = session.url(path);
    url.query_pairs_mut().append_pair("page-key", key);
    url
}

pub(super) struct Folder {
    pub(super) sums: WindowSums,
    pub(super) newest: Option<DateTime<Utc>>,
    pub(super) sunset: Option<DateTime<Utc>>,
    /// Money per window, with `entitlements: true`, and its labels besides `window`.
    pub(super) costs: Option<(WindowSums, Vec<&'static str>)>,
}

impl Folder {
    pub(super) fn fold_page(&mut self, subscription: &str, page: &UsagePage<'_>) {
        if let Some(modified) = page
            .last_modified_time
            .as_deref()
            .and_then(parse_day_or_time)
        {
            self.newest = self.newest.max(Some(modified));
        }
        for environment in &page.data {
            let environment_id = environment.environment_id.as_deref().unwrap_or("");
            for usage in &environment.usage {
                let Some(start) = usage.start_time.as_deref().and_then(parse_day_or_time) else {
                    continue;
                };
                let labels = [
                    subscription,
                    environment_id,
                    usage.capability_key.as_deref().unwrap_or(""),
                    usage.capability_name.as_deref().unwrap_or(""),
                    usage.unit_measure.as_deref().unwrap_or(""),
                ];
                self.sums
                    .add(&labels, start.date_naive(), usage.value.unwrap_or(0.0));
            }
        }
    }

    /// Logs a deprecation once per poll and keeps the announced sunset date for the gauge.
    pub(super) fn note_sunset(&mut self, headers: &HeaderMap, subscription: &str) {
        if self.sunset.is_some() {
            return;
        }
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let Some(sunset) = header("sunset") else {
            return;
        };
        let Some(at) = httpdate::parse_http_date(&sunset)
            .ok()
            .map(DateTime::<Utc>::from)
        else {
            return;
        };
        tracing::warn!(
            subscription,
            sunset = %at.to_rfc3339(),
            deprecation = header("deprecation").unwrap_or_default(),
            successor = header("link").unwrap_or_default(),
            "Dynatrace announced the end of this API version; set api_version: v3"
        );
        self.sunset = Some(at);
    }

    pub(super) fn finish(self) -> Snapshot {
        let mut builder = SnapshotBuilder::new();
        self.sums.into_family(&mut builder, &USAGE, &USAGE_LABELS);
        if let Some((costs, labels)) = self.costs {
            costs.into_money_family(&mut builder, &COST, &labels);
        }
        if let Some(newest) = self.newest {
            builder.data_updated(newest.timestamp() as f64);
        }
        if let Some(sunset) = self.sunset {
            builder.api_sunset(sunset.timestamp() as f64);
        }
        builder.finish()
    }
}
