//! Qlik's licence overview (`entitlements: true`, and whenever seats are read): each
//! allotment's overage allowance, whether the licence is valid, and when it ends.

use super::*;

/// `GET /api/v1/licenses/overview`, read leniently. Its `licenseKey` is a signed secret: it is
/// not even decoded, so it cannot reach a label, a log line or an error.
#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct LicenseOverview {
    #[serde(deserialize_with = "crate::sources::strict::objects")]
    pub(super) allotments: Vec<Allotment>,
    status: Option<String>,
    /// An ISO 8601 interval, `start/end`.
    valid: Option<String>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct Allotment {
    pub(super) name: Option<String>,
    /// `assigned` for seats (professional, analyzer), `time` for capacity.
    pub(super) usage_class: Option<String>,
    pub(super) units: Option<f64>,
    pub(super) units_used: Option<f64>,
    /// The overage allowed beyond `units`; -1: unbounded.
    pub(super) overage: Option<f64>,
}

pub static ALLOTMENT_OVERAGE_ALLOWED: FamilyDesc = FamilyDesc {
    name: "consumption_qlik_allotment_overage_allowed",
    help: "Overage a Qlik Cloud licence allotment allows beyond its units (+Inf: unbounded).",
};
pub static LICENSE_VALID: FamilyDesc = FamilyDesc {
    name: "consumption_qlik_license_valid",
    help: "1 if the Qlik Cloud licence's status is Ok and now is within its validity, else 0.",
};
pub static LICENSE_END: FamilyDesc = FamilyDesc {
    name: "consumption_qlik_license_end_timestamp_seconds",
    help: "End of the Qlik Cloud licence's validity (Unix seconds).",
};

/// What `entitlements: true` needs, for the error of a refused overview.
pub(super) const ENTITLEMENT_ROLE: &str =
    "entitlements: true and seats: true need a key or client whose user may read the licence overview, as a Tenant Admin may";

pub(super) async fn license_overview(
    session: &PollSession<'_>,
) -> Result<LicenseOverview, PollError> {
    let fail = |source| PollError::Item {
        item: format!("licence overview ({ENTITLEMENT_ROLE})"),
        source,
    };
    let url = session.url("/api/v1/licenses/overview");
    let response = session.send(&Request::get(url)).await.map_err(fail)?;
    response.json_object().map_err(fail)
}

impl LicenseOverview {
    /// `valid`'s first instant and end: a last day given as a date ends at the following
    /// midnight UTC (an inclusive day, as `periodEnd` is); a time is the end itself.
    fn validity(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let (start, end) = self.valid.as_deref()?.split_once('/')?;
        Some((parse_day_or_time(start)?, end_of_last_day(end)?))
    }

    pub(super) fn end(&self) -> Option<DateTime<Utc>> {
        self.validity().map(|(_, end)| end)
    }
}

/// The allotments as budgets with `origin="vendor"` over the licence's validity, their allowed
/// overage, and whether the licence is valid now.
pub(super) fn add_license(
    builder: &mut SnapshotBuilder,
    license: LicenseOverview,
    now: DateTime<Utc>,
) {
    let validity = license.validity();
    let seconds = |t: DateTime<Utc>| t.timestamp() as f64;
    let overage = builder.family(&ALLOTMENT_OVERAGE_ALLOWED, vec!["allotment"], Combine::Max);
    for allotment in license.allotments {
        let name = allotment.name.unwrap_or_default();
        if let Some(allowed) = allotment.overage {
            let allowed = if allowed < 0.0 {
                f64::INFINITY
            } else {
                allowed
            };
            builder.observe(overage, &[&name], allowed);
        }
        let (Some(limit), Some(used)) = (allotment.units, allotment.units_used) else {
            continue;
        };
        builder.vendor_budget(VendorBudget {
            name: format!("allotment/{name}"),
            unit: "units".into(),
            limit,
            used: Some(used),
            forecast: Some(used),
            period: validity.map(|(start, end)| (seconds(start), seconds(end))),
        });
    }
    let ok = license.status.as_deref() == Some("Ok");
    let current = validity.is_none_or(|(start, end)| start <= now && now < end);
    let valid = builder.family(&LICENSE_VALID, vec![], Combine::Max);
    builder.observe(valid, &[], if ok && current { 1.0 } else { 0.0 });
    if let Some((_, end)) = validity {
        let family = builder.family(&LICENSE_END, vec![], Combine::Max);
        builder.observe(family, &[], seconds(end));
    }
}

pub(super) fn min_option(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

pub(super) fn max_option(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}
