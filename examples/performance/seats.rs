//! Seats at the sizes the vendors' APIs reach: a Qlik tenant with 20,000 licence assignments
//! (and their session audit events) and an AvePoint tenant with 10,000 cloud flows and 10,000
//! Power Apps. Each is polled by the exporter binary against a small tenant of the same vendor:
//! the peak resident memory and the poll time show whether the answers fold as they page.

use std::time::{Duration, Instant};

use consumption_exporter::simulator::avepoint::{AvePointSimulator, AvePointTenant};
use consumption_exporter::simulator::qlik::{QlikSimulator, QlikTenant};
use consumption_exporter::simulator::RunningSimulator;

use crate::scrape::{start_exporter, wait_ready};

pub struct SeatFigures {
    pub vendor: &'static str,
    pub items: usize,
    pub baseline_rss: u64,
    pub peak_rss: u64,
    pub poll: Duration,
}

async fn qlik(items: usize) -> anyhow::Result<(RunningSimulator, String)> {
    let tenant = QlikTenant {
        assignments: items,
        ..QlikTenant::default()
    };
    let running = QlikSimulator::new(tenant, Vec::new()).start(0).await?;
    let config = format!(
        "sources:\n  - name: seats\n    type: qlik\n    base_url: {}\n    authorization:\n      credentials: qlik-sim-api-key\n    seats: true\n    seat_activity: true\n    max_pages: 100000\n    poll_timeout: 10m\n",
        running.url()
    );
    Ok((running, config))
}

async fn avepoint(items: usize) -> anyhow::Result<(RunningSimulator, String)> {
    let tenant = AvePointTenant {
        inventory: items,
        ..AvePointTenant::default()
    };
    let running = AvePointSimulator::new(tenant.clone()).start(0).await?;
    let url = running.url();
    let config = format!(
        "sources:\n  - name: seats\n    type: avepoint\n    base_url: {url}\n    oauth2:\n      token_url: {url}/connect/token\n      client_id: {}\n      client_secret: {}\n    seats: true\n    max_pages: 100000\n    poll_timeout: 10m\n",
        tenant.client_id, tenant.client_secret
    );
    Ok((running, config))
}

/// Peak RSS and poll time of the exporter polling `items` seats of `vendor`, and the peak of a
/// tenant of 10.
pub async fn measure(vendor: &'static str, items: usize) -> anyhow::Result<SeatFigures> {
    let client = consumption_exporter::http::build_reqwest_client(&Default::default())?;
    let run = |items: usize| {
        let client = client.clone();
        async move {
            let (_running, config) = match vendor {
                "qlik" => qlik(items).await?,
                _ => avepoint(items).await?,
            };
            let (exporter, addr, _dir) = start_exporter(&config)?;
            let started = Instant::now();
            wait_ready(&client, addr).await?;
            let poll = started.elapsed();
            let metrics = crate::scrape::fetch(&client, addr, false).await?;
            let up = format!("consumption_source_up{{source=\"seats\",vendor=\"{vendor}\"}} 1");
            anyhow::ensure!(
                String::from_utf8_lossy(&metrics).contains(&up),
                "the {vendor} seats poll did not succeed"
            );
            anyhow::Ok((exporter.peak_rss_bytes()?, poll))
        }
    };
    let (baseline_rss, _) = run(10).await?;
    let (peak_rss, poll) = run(items).await?;
    Ok(SeatFigures {
        vendor,
        items,
        baseline_rss,
        peak_rss,
        poll,
    })
}
