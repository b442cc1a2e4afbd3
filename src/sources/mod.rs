//! The vendors. Each file holds one [`SourceType`] (how its config keys are read) and one
//! [`Source`] (how a poll turns the vendor's pages into a [`Snapshot`]). [`TYPES`] is the one
//! list of them: adding a vendor is a new file and one line there.
//!
//! A source never measures itself: the poller times it, counts its errors and sets `up`.

pub mod avepoint;
pub mod dynatrace;
pub mod facts;
pub mod kept;
pub mod microsoft;
pub mod powerplatform;
pub mod qlik;
pub mod strict;
pub mod uipath;
pub mod windows;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use url::Url;

pub use crate::http::Endpoint;
use crate::http::{HttpError, PageError, PollSession, Request, Response};
use crate::model::billing::Billing;
use crate::model::clock::Clock;
use crate::model::settled::SettledDays;
use crate::model::snapshot::Snapshot;
use crate::settings::{FieldError, VendorKeys};
pub use facts::{Facts, TokenDefaults};

/// Every vendor type the config accepts.
pub static TYPES: &[&dyn SourceType] = &[
    &qlik::QlikType,
    &powerplatform::PowerPlatformType,
    &uipath::UiPathType,
    &dynatrace::DynatraceType,
    &avepoint::AvePointType,
    &microsoft::MicrosoftType,
];

pub fn find_type(name: &str) -> Option<&'static dyn SourceType> {
    TYPES.iter().copied().find(|t| t.name() == name)
}

pub fn type_names() -> Vec<&'static str> {
    TYPES.iter().map(|t| t.name()).collect()
}

/// A vendor as its file declares it: its `type` name, its defaults, the type its own keys are
/// read into, and how those make a [`Source`]. Every `Vendor` is a [`SourceType`], which
/// decodes the keys and makes their schema the same way for all.
pub trait Vendor: Sync {
    /// The vendor's own keys; unknown ones must be refused (`deny_unknown_fields`).
    type Settings: serde::de::DeserializeOwned + schemars::JsonSchema;

    fn name(&self) -> &'static str;

    /// The vendor's public API host, where one exists for every customer.
    fn default_base_url(&self) -> Option<&'static str> {
        None
    }

    /// The token endpoint to use when `oauth2.token_url` is not set.
    fn default_token_url(&self, _base_url: &Url) -> Option<Url> {
        None
    }

    /// The OAuth2 scopes to ask for when `oauth2.scopes` is empty.
    fn default_scopes(&self, _base_url: &Url) -> Vec<String> {
        Vec::new()
    }

    /// Checks the decoded keys and makes the source. Errors carry paths relative to the entry.
    fn source(&self, settings: Self::Settings) -> Result<Arc<dyn Source>, Vec<FieldError>>;
}

/// A vendor as the config sees it, in [`TYPES`].
pub trait SourceType: Sync {
    fn name(&self) -> &'static str;
    fn default_base_url(&self) -> Option<&'static str>;
    fn default_token_url(&self, base_url: &Url) -> Option<Url>;
    fn default_scopes(&self, base_url: &Url) -> Vec<String>;

    /// The JSON Schema of the vendor's own keys.
    fn settings_schema(&self) -> serde_json::Value;

    /// Builds the source from the entry's keys other than the shared ones. Errors carry paths
    /// relative to the entry.
    fn build(&self, keys: VendorKeys) -> Result<Arc<dyn Source>, Vec<FieldError>>;
}

impl<V: Vendor> SourceType for V {
    fn name(&self) -> &'static str {
        Vendor::name(self)
    }

    fn default_base_url(&self) -> Option<&'static str> {
        Vendor::default_base_url(self)
    }

    fn default_token_url(&self, base_url: &Url) -> Option<Url> {
        Vendor::default_token_url(self, base_url)
    }

    fn default_scopes(&self, base_url: &Url) -> Vec<String> {
        Vendor::default_scopes(self, base_url)
    }

    fn settings_schema(&self) -> serde_json::Value {
        crate::settings::schema_of::<V::Settings>()
    }

    fn build(&self, keys: VendorKeys) -> Result<Arc<dyn Source>, Vec<FieldError>> {
        self.source(keys.decode().map_err(|e| vec![e])?)
    }
}

/// What a poll must read beyond what the source serves itself, and what it may skip.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PollPlan {
    /// The first day whose per-day amounts budgets need (none: no budgets). Sources with
    /// daily data read from it and keep the days in the snapshot's usage.
    pub history_from: Option<NaiveDate>,
    /// The days earlier polls settled: a source with daily data takes them as they are and
    /// asks its vendor only for the days after them. None: read the whole range.
    pub settled: Option<Arc<SettledDays>>,
    /// A source with daily data hands the days before this one back in the snapshot, for the
    /// next poll (the poller keeps them as settled or recent days). None: keep none (a full
    /// read every poll).
    pub settle_before: Option<NaiveDate>,
    /// A backfill: read only what has a history (the days), none of what reports the present
    /// state (entitlements, summaries), which would be false at a past instant.
    pub history_only: bool,
    /// Inventories (seats and the licences behind them) were read within `inventory_interval`:
    /// the source skips their endpoints, and the poller serves the last good read.
    pub keep_inventories: bool,
    /// How seat holders are judged and kept as they are read (none: the default `idle_after`
    /// at the clock's now, idle holders not kept).
    pub seat_rule: Option<crate::model::seats::SeatRule>,
}

