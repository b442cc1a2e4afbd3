//! `consumption_exporter demo`: vendor simulators on loopback and the exporter against them, so
//! a newcomer sees real gauges without a vendor account. The demo's config goes through the same
//! loader as a user's `exporter.yml`.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use chrono::Utc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::clock::SystemClock;
use crate::config;
use crate::simulator::avepoint::{AvePointSimulator, AvePointTenant};
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
    crate::app::run(config, listener, Arc::new(SystemClock), shutdown).await
}

/// Starts one simulator per demo tenant; returns the config for them and the running servers.
pub async fn start_simulators(seed: u64) -> anyhow::Result<(String, Vec<RunningSimulator>)> {
    let today = Utc::now().date_naive();
    let eu_tenant = QlikTenant {
        today,
        ..QlikTenant::default()
    };
    let eu = QlikSimulator::new(eu_tenant.clone(), generate_records(seed, 25, today));
    let us = QlikSimulator::new(
        QlikTenant {
            today,
            ..QlikTenant::default()
        },
        generate_records(seed + 1, 10, today),
    );
    let eu_running = eu.start(0).await.context("starting the Qlik simulator")?;
    let us_running = us.start(0).await.context("starting the Qlik simulator")?;
    let flows_tenant = PowerPlatformTenant {
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
    let flows = PowerPlatformSimulator::new(flows_tenant.clone());
    let flows_running = flows
        .start(0)
        .await
        .context("starting the Power Platform simulator")?;
    let robots_org = UiPathOrganization {
        seed,
        ..UiPathOrganization::default()
    };
    let robots_running = UiPathSimulator::new(robots_org.clone())
        .start(0)
        .await
        .context("starting the UiPath simulator")?;
    let dt_account = DynatraceAccount {
        seed,
        today,
        ..DynatraceAccount::default()
    };
    let dt_running = DynatraceSimulator::new(dt_account.clone())
        .start(0)
        .await
        .context("starting the Dynatrace simulator")?;
    let ave_tenant = AvePointTenant::default();
    let ave_running = AvePointSimulator::new(ave_tenant.clone())
        .start(0)
        .await
        .context("starting the AvePoint simulator")?;
    let config = format!(
        r#"global:
  poll_interval: 30s
  max_age: 5m
sources:
  - name: demo-qlik-eu
    type: qlik
    base_url: {eu_url}
    authorization:
      credentials: {api_key}
  - name: demo-qlik-us
    type: qlik
    base_url: {us_url}
    oauth2:
      client_id: {client_id}
      client_secret: {client_secret}
    labels: [resource_type, resource_action, period_type, unit]
  - name: demo-flows
    type: powerplatform
    base_url: {flows_url}
    oauth2:
      token_url: {flows_url}/contoso.onmicrosoft.com/oauth2/v2.0/token
      client_id: {flows_client_id}
      client_secret: {flows_client_secret}
    tenant_summary: true
  - name: demo-robots
    type: uipath
    base_url: {robots_url}
    organization_id: {robots_org_id}
    tenant_ids: [{robots_tenants}]
    consumable_codes: [RU, PLTU, AGU, AIU]
    oauth2:
      client_id: {robots_client_id}
      client_secret: {robots_client_secret}
  - name: demo-dynatrace
    type: dynatrace
    base_url: {dt_url}
    account_uuid: {dt_account_uuid}
    subscription_uuid: {dt_subscription_uuid}
    oauth2:
      token_url: {dt_url}/sso/oauth2/token
      client_id: {dt_client_id}
      client_secret: {dt_client_secret}
  - name: demo-avepoint
    type: avepoint
    base_url: {ave_url}
    oauth2:
      token_url: {ave_url}/connect/token
      client_id: {ave_client_id}
      client_secret: {ave_client_secret}
"#,
        eu_url = eu_running.url(),
        us_url = us_running.url(),
        api_key = eu_tenant.api_key,
        client_id = eu_tenant.client_id,
        client_secret = eu_tenant.client_secret,
        flows_url = flows_running.url(),
        flows_client_id = flows_tenant.client_id,
        flows_client_secret = flows_tenant.client_secret,
        robots_url = robots_running.url(),
        robots_org_id = robots_org.organization_id,
        robots_tenants = robots_org.tenant_ids.join(", "),
        robots_client_id = robots_org.client_id,
        robots_client_secret = robots_org.client_secret,
        dt_url = dt_running.url(),
        dt_account_uuid = dt_account.account_uuid,
        dt_subscription_uuid = dt_account.subscription_uuid,
        dt_client_id = dt_account.client_id,
        dt_client_secret = dt_account.client_secret,
        ave_url = ave_running.url(),
        ave_client_id = ave_tenant.client_id,
        ave_client_secret = ave_tenant.client_secret,
    );
    Ok((
        config,
        vec![
            eu_running,
            us_running,
            flows_running,
            robots_running,
            dt_running,
        ],
    ))
}
