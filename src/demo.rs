//! `consumption_exporter demo`: vendor simulators on loopback and the exporter against them, so
//! a newcomer sees real gauges without a vendor account. The demo's config goes through the same
//! loader as a user's `exporter.yml`.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use chrono::{NaiveDate, Utc};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::clock::SystemClock;
use crate::config;
use crate::simulator::avepoint::{generate_rows, AvePointSimulator, AvePointTenant};
use crate::simulator::dynatrace::{DynatraceAccount, DynatraceSimulator};
use crate::simulator::powerplatform::{FlowRecords, PowerPlatformSimulator, PowerPlatformTenant};
use crate::simulator::qlik::{generate_records, QlikSimulator, QlikTenant};
use crate::simulator::uipath::{UiPathOrganization, UiPathSimulator};
use crate::simulator::RunningSimulator;

/// Binds the listen address, naming it in the error (a port in use is the usual cause).
pub async fn bind(address: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address}: is another process using it? Choose another with --web.listen-address"))
}

/// Starts the simulators and serves the exporter on `listen_address` until `shutdown`.
pub async fn run(
    listen_address: &str,
    seed: u64,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let (config_text, _simulators) = start_simulators(seed).await?;
    let config = config::parse(&config_text, "demo config", Path::new("."))
        .map_err(|e| anyhow::anyhow!("the demo's own config is invalid (a bug): {e}"))?;
    let listener = bind(listen_address).await?;
    let port = listener.local_addr()?.port();
    println!("consumption_exporter demo: simulated vendors are running on loopback.");
    println!("  metrics:      http://localhost:{port}/metrics");
    println!("  sources page: http://localhost:{port}/");
    println!("  a real config: exporter.yml in the repository; check it with `consumption_exporter check`");
    println!("Press Ctrl-C to stop.");
    crate::app::run(
        config,
        listener,
        Arc::new(SystemClock),
        shutdown,
        None,
        None,
    )
    .await
}

/// Starts one simulator per demo tenant; returns the config for them and the running servers.
pub async fn start_simulators(seed: u64) -> anyhow::Result<(String, Vec<RunningSimulator>)> {
    let today = Utc::now().date_naive();
    let parts = [
        qlik(seed, today, "demo-qlik-eu", 25, false).await?,
        qlik(seed + 1, today, "demo-qlik-us", 10, true).await?,
        power_platform(seed, today).await?,
        uipath(seed).await?,
        dynatrace(seed, today).await?,
        avepoint(seed).await?,
    ];
    let mut config = "global:\n  poll_interval: 30s\n  max_age: 5m\nsources:\n".to_string();
    let mut simulators = Vec::new();
    for (entry, simulator) in parts {
        config.push_str(&entry);
        simulators.push(simulator);
    }
    Ok((config, simulators))
}

type Part = (String, RunningSimulator);

async fn qlik(
    seed: u64,
    today: NaiveDate,
    name: &str,
    users: usize,
    oauth: bool,
) -> anyhow::Result<Part> {
    let tenant = QlikTenant {
        today,
        ..QlikTenant::default()
    };
    let running = QlikSimulator::new(tenant.clone(), generate_records(seed, users, today))
        .start(0)
        .await
        .context("starting the Qlik simulator")?;
    let credentials = if oauth {
        format!(
            "    oauth2:\n      client_id: {}\n      client_secret: {}\n",
            tenant.client_id, tenant.client_secret
        )
    } else {
        format!(
            "    authorization:\n      credentials: {}\n",
            tenant.api_key
        )
    };
    Ok((
        format!(
            "  - name: {name}\n    type: qlik\n    base_url: {}\n{credentials}",
            running.url()
        ),
        running,
    ))
}

async fn power_platform(seed: u64, today: NaiveDate) -> anyhow::Result<Part> {
    let tenant = PowerPlatformTenant {
        today,
        records: FlowRecords::Generated {
            seed,
            per_day: 500,
            days: 40,
            environments: 3,
            users: 60,
        },
        ..PowerPlatformTenant::default()
    };
    let running = PowerPlatformSimulator::new(tenant.clone())
        .start(0)
        .await
        .context("starting the Power Platform simulator")?;
    let url = running.url();
    let entry = format!(
        "  - name: demo-flows\n    type: powerplatform\n    base_url: {url}\n    tenant_summary: true\n    oauth2:\n      token_url: {url}/contoso.onmicrosoft.com/oauth2/v2.0/token\n      client_id: {}\n      client_secret: {}\n",
        tenant.client_id, tenant.client_secret
    );
    Ok((entry, running))
}

async fn uipath(seed: u64) -> anyhow::Result<Part> {
    let org = UiPathOrganization {
        seed,
        ..UiPathOrganization::default()
    };
    let running = UiPathSimulator::new(org.clone())
        .start(0)
        .await
        .context("starting the UiPath simulator")?;
    let entry = format!(
        "  - name: demo-robots\n    type: uipath\n    base_url: {}\n    organization_id: {}\n    tenant_ids: [{}]\n    consumable_codes: [RU, PLTU, AGU, AIU]\n    oauth2:\n      client_id: {}\n      client_secret: {}\n",
        running.url(),
        org.organization_id,
        org.tenant_ids.join(", "),
        org.client_id,
        org.client_secret
    );
    Ok((entry, running))
}

async fn dynatrace(seed: u64, today: NaiveDate) -> anyhow::Result<Part> {
    let account = DynatraceAccount {
        seed,
        today,
        ..DynatraceAccount::default()
    };
    let running = DynatraceSimulator::new(account.clone())
        .start(0)
        .await
        .context("starting the Dynatrace simulator")?;
    let url = running.url();
    let entry = format!(
        "  - name: demo-dynatrace\n    type: dynatrace\n    base_url: {url}\n    account_uuid: {}\n    subscription_uuid: {}\n    oauth2:\n      token_url: {url}/sso/oauth2/token\n      client_id: {}\n      client_secret: {}\n",
        account.account_uuid, account.subscription_uuid, account.client_id, account.client_secret
    );
    Ok((entry, running))
}

async fn avepoint(seed: u64) -> anyhow::Result<Part> {
    let tenant = AvePointTenant {
        rows: generate_rows(seed, 40),
        ..AvePointTenant::default()
    };
    let running = AvePointSimulator::new(tenant.clone())
        .start(0)
        .await
        .context("starting the AvePoint simulator")?;
    let url = running.url();
    let entry = format!(
        "  - name: demo-avepoint\n    type: avepoint\n    base_url: {url}\n    oauth2:\n      token_url: {url}/connect/token\n      client_id: {}\n      client_secret: {}\n",
        tenant.client_id, tenant.client_secret
    );
    Ok((entry, running))
}
