//! `--sources.shard=I/N`: replicas on one config split its sources between them, each source
//! polled and served by exactly one, and one more replica takes about its share. And within
//! one process, `max_concurrent_polls`, which a throttled host's sources cannot hog.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Stdio;
use std::time::Duration;

use consumption_exporter::model::shard::Shard;
use consumption_exporter::simulator::kit::{self, Scale, SimulatedTenant, TenantSpec};

use crate::helpers::{client, parse_config, Exposition};

/// `count` sources, the vendors in turn, each on a simulated tenant of its own.
async fn tenants(count: usize) -> Vec<(String, SimulatedTenant)> {
    let mut tenants = Vec::new();
    for i in 0..count {
        let vendor = kit::VENDORS[i % kit::VENDORS.len()];
        let spec = TenantSpec {
            seed: i as u64,
            today: chrono::Utc::now().date_naive(),
            scale: Scale::Small,
        };
        let name = format!("acme-{i:02}-{}", vendor.type_name());
        tenants.push((name, vendor.start(spec).await.unwrap()));
    }
    tenants
}

#[tokio::test]
async fn three_replicas_serve_every_source_exactly_once_and_poll_none_twice() {
    let tenants = tenants(15).await;
    let entries: String = tenants.iter().map(|(name, t)| t.entry(name)).collect();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("exporter.yml");
    std::fs::write(
        &config,
        format!("global:\n  poll_interval: 1h\nsources:\n{entries}"),
    )
    .unwrap();

    let mut replicas = Vec::new();
    for index in 0..3 {
        let port = crate::helpers::free_port();
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_consumption_exporter"))
            .arg("--config.file")
            .arg(&config)
            .arg(format!("--sources.shard={index}/3"))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        replicas.push((port, child));
    }
    // Who serves what, and how many vendor requests each replica says it made per source.
    let mut served: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut requests_said: BTreeMap<String, f64> = BTreeMap::new();
    for (replica, (port, _)) in replicas.iter().enumerate() {
        let ready = format!("http://127.0.0.1:{port}/-/ready");
        crate::e2e::wait_for(
            "a replica to be ready",
            Duration::from_secs(60),
            async || {
                client()
                    .get(&ready)
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == 200)
            },
        )
        .await;
        let text = crate::helpers::get(&format!("http://127.0.0.1:{port}/metrics")).await;
        for (name, labels, value) in Exposition::parse(&text).samples() {
            let source = labels
                .iter()
                .find(|(k, _)| k == "source")
                .map(|(_, v)| v.clone());
            let Some(source) = source else { continue };
            if name == "consumption_source_up" {
                assert_eq!(value, 1.0, "{source} polled successfully");
                served.entry(source.clone()).or_default().push(replica);
            }
            if name == "consumption_source_requests_total" {
                *requests_said.entry(source).or_default() += value;
            }
        }
    }
    let names: BTreeSet<String> = tenants.iter().map(|(name, _)| name.clone()).collect();
    assert_eq!(
        served.keys().cloned().collect::<BTreeSet<_>>(),
        names,
        "every source is served"
    );
    for (source, by) in &served {
        assert_eq!(
            by.len(),
            1,
            "{source} is served by one replica only: {by:?}"
        );
    }
    let per_replica: BTreeSet<usize> = served.values().map(|by| by[0]).collect();
    assert_eq!(
        per_replica.len(),
        3,
        "each replica has some of the 15 sources: {served:?}"
    );
    // Each tenant saw exactly the requests its one replica counted: nobody else polled it.
    for (name, tenant) in &tenants {
        let seen = tenant.requests().len() as f64;
        assert!(seen > 0.0, "{name} was polled");
        assert_eq!(requests_said.get(name), Some(&seen), "{name}: requests");
    }
}

#[test]
fn a_fourth_replica_takes_about_a_quarter_of_the_sources_and_moves_no_others() {
    let entries: String = (0..400)
        .map(|i| format!("  - name: acme-{i:03}\n    type: qlik\n    base_url: http://127.0.0.1:9\n    authorization: {{credentials: k}}\n"))
        .collect();
    let config = parse_config(&format!("sources:\n{entries}"));
    let owner = |name: &str, count: u32| -> u32 {
        (0..count)
            .find(|&index| Shard { index, count }.owns(name))
            .expect("some shard owns every source")
    };
    let moved: Vec<&str> = config
        .sources
        .iter()
        .map(|s| s.name.as_str())
        .filter(|name| owner(name, 3) != owner(name, 4))
        .collect();
    assert!(
        moved.iter().all(|name| owner(name, 4) == 3),
        "moved only to the new replica"
    );
    let share = moved.len() as f64 / 400.0;
    assert!(
        (0.18..0.32).contains(&share),
        "{share} of the sources moved"
    );
    let kept: usize = (0..4)
        .map(|index| {
            config
                .clone()
                .of_shard(Shard { index, count: 4 })
                .sources
                .len()
        })
        .sum();
    assert_eq!(kept, 400, "the four shards together hold every source once");
}

