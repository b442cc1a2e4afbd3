//! Dynatrace's cost allocation (`cost_allocation: cost_center | product`): each environment's
//! cost split by the cost centre or product Dynatrace tagged it with,
//! `GET /v1/subscriptions/{s}/cost-allocation` (shared/vendor-seats.md §5).
//!
//! Vendor facts and gaps: one environment per request; `page-key` must come alone; the spec's
//! records are objects `{date, capability, key, costs}` while the reference page shows strings
//! (read leniently: what is not such an object is counted and logged, its money unallocated);
//! whether `capability` is the key or the display name is undocumented (either is matched);
//! the currency is not given (the environment's cost row's is used); coverage is partial (only
//! some capabilities can be tagged), so what no record allocates stays with an empty label:
//! the split sums to the environment's cost, and a rule on the label leaves the rest to the
//! dimension's default.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::{CostAllocation, Dynatrace, UsagePage, ALLOCATION_NEEDS};
use crate::http::{PageError, PollSession};
use crate::model::locks::lock;
use crate::sources::windows::{parse_day_or_time, WindowSums, Windows};
use crate::sources::PollError;

/// Money per label set (subscription, environment, capability key and name, currency, and the
/// allocation's key when split) and day.
#[derive(Default)]
pub(super) struct RawCosts {
    rows: BTreeMap<(Vec<String>, NaiveDate), f64>,
}

impl RawCosts {
    /// A cost page's entries, by environment, capability and currency.
    pub(super) fn fold(&mut self, subscription: &str, page: &UsagePage<'_>) {
        for environment in &page.data {
            let environment_id = environment.environment_id.as_deref().unwrap_or("");
            for cost in &environment.usage {
                let Some(start) = cost.start_time.as_deref().and_then(parse_day_or_time) else {
                    continue;
                };
                let labels = [
                    subscription,
                    environment_id,
                    cost.capability_key.as_deref().unwrap_or(""),
                    cost.capability_name.as_deref().unwrap_or(""),
                    cost.currency_code.as_deref().unwrap_or(""),
                ];
                let key = (labels.map(str::to_string).to_vec(), start.date_naive());
                *self.rows.entry(key).or_default() += cost.value.unwrap_or(0.0);
            }
        }
    }

    pub(super) fn fold_into(self, sums: &mut WindowSums) {
        for ((labels, day), amount) in self.rows {
            let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
            sums.add(&labels, day, amount);
        }
    }

    fn environments(&self) -> BTreeSet<String> {
        self.rows
            .keys()
            .map(|(labels, _)| labels[1].clone())
            .collect()
    }
}

/// `PaginatedEnvironmentBreakdownDto`: `records` is required, so a body without it (a
/// gateway's) is an error, not "nothing allocated".
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BreakdownPage {
    records: Vec<Value>,
    #[serde(default)]
    next_page_key: Option<String>,
}

/// One record as the spec gives it.
#[derive(Deserialize)]
struct Record {
    date: String,
    capability: String,
    #[serde(default)]
    key: Option<String>,
    costs: f64,
}

/// Allocated money by (environment, day, capability as the record names it): key → money,
/// indexed by key, so that a record lands in its key's sum without a walk over the others.
type Allocations = HashMap<(String, NaiveDate, String), BTreeMap<String, f64>>;

/// Each cost row's split as each key's fraction of the row, as last read: an inventory, kept
/// between inventory reads, so that fresh money split by kept fractions still sums to the row.
pub(super) type Shares = HashMap<(Vec<String>, NaiveDate), Vec<(String, f64)>>;

/// Kept shares by subscription, with the days they cover (first and last): a poll over days
/// they do not cover (a new day) reads again.
pub(super) type KeptShares = HashMap<String, ((NaiveDate, NaiveDate), Shares)>;

impl Dynatrace {
    /// `raw` split by the cost allocation of each of its environments: every row once per key
    /// that took part of it, and the rest with an empty key.
    /// The allocation is an inventory: a poll that keeps inventories splits fresh money by the
    /// shares of the last read of the same days.
    pub(super) async fn allocate(
        &self,
        session: &PollSession<'_>,
        (subscription, field): (&str, CostAllocation),
        (windows, now, reads_inventories): (Windows, DateTime<Utc>, bool),
        raw: RawCosts,
    ) -> Result<RawCosts, PollError> {
        let days = (windows.query_start_time().date_naive(), now.date_naive());
        if !reads_inventories {
            let kept = lock(&self.kept_allocations);
            let covered = |(from, to): (NaiveDate, NaiveDate)| from <= days.0 && to == days.1;
            if let Some((_, shares)) = kept.get(subscription).filter(|(d, _)| covered(*d)) {
                return Ok(split_by_shares(raw, shares));
            }
        }
        let read = self.read_allocations(session, (subscription, field), days, &raw);
        let allocations = read.await?;
        let split = split(raw, &allocations);
        let mut kept = lock(&self.kept_allocations);
        let entry = kept.entry(subscription.to_string());
        let (covered, shares) = entry.or_insert_with(|| (days, Shares::new()));
        keep_read((covered, shares), days, shares_of(&split));
        Ok(split)
    }

