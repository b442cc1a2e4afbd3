//! UiPath consumption by Orchestrator folder (`by_folder: true`):
//! `POST /lease_/api/usage/{org}/tenants/consumption-by-folder` (shared/vendor-seats.md §2.3).
//!
//! The endpoint gives each folder's own units (`consumedBySelf`, descendants not included) over
//! a range, per tenant and consumable, not per day and not per service. So the daily amounts of
//! the consumption-by-service answer stay the numbers, and each is split between the folders
//! in the shares the folders had over the range its day lies in. The ranges are cut where the
//! showback windows start (this month, yesterday, today), so each window's split is the
//! vendor's own; a consumable's services share its split. Folder rows are read leniently (the
//! raw answer is not published): a bare list or one under `items` or `value`; a folder is
//! labelled by its path of names from the root.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Days, NaiveDate, Utc};
use serde::Deserialize;
use serde_json::json;

use super::UiPath;
use crate::http::{PollSession, Request};
use crate::model::snapshot::{Combine, FamilyDesc, FamilySamples, SnapshotBuilder};
use crate::model::usage::DailyUsage;
use crate::sources::windows::Windows;
use crate::sources::PollError;

/// The label a folder split adds to the usage.
pub(super) const FOLDER_LABEL: &str = "folder";

pub(super) const FOLDER_ENDPOINT: &str = "consumption-by-folder";