impl PollPlan {
    /// The plan's seat rule, or the default one at `now`.
    pub fn seat_rule(&self, now: chrono::DateTime<chrono::Utc>) -> crate::model::seats::SeatRule {
        let default = chrono::Duration::from_std(crate::seats::DEFAULT_IDLE_AFTER);
        let default = default.unwrap_or(chrono::Duration::days(30));
        self.seat_rule
            .unwrap_or_else(|| crate::model::seats::SeatRule::at(now, default))
    }

    /// Whether the poll reads inventories: not for a backfill (a past instant has no present
    /// state) and not within `inventory_interval` of the last read.
    pub fn reads_inventories(&self) -> bool {
        !self.history_only && !self.keep_inventories
    }

    /// Whether the source has budgets, so the snapshot should carry its usage.
    pub fn wants_usage(&self) -> bool {
        self.history_from.is_some()
    }
}

/// One request `check --online` makes to prove a credential may read an endpoint: the smallest
/// the source's polls would make there (today only, one item a page).
pub struct Probe {
    pub request: Request,
    /// The probes that need this one's answer (an ID the vendor lists), if it succeeds.
    pub then: Option<FollowUp>,
}

pub type FollowUp = Box<dyn FnOnce(&Response, &PollSession<'_>) -> Vec<Probe> + Send>;

impl Probe {
    pub fn of(request: Request) -> Self {
        Probe {
            request,
            then: None,
        }
    }
}

/// `url` with the query parameter `key` set to `value` alone: a probe's smallest page or range.
pub fn with_query(url: &Url, key: &str, value: &str) -> Url {
    let others: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(name, _)| name != key)
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect();
    let mut smaller = url.clone();
    smaller
        .query_pairs_mut()
        .clear()
        .extend_pairs(others)
        .append_pair(key, value);
    smaller
}

/// One configured vendor endpoint: a poll, the requests `check --online` makes, who bills
/// it, and its [`Facts`].
#[async_trait]
pub trait Source: Send + Sync {
    /// What the source is, as configured: built once, read by every other wing.
    fn facts(&self) -> &Facts;

    /// The smallest request to each endpoint this source, as configured, calls.
    fn probes(&self, session: &PollSession<'_>, now: DateTime<Utc>) -> Vec<Probe>;

    /// One complete poll: every page, folded into one snapshot, or an error.
    async fn poll(
        &self,
        session: &PollSession<'_>,
        clock: &dyn Clock,
        plan: PollPlan,
    ) -> Result<Snapshot, PollError>;

    /// Who bills the usage and how a FOCUS export files it; none: the usage is not billed
    /// (exactly when the facts' `service` is none). The account comes from the source's own
    /// keys, its base URL or its token URL, whichever names it.
    fn billing(&self, base_url: &Url, token_url: Option<&Url>) -> Option<Billing>;
}

/// Why a poll failed.
#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error(transparent)]
    Page(#[from] PageError),
    /// A request for one part of the data, e.g. one tenant and consumable.
    #[error("{item}: {source}")]
    Item { item: String, source: HttpError },
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("the poll did not finish within poll_timeout ({0:?}); raise poll_timeout or narrow the query")]
    Timeout(Duration),
    /// Money that is not a finite number: nothing of the poll is served, so that a budget
    /// never sums an infinity or a NaN (whose overage would never fire).
    #[error("{0} is not a finite number: a rate or price in money: is far too large, or the vendor's amounts overflow; check money.rates, money.rates_file and money.prices")]
    NonFiniteMoney(String),
    /// A bug: the poll panicked. The source is polled again at its next interval.
    #[error("the poll panicked ({0}); this is a bug in consumption_exporter, please report it with this line; the source is polled again at its next interval")]
    Panic(String),
}

impl PollError {
    /// The `consumption_source_errors_total{reason}` label value.
    pub fn reason(&self) -> &'static str {
        match self {
            PollError::Page(PageError { source, .. })
            | PollError::Item { source, .. }
            | PollError::Http(source) => source.reason(),
            PollError::Timeout(_) => "poll_timeout",
            PollError::NonFiniteMoney(_) => "non_finite_money",
            PollError::Panic(_) => "panic",
        }
    }
}

/// Arbitrary JSON for property tests of the vendor decoders: objects whose keys are mostly the
/// vendor's own field names, with values of every JSON type, nested, so that a decoder meets
/// the right names with the wrong types, nulls, huge numbers and deep nesting.
#[cfg(test)]
pub(crate) mod arbitrary_json {
    use proptest::prelude::*;
    use serde_json::{Map, Value};

    pub fn value(keys: &'static [&'static str]) -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
                .prop_map(Value::from),
            "[a-zA-Z0-9 :.+-]{0,24}".prop_map(Value::String),
            prop_oneof![
                Just("2026-11-22"),
                Just("2026-11-22T10:00:00Z"),
                Just("1795305600000"),
                Just("")
            ]
            .prop_map(|s| Value::String(s.into())),
        ];
        leaf.prop_recursive(4, 64, 8, move |inner| {
            let key = prop_oneof![4 => proptest::sample::select(keys).prop_map(str::to_string), 1 => "[a-z]{1,8}"];
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::vec((key, inner), 0..8).prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
            ]
        })
    }

    /// Bytes that are usually JSON, sometimes cut short or not JSON at all.
    pub fn body(keys: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            6 => value(keys).prop_map(|v| v.to_string().into_bytes()),
            1 => (value(keys), any::<prop::sample::Index>()).prop_map(|(v, cut)| {
                let text = v.to_string().into_bytes();
                let at = cut.index(text.len().max(1));
                text[..at.min(text.len())].to_vec()
            }),
            1 => proptest::collection::vec(any::<u8>(), 0..64),
        ]
    }
}
