//! The simulator kit: what the demo, the vendor-blind tests (faults, secrets, the command line)
//! and the benchmark need of each simulated vendor, behind one trait. [`VENDORS`] is the one
//! list; a test fails when it and [`crate::sources::TYPES`] differ, so a new vendor cannot be
//! left out of any of them.

use std::path::PathBuf;

use chrono::{DateTime, Days, Months, NaiveDate, Utc};
use futures_util::future::BoxFuture;

use super::{Faults, RecordedRequest, Revisions, RunningSimulator};

/// Every simulated vendor, in the order of [`crate::sources::TYPES`].
pub static VENDORS: &[&dyn SimulatedVendor] = &[
    &super::qlik::QlikKit,
    &super::powerplatform::PowerPlatformKit,
    &super::uipath::UiPathKit,
    &super::dynatrace::DynatraceKit,
    &super::avepoint::AvePointKit,
    &super::microsoft::MicrosoftKit,
];

/// The simulated vendor of a source type.
pub fn vendor(type_name: &str) -> Option<&'static dyn SimulatedVendor> {
    VENDORS.iter().copied().find(|v| v.type_name() == type_name)
}

/// How big a simulated tenant is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    /// A few records over several pages: for tests that inject faults.
    Small,
    /// A tenant that looks real on a dashboard: the demo.
    Demo,
    /// `n` in the vendor's own unit ([`SimulatedVendor::scale_unit`]): the demo and the benchmark.
    Units(u64),
    /// As `Units`, with weeks of daily history up to `today` for vendors whose API serves a
    /// range of days, and `n` in [`SimulatedVendor::history_scale_unit`]: the incremental
    /// polling benchmark.
    Monthly(u64),
}

/// What a simulated tenant is made from.
#[derive(Clone, Copy, Debug)]
pub struct TenantSpec {
    pub seed: u64,
    /// The simulated "today" (UTC) that the tenant's data ends on.
    pub today: NaiveDate,
    pub scale: Scale,
}

/// How a config entry authenticates to a simulated tenant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credentials {
    /// OAuth2 client credentials that the simulator accepts.
    ClientSecret,
    /// A static token that the simulator accepts (only vendors whose API takes one).
    StaticToken,
    /// OAuth2 with a client secret the simulator refuses.
    WrongClientSecret,
    /// A static token the simulator refuses.
    WrongStaticToken,
    /// The resource owner password grant with the user the simulator knows (only vendors that
    /// take it).
    Password,
    /// The password grant with a password the simulator refuses.
    WrongPassword,
    /// OAuth2 with a client certificate the simulator does not know: the assertion is signed
    /// and sent, and refused.
    UnknownCertificate {
        cert_file: PathBuf,
        key_file: PathBuf,
    },
}

/// The refused secrets that [`Credentials`] writes; they must never be printed either.
pub const WRONG_SECRET: &str = "wrong-secret-4711";

/// One source of the demo.
pub struct DemoSource {
    pub name: &'static str,
    pub scale: Scale,
    pub credentials: Credentials,
}

impl DemoSource {
    /// A demo-sized tenant polled with client credentials, as most vendors' demo sources are.
    pub fn named(name: &'static str) -> Self {
        DemoSource {
            name,
            scale: Scale::Demo,
            credentials: Credentials::ClientSecret,
        }
    }
}

/// A simulated vendor, as the vendor-blind code sees it.
pub trait SimulatedVendor: Sync {
    /// The source `type` it simulates (a name in [`crate::sources::TYPES`]).
    fn type_name(&self) -> &'static str;

    /// Starts a tenant on a free loopback port.
    fn start(&self, spec: TenantSpec) -> BoxFuture<'static, anyhow::Result<SimulatedTenant>>;

    /// The demo's sources of this vendor, each a tenant of its own.
    fn demo_sources(&self) -> Vec<DemoSource>;

    /// The `budgets:` of a demo source on a tenant started from `spec`, as YAML lines indented
    /// for a source entry: computed from the tenant's own data so that one budget is
    /// comfortably below its limit, one near it, one over it and one forecast to go over.
    fn demo_budgets(&self, spec: TenantSpec, now: DateTime<Utc>) -> String;