    /// The allocations of every environment `raw` names.
    async fn read_allocations(
        &self,
        session: &PollSession<'_>,
        (subscription, field): (&str, CostAllocation),
        days: (NaiveDate, NaiveDate),
        raw: &RawCosts,
    ) -> Result<Allocations, PollError> {
        let mut allocations = Allocations::new();
        let mut unreadable = 0usize;
        for environment in raw.environments() {
            let read = self.read_allocation(session, (subscription, &environment), field, days);
            for record in read.await? {
                match serde_json::from_value::<Record>(record) {
                    Ok(record) => add_record(&mut allocations, &environment, record),
                    Err(_) => unreadable += 1,
                }
            }
        }
        if unreadable > 0 {
            tracing::warn!(subscription, unreadable, field = field.field(), "Dynatrace cost-allocation records that are not objects with date, capability, key and costs; their money stays unallocated");
        }
        Ok(allocations)
    }

    /// Every record of one environment's cost allocation over `days` (first and last).
    async fn read_allocation(
        &self,
        session: &PollSession<'_>,
        (subscription, environment): (&str, &str),
        field: CostAllocation,
        (from, to): (NaiveDate, NaiveDate),
    ) -> Result<Vec<Value>, PollError> {
        let path = allocation_path(subscription);
        let mut url = allocation_url(session, (subscription, environment), field, (from, to));
        let mut records = Vec::new();
        let fail = |PageError { page, source }| {
            PollError::Item {
            item: format!("cost-allocation page {page} of environment {environment} in subscription {subscription} ({ALLOCATION_NEEDS})"),
            source,
        }
        };
        loop {
            let page = session.get_page(&url).await.map_err(fail)?;
            let body: BreakdownPage = page.json_object().map_err(fail)?;
            records.extend(body.records);
            // The cursor alone: Dynatrace refuses it with any other parameter.
            match body.next_page_key.filter(|k| !k.is_empty()) {
                Some(key) => {
                    url = session.url(&path);
                    url.query_pairs_mut().append_pair("page-key", &key);
                }
                None => return Ok(records),
            }
        }
    }
}

fn add_record(allocations: &mut Allocations, environment: &str, record: Record) {
    let Some(day) = parse_day_or_time(&record.date).map(|t| t.date_naive()) else {
        return;
    };
    let key = record.key.unwrap_or_default();
    let entry = (environment.to_string(), day, record.capability);
    *allocations
        .entry(entry)
        .or_default()
        .entry(key)
        .or_default() += record.costs;
}

/// Each cost row split by its allocations (found by the capability's key or its name), the
/// rest under an empty key; an allocation over the row's cost leaves no rest.
fn split(raw: RawCosts, allocations: &Allocations) -> RawCosts {
    let mut split = RawCosts::default();
    for ((labels, day), total) in raw.rows {
        let (environment, key, name) = (&labels[1], &labels[2], &labels[3]);
        let find =
            |capability: &String| allocations.get(&(environment.clone(), day, capability.clone()));
        let none = BTreeMap::new();
        let allocated = find(key).or_else(|| find(name)).unwrap_or(&none);
        let mut rest = total;
        let mut add = |to: &str, amount: f64| {
            let mut with_key = labels.clone();
            with_key.push(to.to_string());
            *split.rows.entry((with_key, day)).or_default() += amount;
        };
        for (to, amount) in allocated.iter().filter(|(to, _)| !to.is_empty()) {
            add(to, *amount);
            rest -= amount;
        }
        if rest > 1e-9 * total.abs().max(1.0) || allocated.is_empty() {
            add("", rest);
        }
    }
    split
}

/// Each split row's key as a fraction of its row (the row's labels without the key): a row of
/// no money keeps its whole under the empty key.
fn shares_of(split: &RawCosts) -> Shares {
    let rows = || {
        split.rows.iter().filter_map(|((labels, day), amount)| {
            let (key, row) = labels.split_last()?;
            Some(((row, *day), key, *amount))
        })
    };
    let mut totals: HashMap<(&[String], NaiveDate), f64> = HashMap::new();
    for (row, _, amount) in rows() {
        *totals.entry(row).or_default() += amount;
    }
    let mut shares = Shares::new();
    for ((row, day), key, amount) in rows() {
        let total = totals.get(&(row, day)).copied().unwrap_or_default();
        let fraction = if total != 0.0 {
            amount / total
        } else if key.is_empty() {
            1.0
        } else {
            0.0
        };
        let entry = shares.entry((row.to_vec(), day)).or_default();
        entry.push((key.clone(), fraction));
    }
    shares
}

