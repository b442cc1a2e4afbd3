//! The binary as a user runs it, for every simulated vendor.

use std::process::Command;
use std::time::Duration;

use consumption_exporter::simulator::kit::{self, Scale, SimulatedTenant, TenantSpec};
use consumption_exporter::simulator::{Fault, When};

use crate::helpers::client;
use crate::helpers::free_port;

fn exporter() -> Command {
    Command::new(env!("CARGO_BIN_EXE_consumption_exporter"))
}

fn write_config(dir: &tempfile::TempDir, yaml: &str) -> String {
    let path = dir.path().join("exporter.yml");
    std::fs::write(&path, yaml).unwrap();
    path.display().to_string()
}

/// A small tenant of every simulated vendor, with data up to today: the binary runs on the
/// real clock.
async fn every_vendor(seed: u64) -> Vec<SimulatedTenant> {
    let mut tenants = Vec::new();
    for vendor in kit::VENDORS {
        let spec = TenantSpec {
            seed,
            today: chrono::Utc::now().date_naive(),
            scale: Scale::Small,
        };
        tenants.push(vendor.start(spec).await.unwrap());
    }
    tenants
}

#[tokio::test]
async fn check_prints_the_line_and_column_of_a_typo_for_every_vendor_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    for tenant in every_vendor(1).await {
        let entry = tenant.entry("acme");
        let typo_line = 1 + entry.lines().count() + 1;
        let yaml = format!("sources:\n{entry}    authorisation:\n      credentials: k\n");
        let path = write_config(&dir, &yaml);
        let output = exporter()
            .args(["check", "--config.file", &path])
            .output()
            .unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        let expected = format!(
            "{path}:{typo_line}:5: sources[0].authorisation: {} source: unknown field `authorisation`",
            tenant.type_name()
        );
        assert!(stderr.contains(&expected), "{stderr}");
    }
}

#[tokio::test]
async fn check_accepts_a_good_config_of_every_vendor() {
    let dir = tempfile::tempdir().unwrap();
    let tenants = every_vendor(1).await;
    let entries: String = tenants
        .iter()
        .map(|t| t.entry(&format!("acme-{}", t.type_name())))
        .collect();
    let path = write_config(&dir, &format!("sources:\n{entries}"));
    // Not across a midnight: the schedule names the first unsettled day.
    let mut checked_at = chrono::Utc::now();
    let mut output = exporter()
        .args(["check", "--config.file", &path])
        .output()
        .unwrap();
    if chrono::Utc::now().date_naive() != checked_at.date_naive() {
        checked_at = chrono::Utc::now();
        output = exporter()
            .args(["check", "--config.file", &path])
            .output()
            .unwrap();
    }
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut lines = stdout.lines();
    assert_eq!(
        lines.next(),
        Some(format!("{path}: OK, {} sources", tenants.len()).as_str())
    );
    // Each source's schedule: which days each poll re-reads, where the vendor serves days.
    let settle_before = (checked_at - chrono::TimeDelta::days(3)).date_naive();
    for tenant in &tenants {
        let line = lines.next().unwrap_or_default();
        let schedule = match tenant.revisions().is_some() {
            true => format!("polls every 15m: today by every poll; the unsettled days before today (from {settle_before}) at most every 1h; the whole range every 1day"),
            false => "polls every 15m, each reading the vendor's current state".to_string(),
        };
        assert_eq!(line, format!("  acme-{}: {schedule}", tenant.type_name()));
    }
}

