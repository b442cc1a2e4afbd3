//! Qlik's executions folded as their pages arrive: each (period, labels) capacity's local and
//! global usage, limits and overage flags, and the level usage budgets read.

use super::*;

/// Folds pages of execution records into the Qlik families; pure, so it is tested on fixtures.
pub(super) struct Folder<'a> {
    labels: &'a [Label],
    now: DateTime<Utc>,
    builder: SnapshotBuilder,
    families: Families,
    tenant_overage: bool,
    tenant_close_to_overage: bool,
    /// Whether budgets read the levels (made from the local usage family at the end).
    wants_levels: bool,
    /// Qlik's own capacities of the current period, by `<type>/<action>/<period type>` and unit.
    capacities: HashMap<String, Capacity>,
    key: String,
    /// The licence overview, with `entitlements: true`.
    pub(super) license: Option<LicenseOverview>,
}

/// One capacity Qlik reports: the executions of one resource action in one period.
pub(super) struct Capacity {
    name: String,
    unit: String,
    limit: f64,
    used: f64,
    start: Option<f64>,
    end: Option<f64>,
}

pub(super) struct Families {
    local: FamilyId,
    global: FamilyId,
    capacity: FamilyId,
    guardrail: FamilyId,
    overage: FamilyId,
    blocked: FamilyId,
    close: FamilyId,
    period_end: FamilyId,
}

impl<'a> Folder<'a> {
    pub(super) fn new(labels: &'a [Label], now: DateTime<Utc>, plan: PollPlan) -> Self {
        let mut builder = SnapshotBuilder::new();
        let mut names: Vec<&'static str> = labels.iter().map(|l| l.name()).collect();
        names.push("period");
        let mut family = |desc, combine| builder.family(desc, names.clone(), combine);
        let families = Families {
            local: family(&LOCAL_USAGE, Combine::Sum),
            global: family(&GLOBAL_USAGE, Combine::Sum),
            capacity: family(&CAPACITY_LIMIT, Combine::Sum),
            guardrail: family(&GUARDRAIL_LIMIT, Combine::Sum),
            overage: family(&OVERAGE, Combine::Max),
            blocked: family(&BLOCKED, Combine::Max),
            close: family(&CLOSE_TO_OVERAGE, Combine::Max),
            period_end: family(&PERIOD_END, Combine::Max),
        };
        Folder {
            labels,
            now,
            builder,
            families,
            tenant_overage: false,
            tenant_close_to_overage: false,
            wants_levels: plan.wants_usage(),
            capacities: HashMap::new(),
            key: String::new(),
            license: None,
        }
    }

    pub(super) fn fold_page(&mut self, page: &ExecutionsPage<'_>) {
        self.tenant_overage |= page.overage.unwrap_or(false);
        self.tenant_close_to_overage |= page.close_to_overage.unwrap_or(false);
        for record in &page.data {
            self.fold_record(record);
        }
    }

    fn fold_record(&mut self, record: &Execution<'_>) {
        let period_end = record.period_end.as_deref().and_then(end_of_last_day);
        let period = match period_end {
            Some(end) if end <= self.now => "previous",
            _ => "current",
        };
        let mut values: Vec<&str> = self.labels.iter().map(|l| l.value(record)).collect();
        if period == "current" {
            self.note_capacity(record, period_end);
        }
        values.push(period);
        let f = &self.families;
        let sums = [
            (f.local, record.local_usage),
            (f.global, record.global_usage),
            (f.capacity, record.capacity_limit),
            (f.guardrail, record.guardrail_limit),
        ];
        let flags = [
            (f.overage, record.overage),
            (f.blocked, record.blocked),
            (f.close, record.close_to_overage),
        ];
        let period_end = period_end.map(|end| (f.period_end, end.timestamp() as f64));
        let observations = sums
            .into_iter()
            .filter_map(|(family, value)| Some((family, value?)))
            .chain(
                flags
                    .into_iter()
                    .map(|(family, flag)| (family, if flag.unwrap_or(false) { 1.0 } else { 0.0 })),
            )
            .chain(period_end);
        self.builder.observe_all(&values, observations);
        if let Some(updated) = record
            .update_time
            .as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        {
            self.builder.data_updated(updated.timestamp() as f64);
        }
    }

