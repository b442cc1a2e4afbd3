//! Scrapes under load: many concurrent keep-alive clients while polls keep swapping snapshots,
//! and a client that never finishes its request.

use std::time::Duration;

use consumption_exporter::simulator::qlik::{generate_records, QlikSimulator, QlikTenant};
use tokio::io::AsyncWriteExt;

use crate::helpers::{client, qlik_source, test_today, Exposition, TestExporter};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_scrapes_during_snapshot_swaps_all_get_complete_expositions() {
    let tenant = QlikTenant {
        today: test_today(),
        ..QlikTenant::default()
    };
    let simulator = QlikSimulator::new(tenant, generate_records(1, 20, test_today()));
    let running = simulator.start(0).await.unwrap();
    let exporter = std::sync::Arc::new(
        TestExporter::start(&format!(
            "sources:\n{}",
            qlik_source("acme", &running.url(), "")
        ))
        .await,
    );
    assert!(exporter.poll(0).await);

    // A client that sends half a request and then nothing, held open throughout.
    let mut stalled = tokio::net::TcpStream::connect(exporter.addr).await.unwrap();
    stalled
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: exporter\r\n")
        .await
        .unwrap();

    // Polls that keep replacing the data with differently sized snapshots.
    let polls_done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let poller = {
        let (exporter, simulator, done) = (exporter.clone(), simulator.clone(), polls_done.clone());
        tokio::spawn(async move {
            for round in 0..20u64 {
                simulator.set_records(generate_records(
                    round,
                    5 + (round as usize % 4) * 10,
                    test_today(),
                ));
                assert!(exporter.poll(0).await);
            }
            done.store(true, std::sync::atomic::Ordering::SeqCst);
        })
    };
    let url = exporter.url("/metrics");
    let mut scrapers = Vec::new();
    for _ in 0..16 {
        let (url, http, done) = (url.clone(), client(), polls_done.clone());
        scrapers.push(tokio::spawn(async move {
            let mut sizes = std::collections::BTreeSet::new();
            let mut scrapes = 0;
            // Scrape for as long as the polls go on, and at least 25 times.
            while scrapes < 25 || !done.load(std::sync::atomic::Ordering::SeqCst) {
                scrapes += 1;
                let body = http.get(&url).send().await.unwrap().text().await.unwrap();
                // Complete: parses line by line, ends with a newline and with the last family.
                let parsed = Exposition::parse(&body);
                assert!(body.ends_with('\n'));
                assert_eq!(
                    parsed.get(
                        "consumption_source_up",
                        &[("source", "acme"), ("vendor", "qlik")]
                    ),
                    Some(1.0)
                );
                assert!(body.contains("\nconsumption_exporter_build_info{"));
                sizes.insert(body.len());
            }
            sizes
        }));
    }
    let mut sizes_seen = std::collections::BTreeSet::new();
    for scraper in scrapers {
        let sizes = tokio::time::timeout(Duration::from_secs(60), scraper)
            .await
            .expect("scrapers finished despite the stalled client")
            .unwrap();
        sizes_seen.extend(sizes);
    }
    poller.await.unwrap();
    assert!(
        sizes_seen.len() > 1,
        "the scrapes saw several snapshots, not one"
    );
    drop(stalled);
}