#[tokio::test]
async fn check_prints_each_budgets_current_period() {
    let dir = tempfile::tempdir().unwrap();
    let tenants = every_vendor(1).await;
    let budget = "    budgets:\n      - {name: fy, limit: 100000, period: year, start: 2026-04-01, price: 0.12, currency: EUR}\n";
    let entries: String = tenants
        .iter()
        .map(|t| t.entry(&format!("acme-{}", t.type_name())) + budget)
        .collect();
    let path = write_config(&dir, &format!("sources:\n{entries}"));
    let output = exporter()
        .args(["check", "--config.file", &path])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    for tenant in &tenants {
        let line = format!(
            "  acme-{}: budget fy: limit 100000, 0.12 EUR per unit; current year ",
            tenant.type_name()
        );
        assert!(stdout.contains(&line), "{line} in:\n{stdout}");
    }
    assert!(
        stdout.contains("-04-01 to ") && stdout.contains("-03-31 (ends "),
        "{stdout}"
    );
}

async fn once(path: &str) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_consumption_exporter"))
        .args(["once", "--config.file", path])
        .output()
        .await
        .unwrap()
}

#[tokio::test]
async fn once_prints_the_exposition_and_fails_when_a_source_fails() {
    let (good, bad) = (every_vendor(3).await, every_vendor(4).await);
    for tenant in &bad {
        tenant
            .faults()
            .inject(When::Next, Fault::Status(404), usize::MAX);
    }
    let dir = tempfile::tempdir().unwrap();
    let good_entries: String = good
        .iter()
        .map(|t| t.entry(&format!("good-{}", t.type_name())))
        .collect();
    let up = |stdout: &str, source: &str, vendor: &str, value: u8| {
        let series =
            format!("consumption_source_up{{source=\"{source}\",vendor=\"{vendor}\"}} {value}");
        assert!(stdout.contains(&series), "{series} in:\n{stdout}");
    };

    let output = once(&write_config(&dir, &format!("sources:\n{good_entries}"))).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    for tenant in &good {
        let vendor = tenant.type_name();
        up(&stdout, &format!("good-{vendor}"), vendor, 1);
        let family = format!("consumption_{vendor}_");
        assert!(
            stdout.lines().any(|l| l.starts_with(&family)),
            "{vendor}: no {family}* series"
        );
    }

    let bad_entries: String = bad
        .iter()
        .map(|t| t.entry(&format!("bad-{}", t.type_name())) + "    max_retries: 0\n")
        .collect();
    let path = write_config(&dir, &format!("sources:\n{good_entries}{bad_entries}"));
    let output = once(&path).await;
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    for (good, bad) in good.iter().zip(&bad) {
        let vendor = good.type_name();
        up(&stdout, &format!("good-{vendor}"), vendor, 1);
        up(&stdout, &format!("bad-{}", bad.type_name()), vendor, 0);
        assert!(
            stderr.contains("poll failed") && stderr.contains(&format!("source_name=bad-{vendor}")),
            "{stderr}"
        );
    }
}

