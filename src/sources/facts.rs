//! What a configured source is, as data: built once when the config is read, read by every
//! wing that needs to know something of a vendor without calling into it. A feature that needs
//! a new fact adds a field here with its default, never a method on every vendor.

pub use crate::http::Endpoint;
use crate::http::{ErrorDetailFn, ThrottleSignalFn};
use crate::model::usage::{BudgetUnit, ServiceOf};

/// A source's facts, as its vendor and its keys make them.
#[derive(Clone)]
pub struct Facts {
    /// Every endpoint of the vendor's API the exporter calls, the token endpoint (named
    /// [`crate::http::TOKEN_ENDPOINT`]) included, with what a credential needs for it.
    pub endpoints: &'static [Endpoint],
    /// Whether the vendor's API takes a date range, so that settled days need not be re-read
    /// (`settled_after`, `full_refresh_interval`).
    pub reads_date_range: bool,
    /// The labels of the usage budgets read, which a budget's `match` may name.
    pub usage_labels: Vec<&'static str>,
    /// Labels only the vendor's own money carries (a vendor-native allocation, such as
    /// Dynatrace's cost centre), which showback rules may match on besides `usage_labels`.
    pub money_labels: Vec<&'static str>,
    /// Every label name the source's own series may carry, besides `source` (the budget
    /// families' are [`crate::budgets::LABEL_NAMES`]): `backfill --label` may not reuse one.
    pub label_names: Vec<&'static str>,
    /// Whether the source, as configured, reports when each seat's holder was last active
    /// (then `idle_after` applies to it).
    pub reports_seat_activity: bool,
    /// What the vendor bills a label set of its usage as (showback's `service`); none: the
    /// usage is not billed (no showback rows, no FOCUS charges).
    pub service: Option<ServiceOf>,
    /// The unit of a budget that names none.
    pub budget_unit: BudgetUnit,
    /// Reads the vendor's error body shape into one line for the user.
    pub error_detail: ErrorDetailFn,
    /// What the token request needs by default, from the vendor's own keys.
    pub token_defaults: TokenDefaults,
    /// Recognises a throttling answer that is not a 429 (Microsoft's `BurstRequestsThrottled`).
    pub throttle_signal: Option<ThrottleSignalFn>,
}

impl Facts {
    /// A source calling `endpoints` whose usage carries `usage_labels` (its label names too,
    /// unless set otherwise); everything else at its default: not billed, no date range, no
    /// seat activity, budgets in units, no vendor error shape, no token extras.
    pub fn new(endpoints: &'static [Endpoint], usage_labels: &[&'static str]) -> Self {
        Facts {
            endpoints,
            reads_date_range: false,
            usage_labels: usage_labels.to_vec(),
            money_labels: Vec::new(),
            label_names: usage_labels.to_vec(),
            reports_seat_activity: false,
            service: None,
            budget_unit: BudgetUnit::Fixed("units"),
            error_detail: |_| None,
            token_defaults: TokenDefaults::default(),
            throttle_signal: None,
        }
    }
}

/// What a source's token request needs beyond `oauth2` as written: form fields (Dynatrace's
/// `resource`), and the scopes its options' endpoints require on top of the vendor's default
/// ones (a token's scope is the permission it was requested for), unless `scopes` is written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TokenDefaults {
    pub params: Vec<(String, String)>,
    pub scopes: Vec<String>,
}