#[tokio::test]
async fn no_more_than_max_concurrent_polls_are_in_flight() {
    use consumption_exporter::simulator::{Fault, When};
    let mut tenants = Vec::new();
    for seed in 0..6 {
        let spec = TenantSpec {
            seed,
            today: crate::helpers::test_today(),
            scale: Scale::Small,
        };
        let tenant = kit::VENDORS[0].start(spec).await.unwrap();
        // Slow answers, so that polls overlap if nothing holds them back.
        tenant
            .faults()
            .inject(When::Next, Fault::Delay(Duration::from_millis(400)), 100);
        tenants.push(tenant);
    }
    let entries: String = (0..6)
        .map(|i| tenants[i].entry(&format!("slow-{i}")))
        .collect();
    let exporter = crate::helpers::TestExporter::start(&format!(
        "global:\n  poll_interval: 1h\n  max_concurrent_polls: 2\nsources:\n{entries}"
    ))
    .await;
    let polled = exporter.poll_all_in_slots().await;
    assert_eq!(polled, [true; 6], "every slow poll succeeds");
    assert_eq!(
        exporter.store.most_polls_in_flight(),
        2,
        "two polls at a time, never more"
    );
    let text = crate::helpers::get(&exporter.url("/metrics")).await;
    assert!(
        text.contains("\nconsumption_exporter_polls_in_flight 0\n"),
        "none once every poll ended"
    );
}

#[tokio::test]
async fn sources_of_a_throttled_host_wait_without_holding_the_poll_slots() {
    use consumption_exporter::simulator::{Fault, When};
    let spec = |seed| TenantSpec {
        seed,
        today: crate::helpers::test_today(),
        scale: Scale::Small,
    };
    let mut entries = String::new();
    let mut tenants = Vec::new();
    // Listed first, so they take the two slots first.
    for i in 0..4 {
        let tenant = kit::VENDORS[0].start(spec(i)).await.unwrap();
        tenant.faults().inject(
            When::Next,
            Fault::Throttle {
                retry_after: "6".into(),
            },
            1,
        );
        entries.push_str(&tenant.entry(&format!("throttled-{i}")));
        tenants.push(tenant);
    }
    for i in 0..2 {
        let tenant = kit::VENDORS[0].start(spec(10 + i)).await.unwrap();
        entries.push_str(&tenant.entry(&format!("healthy-{i}")));
        tenants.push(tenant);
    }
    let exporter = crate::helpers::RunningExporter::start(&format!(
        "global:\n  poll_interval: 1h\n  max_concurrent_polls: 2\nsources:\n{entries}"
    ))
    .await;
    let up_of = |text: &str| -> BTreeMap<String, f64> {
        Exposition::parse(text)
            .samples()
            .filter(|(name, _, _)| *name == "consumption_source_up")
            .filter_map(|(_, labels, value)| {
                let source = labels.iter().find(|(k, _)| k == "source")?.1.clone();
                Some((source, value))
            })
            .collect()
    };
    let metrics = format!("http://{}/metrics", exporter.addr);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let up = loop {
        let up = up_of(&crate::helpers::get(&metrics).await);
        if up.contains_key("healthy-0") && up.contains_key("healthy-1") {
            break up;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the healthy sources never polled: {up:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(up["healthy-0"], 1.0);
    assert_eq!(up["healthy-1"], 1.0);
    for i in 0..4 {
        assert!(
            !up.contains_key(&format!("throttled-{i}")),
            "the healthy sources waited until the throttled ones had waited out Retry-After: {up:?}"
        );
    }
    let ready = format!("http://{}/-/ready", exporter.addr);
    while crate::helpers::status_of(ready.clone()).await != 200 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the throttled polls never ended"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let up = up_of(&crate::helpers::get(&metrics).await);
    assert!(
        up.values().all(|v| *v == 1.0),
        "once the wait is over every source has polled: {up:?}"
    );
}