/// A read of `days` into the kept shares: its days replace theirs; the days kept before it stay
/// when the two ranges touch and end together or the read goes on (an incremental poll's
/// narrower read, a new day), so a later poll over the wider range needs no read.
fn keep_read(
    (covered, kept): (&mut (NaiveDate, NaiveDate), &mut Shares),
    days: (NaiveDate, NaiveDate),
    read: Shares,
) {
    let touches = days.0 <= covered.1.succ_opt().unwrap_or(covered.1) && days.1 >= covered.1;
    if touches {
        kept.retain(|(_, day), _| *day < days.0);
        *covered = (covered.0.min(days.0), days.1);
    } else {
        kept.clear();
        *covered = days;
    }
    kept.extend(read);
}

/// Fresh rows split by kept shares; a row the last read did not have stays unallocated.
fn split_by_shares(raw: RawCosts, shares: &Shares) -> RawCosts {
    let mut split = RawCosts::default();
    for ((labels, day), total) in raw.rows {
        let unallocated = [(String::new(), 1.0)];
        let row_shares = shares.get(&(labels.clone(), day));
        let row_shares = row_shares.map(Vec::as_slice).unwrap_or(&unallocated);
        for (key, fraction) in row_shares {
            let mut with_key = labels.clone();
            with_key.push(key.clone());
            *split.rows.entry((with_key, day)).or_default() += total * fraction;
        }
    }
    split
}

pub(super) fn allocation_path(subscription: &str) -> String {
    format!("/v1/subscriptions/{subscription}/cost-allocation")
}

/// The first page of one environment's cost allocation over `days` (first and last).
pub(super) fn allocation_url(
    session: &PollSession<'_>,
    (subscription, environment): (&str, &str),
    field: CostAllocation,
    (from, to): (NaiveDate, NaiveDate),
) -> url::Url {
    let mut url = session.url(&allocation_path(subscription));
    // page_size counts environments on the usage pages; records here take the vendor's
    // default page.
    url.query_pairs_mut()
        .append_pair("field", field.field())
        .append_pair("environment-id", environment)
        .append_pair("from", &from.to_string())
        .append_pair("to", &to.to_string());
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 100,000 cost centres of one environment's capability on one day: each record lands in
    /// its key's sum (an index, not a walk over the keys so far), and the split sums to the row.
    #[test]
    fn a_hundred_thousand_cost_centres_split_one_row_once_each() {
        let day = NaiveDate::from_ymd_opt(2027, 1, 15).unwrap_or_default();
        let keys = 100_000;
        let mut allocations = Allocations::new();
        for i in 0..keys {
            let record = Record {
                date: "2027-01-15".into(),
                capability: "LOG_MANAGEMENT_INGEST".into(),
                key: Some(format!("CC-{i:06}")),
                costs: 0.5,
            };
            add_record(&mut allocations, "env-1", record);
        }
        let mut raw = RawCosts::default();
        let labels = ["s", "env-1", "LOG_MANAGEMENT_INGEST", "Log ingest", "USD"];
        let labels = labels.map(str::to_string).to_vec();
        raw.rows.insert((labels, day), 60_000.0);
        let split = split(raw, &allocations);
        assert_eq!(split.rows.len(), keys + 1, "each key once, and the rest");
        let total: f64 = split.rows.values().sum();
        assert!((total - 60_000.0).abs() < 1e-6, "{total}");
        let rest = split
            .rows
            .iter()
            .find(|((labels, _), _)| labels[5].is_empty());
        assert_eq!(rest.map(|(_, money)| *money), Some(10_000.0));
    }

    fn shares_on(days: &[u32]) -> Shares {
        let row = vec!["s".to_string(), "env-1".to_string()];
        let on = |d: u32| NaiveDate::from_ymd_opt(2027, 1, d).unwrap_or_default();
        let entry = |d: u32| ((row.clone(), on(d)), vec![("CC-1".to_string(), 0.5)]);
        days.iter().map(|d| entry(*d)).collect()
    }

    /// An incremental poll's narrower read (the last days, or a new day) keeps the month read
    /// before it, so the next poll over the whole month is covered; a range that does not touch
    /// the kept one replaces it.
    #[test]
    fn a_narrower_read_keeps_the_days_read_before_it() {
        let on = |d: u32| NaiveDate::from_ymd_opt(2027, 1, d).unwrap_or_default();
        let mut covered = (on(1), on(15));
        let mut kept = shares_on(&(1..=15).collect::<Vec<_>>());
        keep_read(
            (&mut covered, &mut kept),
            (on(12), on(15)),
            shares_on(&[12, 13, 14, 15]),
        );
        assert_eq!((covered, kept.len()), ((on(1), on(15)), 15));
        keep_read(
            (&mut covered, &mut kept),
            (on(16), on(16)),
            shares_on(&[16]),
        );
        assert_eq!((covered, kept.len()), ((on(1), on(16)), 16), "a new day");
        keep_read(
            (&mut covered, &mut kept),
            (on(20), on(21)),
            shares_on(&[20, 21]),
        );
        assert_eq!((covered, kept.len()), ((on(20), on(21)), 2), "a gap");
    }
}