#[tokio::test]
async fn the_demo_polls_every_vendor_successfully() {
    let (yaml, _simulators) = consumption_exporter::commands::demo::start_simulators(42)
        .await
        .unwrap();
    // The demo's tenants and budgets are made for the real now.
    let clock = std::sync::Arc::new(consumption_exporter::model::clock::SystemClock);
    let exporter = crate::helpers::TestExporter::start_with_clock(&yaml, clock).await;
    let slots = exporter.store.slots();
    for (i, slot) in slots.iter().enumerate() {
        assert!(
            exporter.poll(i).await,
            "{}: {:?}",
            slot.name,
            slot.state().last_error
        );
    }
    let m = exporter.scrape().await;
    for vendor in kit::VENDORS {
        let prefix = format!("consumption_{}_", vendor.type_name());
        assert!(
            m.text.lines().any(|line| line.starts_with(&prefix)),
            "the demo serves no {prefix}* series"
        );
        assert!(
            slots.iter().any(|s| s.vendor == vendor.type_name()),
            "the demo has no {} source",
            vendor.type_name()
        );
    }
    // The FinOps alerts' conditions: a commitment on course to end under-used past half its
    // period, and a licence that ends within 30 days.
    let now = chrono::Utc::now().timestamp() as f64;
    let underused = m.samples().filter(|(name, labels, ratio)| {
        let of = |family: &str| m.get(family, &labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect::<Vec<_>>());
        *name == "consumption_budget_shortfall_ratio"
            && matches!(
                (of("consumption_budget_forecast"), of("consumption_budget_limit"), of("consumption_budget_period_start_timestamp_seconds"), of("consumption_budget_period_end_timestamp_seconds")),
                (Some(forecast), Some(limit), Some(start), Some(end)) if forecast < ratio * limit && now - start > (end - start) / 2.0
            )
    });
    assert!(
        underused.count() > 0,
        "the demo has a commitment on course to end under-used"
    );
    let ending_soon = m.samples().filter(|(name, _, end)| {
        *name == "consumption_licence_end_timestamp_seconds"
            && (0.0..30.0 * 86_400.0).contains(&(end - now))
    });
    assert!(
        ending_soon.count() > 0,
        "the demo has a licence ending within 30 days"
    );
    // Every vendor's demo budgets show the conditions of every budget alert.
    for vendor in kit::VENDORS {
        let name = vendor.type_name();
        let budgets = demo_budgets(&m, name);
        let any = |test: &dyn Fn(&[f64; 3]) -> bool| budgets.values().any(test);
        assert!(
            any(&|[used, limit, _]| used / limit < 0.5),
            "{name}: a calm budget"
        );
        assert!(
            any(&|[used, limit, _]| (0.8..1.0).contains(&(used / limit))),
            "{name}: a budget near its limit"
        );
        assert!(
            any(&|[used, limit, _]| used > limit),
            "{name}: a budget over its limit"
        );
        if budgets.values().any(|[used, _, forecast]| forecast > used) {
            assert!(
                any(&|[used, limit, forecast]| used < limit && forecast > limit),
                "{name}: a budget forecast to go over"
            );
        }
    }
    // Seats per vendor, summed over its licences.
    let seats = |family: &str, vendor: &str| -> f64 {
        m.samples()
            .filter(|(name, labels, _)| {
                *name == family && labels.contains(&("vendor".to_string(), vendor.to_string()))
            })
            .map(|(_, _, value)| value)
            .sum()
    };
    // Where a vendor reports activity, its demo seats are some idle and some active.
    let mut with_activity = 0;
    for vendor in kit::VENDORS {
        let name = vendor.type_name();
        let assigned = seats("consumption_seats_assigned", name);
        if seats("consumption_seats_active", name) + seats("consumption_seats_idle", name) == 0.0 {
            continue;
        }
        with_activity += 1;
        let idle = seats("consumption_seats_idle", name);
        assert!(
            idle > 0.0 && idle < assigned,
            "{name}: {idle} idle of {assigned}"
        );
    }
    assert!(
        with_activity >= 3,
        "the demo shows idle seats of {with_activity} vendors"
    );
    let priced: f64 = kit::VENDORS
        .iter()
        .map(|v| seats("consumption_seats_idle_cost", v.type_name()))
        .sum();
    assert!(priced > 0.0, "idle seats are priced");
    // The demo's top-level money budget, across sources, is near its limit.
    let top = |family: &str| {
        let labels = [
            ("budget", "demo-spend"),
            ("unit", "EUR"),
            ("origin", "config"),
        ];
        m.get(family, &labels)
            .unwrap_or_else(|| panic!("no {family} of the demo's top-level budget"))
    };
    let ratio = top("consumption_budget_used") / top("consumption_budget_limit");
    assert!(
        (0.8..1.0).contains(&ratio),
        "the demo's top-level budget is at {ratio} of its limit"
    );
}