/// What a refused folder request needs.
const FOLDER_GRANT: &str = "by_folder: true needs a token that may read license consumption: UiPath documents the password grant of an Organization Administrator for it, or an external application with PM.License";

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct FolderRow {
    folder_key: Option<String>,
    folder_name: Option<String>,
    parent_folder_key: Option<String>,
    consumed_by_self: Option<f64>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum FolderBody {
    List(Vec<FolderRow>),
    Items { items: Vec<FolderRow> },
    Value { value: Vec<FolderRow> },
}

/// One range's folders: each folder's path and its share of the range's units.
pub(super) type Shares = Vec<(String, f64)>;

/// A tenant, a consumable and a range: what one folder read is of.
pub(super) type SharesKey = (String, String, NaiveDate, NaiveDate);

pub static FOLDER_UNITS: FamilyDesc = FamilyDesc {
    name: "consumption_uipath_folder_units",
    help: "UiPath consumable units per tenant, consumable and Orchestrator folder (its path of names) in the window (UTC days): each day's units in the folders' shares of the range it lies in (by_folder: true).",
};

/// The folder split's units per tenant, consumable and folder in each window.
pub(super) fn folder_family(split: &DailyUsage, windows: &Windows) -> Vec<FamilySamples> {
    let mut builder = SnapshotBuilder::new();
    let names = vec!["tenant_id", "consumable", FOLDER_LABEL, "window"];
    let family = builder.family(&FOLDER_UNITS, names, Combine::Sum);
    let folder = split.label_names.len() - 1;
    let in_window = [
        ("today", windows.today, windows.today),
        ("yesterday", windows.yesterday, windows.yesterday),
        ("month_to_date", windows.month_start, windows.today),
    ];
    for (values, days) in &split.series {
        for (window, first, last) in in_window {
            let sum: f64 = days
                .iter()
                .filter(|(day, _)| first <= *day && *day <= last)
                .map(|(_, amount)| amount)
                .sum();
            let labels = [values[0].as_str(), &values[1], &values[folder], window];
            builder.observe(family, &labels, sum);
        }
    }
    builder.finish().families
}

/// The ranges `[first, today]` is cut into, first day and last: at the month's start,
/// yesterday and today.
pub(super) fn ranges(first: NaiveDate, today: NaiveDate) -> Vec<(NaiveDate, NaiveDate)> {
    let yesterday = today - Days::new(1);
    let month = today.with_day(1).unwrap_or(today);
    let mut cuts: Vec<NaiveDate> = [month, yesterday, today]
        .into_iter()
        .filter(|cut| *cut > first && *cut <= today)
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut ranges = Vec::new();
    let mut start = first;
    for cut in cuts {
        ranges.push((start, cut - Days::new(1)));
        start = cut;
    }
    ranges.push((start, today));
    ranges
}

impl UiPath {
    /// `usage` with a `folder` label: each label set's days split between the folders of its
    /// tenant and consumable in their shares of each day's range.
    pub(super) async fn split_by_folder(
        &self,
        session: &PollSession<'_>,
        (usage, reads_inventories): (DailyUsage, bool),
        now: DateTime<Utc>,
    ) -> Result<DailyUsage, PollError> {
        if reads_inventories {
            crate::model::locks::lock(&self.kept_shares).clear();
        }
        let today = now.date_naive();
        let first = usage
            .series
            .iter()
            .filter_map(|(_, days)| days.first().map(|(day, _)| *day))
            .min()
            .unwrap_or(today);
        let ranges = ranges(first.min(today), today);
        let mut shares: HashMap<(String, String), Vec<Shares>> = HashMap::new();
        for (values, _) in &usage.series {
            let key = (values[0].clone(), values[1].clone());
            if shares.contains_key(&key) {
                continue;
            }
            let mut per_range = Vec::new();
            for range in &ranges {
                per_range.push(self.kept_or_read_shares(session, &key, *range, now).await?);
            }
            shares.insert(key, per_range);
        }
        Ok(split(usage, &ranges, &shares))
    }

    /// The folders' shares of one tenant's consumable over `range`: an inventory, kept from the
    /// last poll that read inventories (`inventory_interval`) while its range is the same;
    /// fresh units split by kept shares still sum to the units.
    async fn kept_or_read_shares(
        &self,
        session: &PollSession<'_>,
        key: &(String, String),
        range: (NaiveDate, NaiveDate),
        now: DateTime<Utc>,
    ) -> Result<Shares, PollError> {
        let kept_key = (key.0.clone(), key.1.clone(), range.0, range.1);
        let kept = crate::model::locks::lock(&self.kept_shares)
            .get(&kept_key)
            .cloned();
        if let Some(shares) = kept {
            return Ok(shares);
        }
        let shares = self.folder_shares(session, key, range, now).await?;
        crate::model::locks::lock(&self.kept_shares).insert(kept_key, shares.clone());
        Ok(shares)
    }

    /// The folders' shares of one tenant's consumable over `range`.
    async fn folder_shares(
        &self,
        session: &PollSession<'_>,
        (tenant, consumable): &(String, String),
        (first, last): (NaiveDate, NaiveDate),
        now: DateTime<Utc>,
    ) -> Result<Shares, PollError> {
        let item = format!("consumption by folder of tenant {tenant} consumable {consumable} from {first} to {last} ({FOLDER_GRANT})");
        let fail = |source| PollError::Item {
            item: item.clone(),
            source,
        };
        let midnight = |day: NaiveDate| day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        let end = (midnight(last + Days::new(1)) - chrono::Duration::milliseconds(1)).min(now);
        let path = self.lease_path(FOLDER_ENDPOINT);
        let body = json!({
            "tenantId": tenant,
            "startDate": midnight(first).timestamp_millis(),
            "endDate": end.timestamp_millis(),
            "consumableCode": consumable,
            "aggregateByOwnership": self.settings.aggregate_by_ownership,
        });
        let response = session
            .send(&Request::post_json(session.url(&path), body))
            .await
            .map_err(fail)?;
        let rows = match response.json::<FolderBody>().map_err(fail)? {
            FolderBody::List(rows) | FolderBody::Items { items: rows } => rows,
            FolderBody::Value { value: rows } => rows,
        };
        shares_of(&rows).map_err(|detail| fail(response.decode_error(detail)))
    }
}

/// The deepest folder path read: Orchestrator nests folders a few levels deep, so a deeper
/// chain is a broken answer, and a path's cost in a label stays bounded by it.
const MAX_FOLDER_DEPTH: usize = 32;
/// The longest folder path read, in bytes, for the same reason.
const MAX_FOLDER_PATH: usize = 2048;

/// Each folder's path and share of the rows' units (none when they have no units); a parent
/// chain that loops, or is deeper or longer than a folder path can be, fails the answer.
fn shares_of(rows: &[FolderRow]) -> Result<Shares, String> {
    let units = |row: &FolderRow| row.consumed_by_self.filter(|u| u.is_finite() && *u > 0.0);
    let total: f64 = rows.iter().filter_map(units).sum();
    if total <= 0.0 {
        return Ok(Vec::new());
    }
    let names: HashMap<&str, (&str, Option<&str>)> = rows
        .iter()
        .filter_map(|row| {
            let key = row.folder_key.as_deref()?;
            let name = row.folder_name.as_deref().unwrap_or(key);
            Some((key, (name, row.parent_folder_key.as_deref())))
        })
        .collect();
    let mut shares = Vec::new();
    for row in rows {
        if let Some(units) = units(row) {
            shares.push((path(row, &names)?, units / total));
        }
    }
    Ok(shares)
}

/// A folder's path of names from the root, walked up its parents: a loop, more than
/// [`MAX_FOLDER_DEPTH`] levels or more than [`MAX_FOLDER_PATH`] bytes is an error.
fn path(row: &FolderRow, names: &HashMap<&str, (&str, Option<&str>)>) -> Result<String, String> {
    let folder = row.folder_key.as_deref().unwrap_or_default();
    let mut walked: Vec<&str> = Vec::new();
    let mut parts = Vec::new();
    let mut length = 0;
    let mut next = row.folder_key.as_deref();
    while let Some((key, (name, parent))) = next.and_then(|k| Some((k, names.get(k)?))) {
        if walked.contains(&key) {
            return Err(format!("folder {folder:?}'s parents loop back to {key:?}"));
        }
        if walked.len() == MAX_FOLDER_DEPTH {
            return Err(format!(
                "folder {folder:?} is nested more than {MAX_FOLDER_DEPTH} levels deep"
            ));
        }
        length += name.len() + 1;
        if length > MAX_FOLDER_PATH {
            return Err(format!(
                "folder {folder:?}'s path is longer than {MAX_FOLDER_PATH} bytes"
            ));
        }
        walked.push(key);
        parts.push(*name);
        next = *parent;
    }
    if parts.is_empty() {
        parts.push(row.folder_name.as_deref().unwrap_or(""));
    }
    parts.reverse();
    Ok(parts.join("/"))
}

/// The usage with a folder per label set and day, in the shares of the day's range; a day
/// whose range has no folder units keeps its amount under an empty folder.
fn split(
    usage: DailyUsage,
    ranges: &[(NaiveDate, NaiveDate)],
    shares: &HashMap<(String, String), Vec<Shares>>,
) -> DailyUsage {
    let mut series: HashMap<Vec<String>, Vec<(NaiveDate, f64)>> = HashMap::new();
    let none = Vec::new();
    for (values, days) in usage.series {
        let key = (values[0].clone(), values[1].clone());
        let per_range = shares.get(&key).unwrap_or(&none);
        for (day, amount) in days {
            let range = ranges.iter().position(|(a, b)| *a <= day && day <= *b);
            let folders = range
                .and_then(|i| per_range.get(i))
                .filter(|s| !s.is_empty());
            let parts: Vec<(&str, f64)> = match folders {
                Some(folders) => folders
                    .iter()
                    .map(|(f, s)| (f.as_str(), amount * s))
                    .collect(),
                None => vec![("", amount)],
            };
            for (folder, part) in parts {
                let mut labels = values.clone();
                labels.push(folder.to_string());
                series.entry(labels).or_default().push((day, part));
            }
        }
    }
    let mut label_names = usage.label_names;
    label_names.push(FOLDER_LABEL);
    DailyUsage {
        label_names,
        series: series.into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap_or_default()
    }

    #[test]
    fn ranges_cut_at_the_month_yesterday_and_today_across_a_year_boundary() {
        assert_eq!(
            ranges(day("2026-12-20"), day("2027-01-15")),
            vec![
                (day("2026-12-20"), day("2026-12-31")),
                (day("2027-01-01"), day("2027-01-13")),
                (day("2027-01-14"), day("2027-01-14")),
                (day("2027-01-15"), day("2027-01-15")),
            ]
        );
        // On the 1st, yesterday is last month's: the month's start is today.
        assert_eq!(
            ranges(day("2026-12-01"), day("2027-01-01")),
            vec![
                (day("2026-12-01"), day("2026-12-30")),
                (day("2026-12-31"), day("2026-12-31")),
                (day("2027-01-01"), day("2027-01-01")),
            ]
        );
        assert_eq!(
            ranges(day("2027-01-15"), day("2027-01-15")),
            vec![(day("2027-01-15"), day("2027-01-15"))]
        );
    }

    #[test]
    fn a_folder_is_its_path_and_shares_sum_to_one() {
        let rows: Vec<FolderRow> = serde_json::from_str(
            r#"[{"folderKey":"r","folderName":"Shared","parentFolderKey":null,"consumedBySelf":1},
                {"folderKey":"c","folderName":"Finance","parentFolderKey":"r","consumedBySelf":3},
                {"folderKey":"x","folderName":"Loop","parentFolderKey":"x","consumedBySelf":0}]"#,
        )
        .unwrap_or_default();
        assert_eq!(
            shares_of(&rows),
            Ok(vec![
                ("Shared".to_string(), 0.25),
                ("Shared/Finance".to_string(), 0.75)
            ])
        );
    }

    /// 4,000 folders, each the parent of the next: every path would repeat the chain.
    fn chain(length: usize, closed: bool) -> Vec<FolderRow> {
        (0..length)
            .map(|i| FolderRow {
                folder_key: Some(format!("f{i}")),
                folder_name: Some(format!("folder-{i}")),
                parent_folder_key: match (i, closed) {
                    (0, false) => None,
                    (0, true) => Some(format!("f{}", length - 1)),
                    _ => Some(format!("f{}", i - 1)),
                },
                consumed_by_self: Some(1.0),
            })
            .collect()
    }

    #[test]
    fn a_chain_too_deep_or_a_loop_of_parents_fails_the_answer_instead_of_growing_paths() {
        let deep = shares_of(&chain(4_000, false)).unwrap_err();
        assert!(deep.contains("nested more than 32 levels deep"), "{deep}");
        let looped = shares_of(&chain(2_000, true)).unwrap_err();
        assert!(
            looped.contains("nested more than 32 levels deep"),
            "{looped}"
        );
        let small_loop = shares_of(&chain(3, true)).unwrap_err();
        assert!(small_loop.contains("parents loop back"), "{small_loop}");
        assert_eq!(shares_of(&chain(32, false)).map(|s| s.len()), Ok(32));
        let long = vec![FolderRow {
            folder_key: Some("k".into()),
            folder_name: Some("x".repeat(3_000)),
            parent_folder_key: None,
            consumed_by_self: Some(1.0),
        }];
        assert!(shares_of(&long)
            .unwrap_err()
            .contains("longer than 2048 bytes"));
    }
}