    /// Every secret the simulator accepts or issues (token prefixes included), which logs,
    /// errors, the landing page and `/metrics` must never show.
    fn secrets(&self) -> &'static [&'static str];

    /// A data answer with no records, as the vendor sends it.
    fn empty_answer(&self) -> &'static str;

    /// A data answer with unexpected fields and records missing theirs.
    fn odd_answer(&self) -> &'static str;

    /// 200 answers that are not of the vendor's documented shape (an array or an object
    /// without the list key where its docs say an object with it): a poll that meets one
    /// fails as `invalid_response` instead of serving an empty tenant.
    fn wrong_shape_answers(&self) -> &'static [&'static str];

    /// The benchmark's large tenant, in [`Self::scale_unit`].
    fn benchmark_scale(&self) -> u64;

    /// What one unit of scale is, for the benchmark's table.
    fn scale_unit(&self) -> &'static str;

    /// The incremental polling benchmark's tenant ([`Scale::Monthly`]), for vendors whose API
    /// serves a range of days.
    fn history_benchmark_scale(&self) -> Option<u64> {
        None
    }

    /// What one unit of [`Scale::Monthly`] is.
    fn history_scale_unit(&self) -> &'static str {
        self.scale_unit()
    }

    /// Whether the vendor publishes what was bought (its source takes `entitlements: true`, and
    /// the small and demo tenants read it).
    fn has_entitlements(&self) -> bool {
        true
    }

    /// Requests the source keeps in flight at once (its default), so the benchmark's plain
    /// download of the same requests gets as many.
    fn concurrency(&self) -> usize {
        1
    }

    /// The exact budget tests' tenant, for a vendor whose API serves per-day amounts: days
    /// from 2026-03-01 to 2027-02-28 at least. `None` opts a vendor out, which only a vendor
    /// whose source reports a level now may do (the budget tests check it): its budgets are
    /// tested by hand-made records.
    fn budget_case(&self) -> BoxFuture<'static, anyhow::Result<Option<BudgetCase>>>;

    /// The demo's list price for one of the vendor's services, as a `money.prices` item's
    /// flow mapping; none for a vendor that bills nothing the exporter reads, or whose money
    /// is its own.
    fn demo_price(&self) -> Option<&'static str>;

    /// The demo's price of an idle seat of one of the vendor's licences (a `money.prices` item
    /// whose match names `licence`); none for a vendor whose demo reports no seat activity.
    fn demo_seat_price(&self) -> Option<&'static str> {
        None
    }

    /// What `demo_price` prices on a demo tenant started from `spec`, per day, for the demo's
    /// top-level budget; none (the default) keeps the vendor out of it.
    fn demo_spend(&self, _spec: TenantSpec) -> Option<DemoSpend> {
        None
    }
}

/// A demo tenant's priced units per day, and the price `demo_price` gives them.
pub struct DemoSpend {
    pub vendor: &'static str,
    pub per_unit: f64,
    pub currency: &'static str,
    pub units: Box<dyn Fn(NaiveDate) -> f64 + Send + Sync>,
}

/// A simulated tenant for the exact budget tests, and what its data consumes.
pub struct BudgetCase {
    /// Kept running for the test.
    pub running: RunningSimulator,
    /// A `sources` list item named `s`, without `budgets:`.
    pub entry: String,
    /// The label a budget's `match` names, and the value it matches.
    pub key: &'static str,
    pub value: String,
    /// The `unit` label the budget's series get.
    pub unit: String,
    /// What the matched label sets consume on a day, from the simulator's own data.
    pub amount: Box<dyn Fn(NaiveDate) -> f64 + Send + Sync>,
    /// What the matched label sets cost on a day in USD where the vendor computes its own
    /// money (read with `entitlements: true`, never priced again); none where money is units ×
    /// a price.
    pub vendor_money: Option<Box<dyn Fn(NaiveDate) -> f64 + Send + Sync>>,
}