/// used, limit and forecast of each configured budget of a vendor in the demo, in its own unit.
fn demo_budgets(
    m: &crate::helpers::Exposition,
    vendor: &str,
) -> std::collections::BTreeMap<String, [f64; 3]> {
    let mut budgets = std::collections::BTreeMap::new();
    for line in m
        .text
        .lines()
        .filter(|l| l.starts_with("consumption_budget_"))
    {
        let family = line.split('{').next().unwrap_or_default();
        let index = match family {
            "consumption_budget_used" => 0,
            "consumption_budget_limit" => 1,
            "consumption_budget_forecast" => 2,
            _ => continue,
        };
        if !line.contains(&format!("vendor=\"{vendor}\""))
            || !line.contains("origin=\"config\"")
            || line.contains("unit=\"EUR\"")
        {
            continue;
        }
        let key = line[family.len()..]
            .rsplit_once(' ')
            .map(|(labels, _)| labels.to_string())
            .unwrap_or_default();
        let value: f64 = line
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN);
        budgets.entry(key).or_insert([0.0; 3])[index] = value;
    }
    assert!(!budgets.is_empty(), "{vendor}: the demo has no budgets");
    budgets
}

#[test]
fn the_demo_refuses_a_config_file_instead_of_ignoring_it() {
    let output = exporter()
        .args(["demo", "--config.file", "exporter.yml"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("demo does not use --config.file: the demo makes its own config"),
        "{stderr}"
    );
}

#[test]
fn check_and_once_refuse_the_web_flags_they_would_ignore() {
    for (command, flag) in [
        ("check", "--web.listen-address"),
        ("once", "--web.config.file"),
    ] {
        let output = exporter().args([command, flag, "x"]).output().unwrap();
        assert_eq!(output.status.code(), Some(1), "{command} {flag}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(&format!("{command} does not use {flag}")),
            "{stderr}"
        );
    }
}

#[tokio::test]
async fn the_demo_serves_behind_its_web_config() {
    let dir = tempfile::tempdir().unwrap();
    let hash = bcrypt::hash("demo-password", 4).unwrap();
    let web = dir.path().join("web.yml");
    std::fs::write(&web, format!("basic_auth_users:\n  prometheus: {hash}\n")).unwrap();
    let port = free_port();
    let _demo = tokio::process::Command::new(env!("CARGO_BIN_EXE_consumption_exporter"))
        .args([
            "demo",
            "--web.config.file",
            &web.display().to_string(),
            "--web.listen-address",
            &format!("127.0.0.1:{port}"),
        ])
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/metrics");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let anonymous = loop {
        if let Ok(response) = client().get(&url).send().await {
            break response.status();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the demo did not listen"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(anonymous, 401, "the web config's users are required");
    let authorised = client()
        .get(&url)
        .basic_auth("prometheus", Some("demo-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(authorised.status(), 200);
}

#[test]
fn version_is_printed_in_the_prometheus_form() {
    let output = exporter().arg("--version").output().unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let first = format!(
        "consumption_exporter, version {} (branch: {}, revision: {})",
        env!("CARGO_PKG_VERSION"),
        consumption_exporter::model::build::BRANCH,
        consumption_exporter::model::build::REVISION
    );
    assert_eq!(lines[0], first);
    for (line, key) in
        lines[1..]
            .iter()
            .zip(["build user:", "build date:", "rust version:", "platform:"])
    {
        assert!(line.trim_start().starts_with(key), "{text}");
        let value = line.trim_start()[key.len()..].trim();
        assert!(!value.is_empty() && value != "unknown", "{key} {value:?}");
    }
    assert_eq!(lines.len(), 5, "{text}");
}

/// The demo's first log lines in `format`: the start-up line and a poll's.
async fn demo_log_lines(format: &str) -> Vec<String> {
    let port = free_port();
    let mut demo = tokio::process::Command::new(env!("CARGO_BIN_EXE_consumption_exporter"))
        .args(["demo", "--log.format", format, "--web.listen-address"])
        .arg(format!("127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/-/ready");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while crate::helpers::client()
        .get(&url)
        .send()
        .await
        .map_or(true, |r| r.status() != 200)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the demo never got ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    demo.start_kill().unwrap();
    let output = demo.wait_with_output().await.unwrap();
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn logfmt_lines_are_shaped_as_prometheus_writes_them() {
    let lines = demo_log_lines("logfmt").await;
    let keys = |line: &str| -> Vec<String> {
        // Keys of a logfmt line; quoted values may hold spaces and `=`.
        let mut keys = Vec::new();
        let mut rest = line;
        while let Some((key, after)) = rest.split_once('=') {
            keys.push(key.trim().to_string());
            rest = match after.strip_prefix('"') {
                Some(quoted) => {
                    let end = quoted.find("\" ").map_or(quoted.len(), |i| i + 2);
                    &quoted[end.min(quoted.len())..]
                }
                None => after.split_once(' ').map_or("", |(_, r)| r),
            };
        }
        keys
    };
    let start = lines
        .iter()
        .find(|l| l.contains("msg=listening"))
        .expect("a start-up line");
    assert_eq!(
        keys(start)[..4],
        ["time", "level", "source", "msg"],
        "{start}"
    );
    assert!(start.contains(" level=INFO source=app.rs:"), "{start}");
    let poll = lines
        .iter()
        .find(|l| l.contains("msg=\"poll succeeded\""))
        .expect("a poll line");
    assert!(keys(poll).contains(&"source_name".to_string()), "{poll}");
    assert!(
        poll.contains(" source=poller.rs:"),
        "source is the code location: {poll}"
    );
}

#[tokio::test]
async fn json_lines_are_flat_objects_with_prometheus_keys_first() {
    let lines = demo_log_lines("json").await;
    assert!(lines.len() >= 2, "{lines:?}");
    for line in &lines {
        let object: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let keys: Vec<&str> = object.keys().map(String::as_str).collect();
        assert!(
            object.values().all(|v| !v.is_object() && !v.is_array()),
            "flat: {line}"
        );
        let first: Vec<&str> = line
            .split("\":")
            .take(4)
            .map(|k| k.rsplit('"').next().unwrap_or(""))
            .collect();
        assert_eq!(first, ["time", "level", "source", "msg"], "{line}");
        assert!(keys.contains(&"level"));
    }
    let poll = lines
        .iter()
        .find(|l| l.contains("\"poll succeeded\""))
        .expect("a poll line");
    let poll: serde_json::Value = serde_json::from_str(poll).unwrap();
    assert!(
        poll["source_name"].as_str().unwrap().starts_with("demo-"),
        "{poll}"
    );
    assert!(poll["series"].is_u64(), "numbers stay numbers: {poll}");
}

#[tokio::test]
async fn focus_writes_every_billed_vendors_rows_to_stdout_and_says_what_it_wrote_on_stderr() {
    let tenants = every_vendor(6).await;
    let dir = tempfile::tempdir().unwrap();
    let today = chrono::Utc::now().date_naive();
    let rates = dir.path().join("rates.csv");
    std::fs::write(&rates, kit::demo_rates_file(today)).unwrap();
    let prices: String = kit::VENDORS
        .iter()
        .filter_map(|v| v.demo_price())
        .map(|price| format!("    - {price}\n"))
        .collect();
    let entries: String = tenants.iter().map(|t| t.entry(t.type_name())).collect();
    let yaml = format!(
        "money:\n  currency: EUR\n  rates_file: {}\n  prices:\n{prices}sources:\n{entries}",
        rates.display()
    );
    let path = write_config(&dir, &yaml);
    let (from, to) = (today - chrono::Days::new(9), today - chrono::Days::new(5));
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_consumption_exporter"))
        .args(["focus", "--config.file", &path, "--output", "-"])
        .args(["--from", &from.to_string(), "--to", &to.to_string()])
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let mut reader = csv::Reader::from_reader(stdout.as_bytes());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        consumption_exporter::focus::COLUMNS
    );
    let rows = reader.records().count();
    assert!(rows > 10, "{rows} rows");
    assert!(
        stderr.contains(&format!("wrote stdout: {rows} rows of ")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("focus: {to} (day 5 of 5): ")),
        "{stderr}"
    );
}
