//! `consumption_exporter focus`: past days' cost and usage as FOCUS 1.2, against the
//! simulators over HTTP on an injected clock.

use chrono::{DateTime, NaiveDate, Utc};
use consumption_exporter::commands::focus::{self, Request, Target};
use consumption_exporter::simulator::kit::{self, Scale, SimulatedTenant, TenantSpec};

use crate::helpers::{at, parse_config};

const SEED: u64 = 7;

/// The billed vendors with a history, started with data up to `today`.
async fn tenants(today: NaiveDate) -> Vec<(&'static str, SimulatedTenant)> {
    let mut tenants = Vec::new();
    for name in ["uipath", "powerplatform", "dynatrace"] {
        let vendor = kit::vendor(name).unwrap();
        let spec = TenantSpec {
            seed: SEED,
            today,
            scale: Scale::Small,
        };
        tenants.push((name, vendor.start(spec).await.unwrap()));
    }
    tenants
}

/// Money from prices (UiPath, Power Platform) and from Dynatrace's own cost, two teams.
fn config_text(tenants: &[(&str, SimulatedTenant)]) -> String {
    let mut entries = String::new();
    for (name, tenant) in tenants {
        entries.push_str(&tenant.entry(name));
    }
    format!(
        "money:\n  currency: EUR\n  rates: {{USD: 0.9}}\n  prices:\n    - match: {{vendor: uipath}}\n      price: 0.12\n      currency: USD\n    - match: {{vendor: powerplatform}}\n      price: 0.004\nallocation:\n  team:\n    default: platform\n    rules:\n      - match: {{vendor: uipath, uipath_service: orchestrator}}\n        value: sales\n      - match: {{vendor: powerplatform, flow_context: cloudFlow}}\n        value: sales\n      - match: {{vendor: dynatrace, service: LOG_MANAGEMENT_INGEST}}\n        value: sales\nsources:\n{entries}"
    )
}

async fn export(
    yaml: &str,
    from: &str,
    to: &str,
    now: DateTime<Utc>,
) -> (anyhow::Result<focus::Summary>, String) {
    let config = parse_config(yaml);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("focus.csv");
    let request = Request {
        from: from.into(),
        to: Some(to.into()),
        sources: Vec::new(),
        output: Target::File(path.clone()),
        include_unsettled: false,
    };
    let mut progress = Vec::new();
    let result = focus::run(&config, &request, now, &mut progress).await;
    let csv = std::fs::read_to_string(&path).unwrap_or_default();
    eprintln!("{}", String::from_utf8_lossy(&progress));
    (result, csv)
}

#[tokio::test]
async fn scratch() {
    let now = at("2026-12-02T09:00:00Z");
    let tenants = tenants(now.date_naive()).await;
    let (result, csv) = export(&config_text(&tenants), "2026-10-28", "2026-11-03", now).await;
    result.unwrap();
    std::fs::write("/tmp/fv/export.csv", csv).unwrap();
}
