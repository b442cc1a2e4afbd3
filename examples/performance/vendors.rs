//! Large polls: for each vendor, the exporter binary's `once` polls a big simulated tenant, and
//! then a plain client replays exactly the requests that poll made (recorded by the simulator)
//! and throws the bodies away. The ratio of the two is what decoding and aggregating cost on
//! top of the download. The poll is repeated at a tenth of the size: if memory follows the
//! record count rather than one page plus the aggregates, the two peaks differ.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use consumption_exporter::simulator::avepoint::{generate_rows, AvePointSimulator, AvePointTenant};
use consumption_exporter::simulator::dynatrace::{DynatraceAccount, DynatraceSimulator};
use consumption_exporter::simulator::powerplatform::{
    FlowRecords, PowerPlatformSimulator, PowerPlatformTenant,
};
use consumption_exporter::simulator::qlik::{generate_records, QlikSimulator, QlikTenant};
use consumption_exporter::simulator::uipath::{UiPathOrganization, UiPathSimulator};
use consumption_exporter::simulator::{RecordedRequest, RunningSimulator};
use futures_util::{stream, StreamExt, TryStreamExt};

use crate::processes::{self, Process};

/// A vendor's large tenant, at a scale the benchmark chooses.
#[derive(Clone, Copy)]
pub enum Vendor {
    Qlik,
    PowerPlatform,
    UiPath,
    Dynatrace,
    AvePoint,
}

impl Vendor {
    pub const ALL: [Vendor; 5] = [
        Vendor::Qlik,
        Vendor::PowerPlatform,
        Vendor::UiPath,
        Vendor::Dynatrace,
        Vendor::AvePoint,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Vendor::Qlik => "qlik",
            Vendor::PowerPlatform => "powerplatform",
            Vendor::UiPath => "uipath",
            Vendor::Dynatrace => "dynatrace",
            Vendor::AvePoint => "avepoint",
        }
    }

    /// The large scale, in the vendor's own unit.
    pub fn large_scale(self) -> u64 {
        match self {
            Vendor::Qlik => 3_000,
            Vendor::PowerPlatform => 1_000_000,
            Vendor::UiPath => 500,
            Vendor::Dynatrace => 2_000,
            Vendor::AvePoint => 100_000,
        }
    }

    pub fn scale_unit(self) -> &'static str {
        match self {
            Vendor::Qlik => "users (30 records each)",
            Vendor::PowerPlatform => "flow records",
            Vendor::UiPath => "tenants × 4 consumables",
            Vendor::Dynatrace => "environments × 40 days",
            Vendor::AvePoint => "flows (≈4 connection rows each)",
        }
    }

    /// Requests the source itself keeps in flight, so the plain download gets the same.
    fn concurrency(self) -> usize {
        match self {
            Vendor::UiPath => 4,
            _ => 1,
        }
    }

    /// Starts the simulator with a tenant of `scale`; returns it and the source's config entry.
    async fn start(self, scale: u64) -> anyhow::Result<(RunningSimulator, String)> {
        let today = Utc::now().date_naive();
        let settings = "    poll_timeout: 30m\n    max_pages: 1000000\n";
        Ok(match self {
            Vendor::Qlik => {
                let tenant = QlikTenant {
                    today,
                    ..QlikTenant::default()
                };
                let records = generate_records(3, scale as usize, today);
                let running = QlikSimulator::new(tenant.clone(), records).start(0).await?;
                let entry = format!(
                    "  - name: qlik\n    type: qlik\n    base_url: {}\n{settings}    authorization:\n      credentials: {}\n",
                    running.url(),
                    tenant.api_key
                );
                (running, entry)
            }
            Vendor::PowerPlatform => {
                // Every record on yesterday, which every poll covers (also on the 1st).
                let tenant = PowerPlatformTenant {
                    today: today - chrono::Days::new(1),
                    records: FlowRecords::Generated {
                        seed: 9,
                        per_day: scale,
                        days: 1,
                        environments: 20,
                        users: 5000,
                    },
                    ..PowerPlatformTenant::default()
                };
                let running = PowerPlatformSimulator::new(tenant.clone()).start(0).await?;
                let url = running.url();
                let entry = format!(
                    "  - name: powerplatform\n    type: powerplatform\n    base_url: {url}\n    page_size: 1000\n{settings}    oauth2:\n      token_url: {url}/t/oauth2/v2.0/token\n      client_id: {}\n      client_secret: {}\n",
                    tenant.client_id, tenant.client_secret
                );
                (running, entry)
            }
            Vendor::UiPath => {
                let org = UiPathOrganization {
                    tenant_ids: (0..scale)
                        .map(|i| format!("00000000-0000-4000-8000-{i:012}"))
                        .collect(),
                    ..UiPathOrganization::default()
                };
                let running = UiPathSimulator::new(org.clone()).start(0).await?;
                let entry = format!(
                    "  - name: uipath\n    type: uipath\n    base_url: {}\n    organization_id: {}\n    tenant_ids: [{}]\n    consumable_codes: [RU, PLTU, AGU, AIU]\n{settings}    oauth2:\n      client_id: {}\n      client_secret: {}\n",
                    running.url(),
                    org.organization_id,
                    org.tenant_ids.join(", "),
                    org.client_id,
                    org.client_secret
                );
                (running, entry)
            }
            Vendor::Dynatrace => {
                let account = DynatraceAccount {
                    today,
                    environments: (0..scale).map(|i| format!("env{i:05}")).collect(),
                    ..DynatraceAccount::default()
                };
                let running = DynatraceSimulator::new(account.clone()).start(0).await?;
                let url = running.url();
                let entry = format!(
                    "  - name: dynatrace\n    type: dynatrace\n    base_url: {url}\n    account_uuid: {}\n    subscription_uuid: {}\n    page_size: 20\n{settings}    oauth2:\n      token_url: {url}/sso/oauth2/token\n      client_id: {}\n      client_secret: {}\n",
                    account.account_uuid, account.subscription_uuid, account.client_id, account.client_secret
                );
                (running, entry)
            }
            Vendor::AvePoint => {
                let tenant = AvePointTenant {
                    rows: generate_rows(5, scale as usize),
                    ..AvePointTenant::default()
                };
                let running = AvePointSimulator::new(tenant.clone()).start(0).await?;
                let url = running.url();
                let entry = format!(
                    "  - name: avepoint\n    type: avepoint\n    base_url: {url}\n    page_size: 1000\n{settings}    oauth2:\n      token_url: {url}/connect/token\n      client_id: {}\n      client_secret: {}\n",
                    tenant.client_id, tenant.client_secret
                );
                (running, entry)
            }
        })
    }
}

