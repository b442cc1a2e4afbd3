//! Inventories at their cadence: one simulated day of 96 polls 15 minutes apart of a seat
//! source of each vendor that reads seats, at the sizes the seats section uses, with the
//! default `inventory_interval` (6h), against every poll reading them (`0s`, as before it
//! existed). Requests and bytes are the exporter's own per-endpoint counters.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use chrono::{NaiveDate, TimeDelta};
use consumption_exporter::model::clock::FixedClock;
use consumption_exporter::simulator::avepoint::{AvePointSimulator, AvePointTenant};
use consumption_exporter::simulator::dynatrace::{DynatraceAccount, DynatraceSimulator};
use consumption_exporter::simulator::kit::{self, Scale, TenantSpec};
use consumption_exporter::simulator::qlik::{generate_records, QlikSimulator, QlikTenant};
use consumption_exporter::simulator::uipath::{UiPathOrganization, UiPathSimulator};
use consumption_exporter::{app, config};

/// Requests and bytes per endpoint.
pub type Costs = BTreeMap<&'static str, (u64, u64)>;

/// One vendor's day: every poll reading the inventories, and the default cadence.
pub struct InventoryDay {
    pub vendor: &'static str,
    pub tenant: String,
    pub every_poll: Costs,
    pub at_default: Costs,
}

/// A simulated tenant, kept alive while it is polled.
type Held = Box<dyn std::any::Any>;

async fn tenant(vendor: &str, day: NaiveDate) -> anyhow::Result<(Held, String, String)> {
    Ok(match vendor {
        "qlik" => {
            let tenant = QlikTenant {
                assignments: 20_000,
                today: day,
                ..QlikTenant::default()
            };
            let running = QlikSimulator::new(tenant, generate_records(3, 40, day))
                .start(0)
                .await?;
            let entry = format!("  - name: seats\n    type: qlik\n    base_url: {}\n    authorization:\n      credentials: qlik-sim-api-key\n    seats: true\n    seat_activity: true\n", running.url());
            (
                Box::new(running),
                entry,
                "20,000 assignments and their session events".into(),
            )
        }
        "uipath" => {
            let org = UiPathOrganization {
                named_users: 5_000,
                today: day,
                ..UiPathOrganization::default()
            };
            let running = UiPathSimulator::new(org.clone()).start(0).await?;
            let entry = format!("  - name: seats\n    type: uipath\n    base_url: {}\n    organization_id: {}\n    tenant_ids: [{}]\n    consumable_codes: [RU]\n    seats: true\n    oauth2:\n      client_id: {}\n      client_secret: {}\n", running.url(), org.organization_id, org.tenant_ids.join(", "), org.client_id, org.client_secret);
            (
                Box::new(running),
                entry,
                format!("{} tenants of 5,000 named users", org.tenant_ids.len()),
            )
        }
        "avepoint" => {
            let tenant = AvePointTenant {
                inventory: 10_000,
                ..AvePointTenant::default()
            };
            let running = AvePointSimulator::new(tenant.clone()).start(0).await?;
            let url = running.url();
            let entry = format!("  - name: seats\n    type: avepoint\n    base_url: {url}\n    oauth2:\n      token_url: {url}/connect/token\n      client_id: {}\n      client_secret: {}\n    seats: true\n", tenant.client_id, tenant.client_secret);
            (
                Box::new(running),
                entry,
                "10,000 cloud flows and 10,000 Power Apps".into(),
            )
        }
        "dynatrace" => {
            // Every active subscription listed (no subscription_uuid), its commitment and
            // forecast, and the cost split by cost centre, one request per environment.
            let account = DynatraceAccount {
                environments: (0..100).map(|i| format!("env{i:05}")).collect(),
                today: day,
                ..DynatraceAccount::default()
            };
            let running = DynatraceSimulator::new(account.clone()).start(0).await?;
            let url = running.url();
            let entry = format!("  - name: seats\n    type: dynatrace\n    base_url: {url}\n    account_uuid: {}\n    entitlements: true\n    cost_allocation: cost_center\n    page_size: 20\n    oauth2:\n      token_url: {url}/sso/oauth2/token\n      client_id: {}\n      client_secret: {}\n", account.account_uuid, account.client_id, account.client_secret);
            let tenant = "100 environments, cost allocation by cost centre, subscriptions listed";
            (Box::new(running), entry, tenant.into())
        }
        other => {
            let vendor = kit::VENDORS
                .iter()
                .find(|v| v.type_name() == other)
                .ok_or_else(|| anyhow::anyhow!("no vendor {other}"))?;
            // Power Platform: a day of 50,000 flow-run records with its entitlements and
            // tenant summary; Microsoft: 60 SKUs beside the Power Platform ones.
            let (scale, extra, tenant) = match other {
                "powerplatform" => (
                    Scale::Units(50_000),
                    "    entitlements: true\n    tenant_summary: true\n",
                    "50,000 flow-run records a day, entitlements and tenant summary",
                ),
                "microsoft" => (Scale::Units(60), "", "60 SKUs and the Power Platform ones"),
                _ => (Scale::Demo, "", "the demo's tenant"),
            };
            let spec = TenantSpec {
                seed: 5,
                today: day,
                scale,
            };
            let tenant_running = vendor.start(spec).await?;
            let entry = format!("{}{extra}", tenant_running.entry("seats"));
            (Box::new(tenant_running), entry, tenant.into())
        }
    })
}

/// `polls` polls 15 minutes apart from midnight; what they cost, per endpoint.
async fn day_of(yaml: &str, day: NaiveDate, polls: usize) -> anyhow::Result<Costs> {
    let config = config::parse(yaml, "benchmark config", Path::new("."))?;
    let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    let clock = FixedClock::new(midnight);
    let (_store, pollers) = app::pollers(&config, Arc::new(clock.clone()))?;
    let poller = pollers
        .first()
        .ok_or_else(|| anyhow::anyhow!("no source"))?;
    for i in 0..polls {
        clock.set(midnight + TimeDelta::minutes(15 * i as i64));
        let polled = poller.poll_once().await;
        anyhow::ensure!(
            polled,
            "poll failed: {}",
            poller.slot.state().last_error.unwrap_or_default()
        );
    }
    let mut costs = Costs::new();
    for ((endpoint, _), count) in poller.slot.stats.requests() {
        costs.entry(endpoint).or_default().0 += count;
    }
    for (endpoint, bytes) in poller.slot.stats.response_bytes() {
        costs.entry(endpoint).or_default().1 += bytes;
    }
    costs.retain(|_, (requests, _)| *requests > 0);
    Ok(costs)
}

pub async fn measure(vendor: &'static str, day: NaiveDate) -> anyhow::Result<InventoryDay> {
    let (_running, entry, tenant) = tenant(vendor, day).await?;
    let limits = "    poll_timeout: 30m\n    max_pages: 1000000\n";
    let yaml =
        |interval: &str| format!("sources:\n{entry}{limits}    inventory_interval: {interval}\n");
    let every_poll = day_of(&yaml("0s"), day, 96).await?;
    let at_default = day_of(&yaml("6h"), day, 96).await?;
    Ok(InventoryDay {
        vendor,
        tenant,
        every_poll,
        at_default,
    })
}