    /// Qlik's own capacity of a current record's resource action.
    fn note_capacity(&mut self, record: &Execution<'_>, period_end: Option<DateTime<Utc>>) {
        let used = record.local_usage.unwrap_or(0.0);
        let Some(limit) = record.capacity_limit else {
            return;
        };
        let text = |field: &Option<Cow<'_, str>>| field.as_deref().unwrap_or("").to_string();
        self.key.clear();
        for part in [
            &record.resource_type,
            &record.resource_action,
            &record.period_type,
        ] {
            self.key.push_str(part.as_deref().unwrap_or(""));
            self.key.push('/');
        }
        self.key.push_str(record.unit.as_deref().unwrap_or(""));
        let capacity = self
            .capacities
            .entry_ref(self.key.as_str())
            .or_insert_with(|| Capacity {
                name: format!(
                    "{}/{}/{}",
                    text(&record.resource_type),
                    text(&record.resource_action),
                    text(&record.period_type)
                ),
                unit: text(&record.unit),
                limit: 0.0,
                used: 0.0,
                start: None,
                end: None,
            });
        capacity.limit += limit;
        capacity.used += used;
        let start = record.period_start.as_deref().and_then(parse_day_or_time);
        capacity.start = min_option(capacity.start, start.map(|t| t.timestamp() as f64));
        let end = period_end.map(|t| t.timestamp() as f64);
        capacity.end = max_option(capacity.end, end);
    }

    pub(super) fn finish(mut self) -> Snapshot {
        for (_, capacity) in self.capacities.drain() {
            let period = capacity.start.zip(capacity.end);
            self.builder.vendor_budget(VendorBudget {
                name: capacity.name,
                unit: capacity.unit,
                limit: capacity.limit,
                used: Some(capacity.used),
                forecast: Some(capacity.used),
                period,
            });
        }
        let flag = |b: bool| if b { 1.0 } else { 0.0 };
        let overage = self.builder.family(&TENANT_OVERAGE, vec![], Combine::Max);
        self.builder
            .observe(overage, &[], flag(self.tenant_overage));
        let close = self
            .builder
            .family(&TENANT_CLOSE_TO_OVERAGE, vec![], Combine::Max);
        self.builder
            .observe(close, &[], flag(self.tenant_close_to_overage));
        if let Some(license) = self.license.take() {
            add_license(&mut self.builder, license, self.now);
        }
        let mut snapshot = self.builder.finish();
        if self.wants_levels {
            snapshot.usage = Some(levels(&snapshot, self.labels));
        }
        snapshot
    }
}

/// The levels budgets read, per label set: the current period's local usage, and 0 for a label
/// set seen only in the previous period (so a budget's unit, read from the label sets, stays
/// put when a period ends). Made from the summed family, so it costs nothing per record.
pub(super) fn levels(snapshot: &Snapshot, labels: &[Label]) -> Usage {
    let mut levels: HashMap<Vec<String>, f64> = HashMap::new();
    for (values, usage) in snapshot
        .family(LOCAL_USAGE.name)
        .into_iter()
        .flat_map(|f| f.iter())
    {
        let mut values: Vec<String> = values.map(|v| v.into_owned()).collect();
        let current = values.pop().is_some_and(|period| period == "current");
        *levels.entry(values).or_insert(0.0) += if current { usage } else { 0.0 };
    }
    Usage::Level(LevelUsage {
        label_names: labels.iter().map(|l| l.name()).collect(),
        series: levels.into_iter().collect(),
        members: None,
    })
}