/// What the vendor-blind code may do to a running simulator.
pub trait Simulated: Send + Sync {
    fn faults(&self) -> &Faults;

    /// Late changes to past days, for vendors whose API serves a range of days (none for those
    /// that report only a current state).
    fn revisions(&self) -> Option<&Revisions> {
        None
    }
}

/// The parts of a config entry for one simulated tenant; the kit writes them out for each
/// kind of [`Credentials`].
pub struct EntryParts {
    pub type_name: &'static str,
    /// The vendor's own keys, each line indented by four spaces (`base_url` among them).
    pub keys: String,
    pub token_url: Option<String>,
    pub client_id: String,
    pub client_secret: String,
    pub static_token: Option<String>,
    /// The user and password of the password grant, where the vendor takes it.
    pub password: Option<(String, String)>,
}

impl EntryParts {
    /// A tenant that takes OAuth2 client credentials only.
    pub fn client_credentials(
        type_name: &'static str,
        keys: String,
        token_url: Option<String>,
        (client_id, client_secret): (String, String),
    ) -> Self {
        EntryParts {
            type_name,
            keys,
            token_url,
            client_id,
            client_secret,
            static_token: None,
            password: None,
        }
    }
}

/// A running simulated tenant: its server, its fault queue and how to configure a source for it.
pub struct SimulatedTenant {
    pub running: RunningSimulator,
    simulator: Box<dyn Simulated>,
    parts: EntryParts,
}

impl SimulatedTenant {
    pub fn new(
        running: RunningSimulator,
        simulator: Box<dyn Simulated>,
        parts: EntryParts,
    ) -> Self {
        SimulatedTenant {
            running,
            simulator,
            parts,
        }
    }

    pub fn url(&self) -> String {
        self.running.url()
    }

    pub fn faults(&self) -> &Faults {
        self.simulator.faults()
    }

    /// Late changes to the tenant's past days, where its API serves a range of days.
    pub fn revisions(&self) -> Option<&Revisions> {
        self.simulator.revisions()
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.running.requests()
    }

    pub fn type_name(&self) -> &'static str {
        self.parts.type_name
    }

    /// A `sources` list item named `name` that polls this tenant with accepted credentials.
    pub fn entry(&self, name: &str) -> String {
        self.entry_with(name, &Credentials::ClientSecret)
            .unwrap_or_default()
    }

    /// A `sources` list item with these credentials; `None` when the vendor takes no static
    /// token and a static one was asked for. More keys may be appended, indented by four spaces.
    pub fn entry_with(&self, name: &str, credentials: &Credentials) -> Option<String> {
        let p = &self.parts;
        let token_url = p
            .token_url
            .as_ref()
            .map(|url| format!("      token_url: {url}\n"))
            .unwrap_or_default();
        let oauth2 = |credential: String| {
            format!(
                "    oauth2:\n{token_url}      client_id: {}\n{credential}",
                p.client_id
            )
        };
        let auth = match credentials {
            Credentials::ClientSecret => {
                oauth2(format!("      client_secret: {}\n", p.client_secret))
            }
            Credentials::WrongClientSecret => {
                oauth2(format!("      client_secret: {WRONG_SECRET}\n"))
            }
            Credentials::UnknownCertificate {
                cert_file,
                key_file,
            } => oauth2(format!(
                "      client_certificate:\n        cert_file: {}\n        key_file: {}\n",
                cert_file.display(),
                key_file.display()
            )),
            Credentials::StaticToken => format!(
                "    authorization:\n      credentials: {}\n",
                p.static_token.as_ref()?
            ),
            Credentials::WrongStaticToken => {
                p.static_token.as_ref()?;
                format!("    authorization:\n      credentials: {WRONG_SECRET}\n")
            }
            Credentials::Password | Credentials::WrongPassword => {
                let (user, password) = p.password.as_ref()?;
                let password = match credentials {
                    Credentials::Password => password.as_str(),
                    _ => WRONG_SECRET,
                };
                oauth2(format!(
                    "      grant_type: password\n      client_secret: {}\n      username: {user}\n      password: {password}\n",
                    p.client_secret
                ))
            }
        };
        Some(format!(
            "  - name: {name}\n    type: {}\n{}{auth}",
            p.type_name, p.keys
        ))
    }
}