pub struct PollFigures {
    pub requests: usize,
    pub downloaded_bytes: u64,
    pub download: Duration,
    pub poll: Duration,
    pub series: usize,
    pub peak_rss: u64,
}

/// Polls `vendor` at `scale` with the exporter binary, then downloads the same requests.
pub async fn measure(vendor: Vendor, scale: u64) -> anyhow::Result<PollFigures> {
    let (simulator, entry) = vendor.start(scale).await?;
    let dir = tempfile::tempdir()?;
    let config_path = dir.path().join("exporter.yml");
    std::fs::write(&config_path, format!("sources:\n{entry}"))?;
    let child = Process::spawn(
        Command::new(processes::exporter_binary()?)
            .arg("once")
            .arg("--config.file")
            .arg(&config_path)
            .args(["--log.level", "error"])
            .stdout(Stdio::piped()),
    )?;
    let (status, peak_rss, exposition) =
        tokio::task::spawn_blocking(move || child.wait_with_output_and_peak_rss()).await??;
    anyhow::ensure!(
        status.success(),
        "the {} poll failed ({status}); run `consumption_exporter once` on the config to see why",
        vendor.name()
    );
    let poll = Duration::from_secs_f64(gauge(
        &exposition,
        "consumption_source_poll_duration_seconds",
    )?);
    let series = gauge(&exposition, "consumption_source_series")? as usize;
    let requests = simulator.requests();
    let started = Instant::now();
    let downloaded_bytes = replay(&simulator.url(), &requests, vendor.concurrency()).await?;
    Ok(PollFigures {
        requests: requests.len(),
        downloaded_bytes,
        download: started.elapsed(),
        poll,
        series,
        peak_rss,
    })
}

/// Sends the recorded requests again, as a client that does nothing with the answers would.
async fn replay(
    base_url: &str,
    requests: &[RecordedRequest],
    concurrency: usize,
) -> anyhow::Result<u64> {
    let client = consumption_exporter::http::build_reqwest_client()?;
    let sizes: Vec<u64> = stream::iter(requests)
        .map(|recorded| {
            let mut request = client.request(
                recorded.method.clone(),
                format!("{base_url}{}", recorded.uri),
            );
            for (name, value) in &recorded.headers {
                if name != "host" && name != "content-length" {
                    request = request.header(name, value);
                }
            }
            let request = request.body(recorded.body.clone());
            async move {
                let response = request.send().await?.error_for_status()?;
                anyhow::Ok(response.bytes().await?.len() as u64)
            }
        })
        .buffered(concurrency)
        .try_collect()
        .await?;
    Ok(sizes.iter().sum())
}

/// The value of the first sample of `family` in an exposition.
fn gauge(exposition: &str, family: &str) -> anyhow::Result<f64> {
    exposition
        .lines()
        .filter(|line| line.starts_with(family))
        .find_map(|line| line.rsplit_once(' ')?.1.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no {family} in the exporter's output"))
}