/// Starts every demo source of every vendor, with its budgets; returns the `sources` list
/// items and the tenants.
pub async fn start_demo(
    seed: u64,
    now: DateTime<Utc>,
) -> anyhow::Result<(String, Vec<SimulatedTenant>, Vec<DemoSpend>)> {
    let mut entries = String::new();
    let mut tenants = Vec::new();
    let mut spends = Vec::new();
    for vendor in VENDORS {
        for (i, demo) in vendor.demo_sources().into_iter().enumerate() {
            let spec = TenantSpec {
                seed: seed + i as u64,
                today: now.date_naive(),
                scale: demo.scale,
            };
            let tenant = vendor.start(spec).await?;
            let entry = tenant
                .entry_with(demo.name, &demo.credentials)
                .ok_or_else(|| anyhow::anyhow!("{}: no static token to use", demo.name))?;
            entries.push_str(&entry);
            entries.push_str(&vendor.demo_budgets(spec, now));
            spends.extend(vendor.demo_spend(spec));
            tenants.push(tenant);
        }
    }
    Ok((entries, tenants, spends))
}

/// The demo's `money:` and `allocation:`: euros, dollar prices converted at a rates file of
/// the ECB's shape, and two teams (the first vendor's sources and every third vendor's after
/// it are `sales`, the next vendor's `platform`, the rest unallocated). `rates_file` names the
/// file [`demo_rates_file`] wrote.
pub fn demo_showback(rates_file: &std::path::Path) -> String {
    let mut prices = String::new();
    let mut teams: [Vec<&'static str>; 2] = [Vec::new(), Vec::new()];
    for (i, vendor) in VENDORS.iter().enumerate() {
        for price in [vendor.demo_price(), vendor.demo_seat_price()]
            .into_iter()
            .flatten()
        {
            prices.push_str(&format!("    - {price}\n"));
        }
        if let Some(team) = teams.get_mut(i % 3) {
            team.extend(vendor.demo_sources().iter().map(|s| s.name));
        }
    }
    let rule = |names: &[&str], value: &str| match names.is_empty() {
        true => String::new(),
        false => format!(
            "      - {{match: {{source: [{}]}}, value: {value}}}\n",
            names.join(", ")
        ),
    };
    format!(
        "money:\n  currency: EUR\n  rates_file: {}\n  prices:\n{prices}allocation:\n  team:\n    default: unallocated\n    rules:\n{}{}",
        rates_file.display(),
        rule(&teams[0], "sales"),
        rule(&teams[1], "platform"),
    )
}

/// The demo's top-level `budgets:`: the money of every vendor that gives a [`DemoSpend`], in
/// euros at `rates`, for the quarter from [`demo_period_start`], with a limit it has used 90%
/// of: near it, so the near-limit alert has something to say.
pub fn demo_money_budget(
    spends: &[DemoSpend],
    rates: &crate::showback::Rates,
    now: DateTime<Utc>,
) -> String {
    if spends.is_empty() {
        return String::new();
    }
    let euros = |day: NaiveDate| -> f64 {
        spends
            .iter()
            .map(|s| (s.units)(day) * s.per_unit * rates.rate(s.currency, day).unwrap_or(0.0))
            .sum()
    };
    let spend = DemoUsage::daily("spend", euros, now);
    let mut vendors: Vec<&str> = spends.iter().map(|s| s.vendor).collect();
    vendors.dedup();
    format!(
        "budgets:\n  - {{name: demo-spend, match: {{vendor: [{}]}}, limit: {:.2}, period: quarter, start: {}}}\n",
        vendors.join(", "),
        spend.used / 0.9,
        demo_period_start(now)
    )
}

/// An ECB reference-rate history of the 120 days to `today` (weekdays only, as the ECB quotes):
/// dollars, pounds and yen per euro, moving a little from day to day.
pub fn demo_rates_file(today: NaiveDate) -> String {
    let mut text = String::from("Date,USD,JPY,GBP,\n");
    for back in 0..120u64 {
        let day = today - Days::new(back);
        if matches!(
            chrono::Datelike::weekday(&day),
            chrono::Weekday::Sat | chrono::Weekday::Sun
        ) {
            continue;
        }
        let wave = ((back % 20) as f64 - 10.0) / 1000.0;
        text.push_str(&format!(
            "{day},{:.4},{:.2},{:.4},\n",
            1.08 + wave,
            160.0 + wave * 100.0,
            0.84 + wave / 2.0
        ));
    }
    text
}

/// The demo's budgets are quarters that began 20 days ago: their periods always hold 20 days
/// of data, whatever day the demo starts on (a month on its 1st would hold none yet).
pub fn demo_period_start(now: DateTime<Utc>) -> NaiveDate {
    now.date_naive() - Days::new(20)
}

/// What one matched value of a demo tenant consumes in the demo budgets' period.
pub struct DemoUsage {
    pub value: String,
    pub used: f64,
    pub forecast: f64,
}

impl DemoUsage {
    /// From a daily amount: used from the period's start to today, forecast at the last 7
    /// complete days' rate until the period ends.
    pub fn daily(value: &str, amount: impl Fn(NaiveDate) -> f64, now: DateTime<Utc>) -> Self {
        let today = now.date_naive();
        let first = demo_period_start(now);
        let used: f64 = first
            .iter_days()
            .take_while(|d| *d <= today)
            .map(&amount)
            .sum();
        let week: f64 = (1..=7).map(|back| amount(today - Days::new(back))).sum();
        let next = first + Months::new(3);
        let end = next.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        let days_left = (end - now).num_seconds().max(0) as f64 / 86_400.0;
        DemoUsage {
            value: value.to_string(),
            used,
            forecast: used + week / 7.0 * days_left,
        }
    }

    /// A level: its forecast is itself.
    pub fn level(value: &str, level: f64) -> Self {
        DemoUsage {
            value: value.to_string(),
            used: level,
            forecast: level,
        }
    }
}

/// Budgets over the label `key`, one per usage: comfortably below (and priced, so the demo
/// shows money), near its limit, over it, and forecast over it (for a level, whose forecast is
/// itself, a second comfortable one). Quarters from [`demo_period_start`].
pub fn demo_budgets(key: &str, usage: [DemoUsage; 4], now: DateTime<Utc>) -> String {
    let [calm, near, over, forecast] = usage;
    let limit = |x: f64| format!("{:.2}", x.max(1.0));
    let forecast_line = if forecast.forecast > forecast.used {
        let between = (forecast.used + forecast.forecast) / 2.0;
        format!(
            "forecast-over, match: {{{key}: {:?}}}, limit: {}",
            forecast.value,
            limit(between)
        )
    } else {
        format!(
            "also-calm, match: {{{key}: {:?}}}, limit: {}",
            forecast.value,
            limit(3.0 * forecast.used)
        )
    };
    let lines = [
        format!(
            "calm, match: {{{key}: {:?}}}, limit: {}, price: 0.12, currency: EUR",
            calm.value,
            limit(3.0 * calm.forecast)
        ),
        format!(
            "near, match: {{{key}: {:?}}}, limit: {}",
            near.value,
            limit(near.used / 0.9)
        ),
        format!(
            "over, match: {{{key}: {:?}}}, limit: {}",
            over.value,
            limit(over.used * 0.5)
        ),
        forecast_line,
    ];
    let start = demo_period_start(now);
    let mut yaml = String::from("    budgets:\n");
    for line in lines {
        yaml.push_str(&format!(
            "      - {{name: {line}, period: quarter, start: {start}}}\n"
        ));
    }
    yaml
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_source_type_has_a_simulator_and_every_simulator_a_source_type() {
        let simulated: Vec<&str> = VENDORS.iter().map(|v| v.type_name()).collect();
        assert_eq!(
            simulated,
            crate::sources::type_names(),
            "simulator::kit::VENDORS must list one simulator per sources::TYPES entry, in order"
        );
    }
}
