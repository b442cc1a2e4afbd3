//! `consumption_exporter backfill`: a bad request fails before any request is sent, a vendor
//! failure part-way leaves no file, and end to end with the real tools: 35 days backfilled
//! from the simulators, loaded by `promtool tsdb create-blocks-from openmetrics`, queried in a
//! real Prometheus.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use chrono::{Days, NaiveDate, Utc};
use consumption_exporter::commands::backfill::{self, Range, Request};
use consumption_exporter::simulator::kit::{Scale, SimulatedTenant, TenantSpec, VENDORS};
use consumption_exporter::simulator::uipath::{daily_amount, UiPathOrganization, CONSUMABLES};
use consumption_exporter::simulator::{Fault, When};

use crate::e2e::{query_at, start_prometheus};
use crate::helpers::at;
use crate::helpers::parse_config;
use crate::helpers::{program, run_tool};

const SEED: u64 = 5;

async fn tenants(today: NaiveDate) -> Vec<SimulatedTenant> {
    let mut tenants = Vec::new();
    for vendor in VENDORS {
        let spec = TenantSpec {
            seed: SEED,
            today,
            scale: Scale::Small,
        };
        tenants.push(vendor.start(spec).await.unwrap());
    }
    tenants
}

fn config_text(tenants: &[SimulatedTenant]) -> String {
    let entries: String = tenants.iter().map(|t| t.entry(t.type_name())).collect();
    format!("sources:\n{entries}")
}

fn assert_nothing_asked(tenants: &[SimulatedTenant]) {
    for tenant in tenants {
        let asked = tenant.requests().len();
        assert_eq!(asked, 0, "{} was asked {asked} times", tenant.type_name());
    }
}

#[tokio::test]
async fn an_unknown_source_or_a_bad_range_fails_before_any_request() {
    let tenants = tenants(Utc::now().date_naive()).await;
    let config = parse_config(&config_text(&tenants));
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("backfill.om");
    let range = Range::parse(
        "2026-11-01",
        "2026-11-02",
        Duration::from_secs(3600),
        at("2026-12-01T00:00:00Z"),
    )
    .unwrap();
    let request = Request {
        range,
        sources: vec!["uipath".into(), "nonesuch".into()],
        labels: Vec::new(),
        output: output.clone(),
    };
    let error = backfill::run(&config, &request, &mut Vec::new())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("unknown source nonesuch: the config has qlik, powerplatform"),
        "{error}"
    );
    assert_nothing_asked(&tenants);
    assert!(!output.exists());

    let binary = env!("CARGO_BIN_EXE_consumption_exporter");
    let config_file = dir.path().join("exporter.yml");
    std::fs::write(&config_file, config_text(&tenants)).unwrap();
    let run = Command::new(binary)
        .args(["backfill", "--config.file"])
        .arg(&config_file)
        .args(["--from", "2026-12-02", "--to", "2026-11-01", "--output"])
        .arg(&output)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success());
    assert!(
        stderr
            .contains("--from 2026-12-02 00:00:00 UTC is not before --to 2026-11-01 00:00:00 UTC"),
        "{stderr}"
    );
    assert_nothing_asked(&tenants);
}

#[tokio::test]
async fn an_output_or_a_label_that_cannot_be_written_fails_before_any_request() {
    let tenants = tenants(Utc::now().date_naive()).await;
    let config = parse_config(&config_text(&tenants));
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("a-fifo");
    let fifo_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path; mkfifo only creates the node.
    assert_eq!(unsafe { libc::mkfifo(fifo_path.as_ptr(), 0o600) }, 0);
    let range = Range::parse(
        "2026-11-01",
        "2026-11-02",
        Duration::from_secs(3600),
        at("2026-12-01T00:00:00Z"),
    )
    .unwrap();
    let label = |text: &str| backfill::parse_label(text).unwrap();
    let file = dir.path().join("backfill.om");
    // The output, the labels, and what the error says.
    type Case = (PathBuf, Vec<(String, String)>, String);
    let cases: Vec<Case> = vec![
        (
            dir.path().to_path_buf(),
            Vec::new(),
            format!("--output {} exists and is not a regular file", dir.path().display()),
        ),
        (
            fifo.clone(),
            Vec::new(),
            format!("--output {} exists and is not a regular file", fifo.display()),
        ),
        (
            dir.path().join("missing/backfill.om"),
            Vec::new(),
            format!("the directory {} does not exist", dir.path().join("missing").display()),
        ),
        (
            file.clone(),
            vec![label("job=a"), label("job=b")],
            "--label job is given twice".to_string(),
        ),
        (
            file.clone(),
            vec![label("window=x")],
            "--label window: source powerplatform (powerplatform) has series with a window label already".to_string(),
        ),
        (
            file.clone(),
            vec![label("tenant_id=x")],
            "--label tenant_id: source uipath (uipath) has series with a tenant_id label already".to_string(),
        ),
    ];
    for (output, labels, expected) in cases {
        let request = Request {
            range,
            sources: Vec::new(),
            labels,
            output: output.clone(),
        };
        let error = backfill::run(&config, &request, &mut Vec::new())
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains(&expected), "{error}\nexpected: {expected}");
        assert_nothing_asked(&tenants);
    }
    use std::os::unix::fs::FileTypeExt;
    let fifo_kind = std::fs::symlink_metadata(&fifo).unwrap().file_type();
    assert!(fifo_kind.is_fifo(), "the FIFO is still a FIFO");
    assert!(!file.exists());
}

/// Progress that injects a fault into a tenant once the command reports `day`.
pub struct FailOn<'t> {
    pub tenant: &'t SimulatedTenant,
    pub day: String,
    pub seen: String,
}

impl Write for FailOn<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.seen.push_str(&String::from_utf8_lossy(buf));
        if self.seen.contains(&self.day) {
            self.tenant
                .faults()
                .inject(When::Next, Fault::Status(400), usize::MAX);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_vendor_failure_part_way_names_the_source_and_the_time_and_leaves_no_file() {
    let today = Utc::now().date_naive();
    let tenants = tenants(today).await;
    let config = parse_config(&config_text(&tenants));
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("backfill.om");
    let from = today - Days::new(5);
    let range = Range::parse(
        &from.to_string(),
        "now",
        Duration::from_secs(6 * 3600),
        Utc::now(),
    )
    .unwrap();
    let victim = tenants
        .iter()
        .find(|t| t.type_name() == "dynatrace")
        .unwrap();
    let third_day = (from + Days::new(2)).to_string();
    let mut progress = FailOn {
        tenant: victim,
        day: format!("backfill: {third_day} (day 3 of 6)"),
        seen: String::new(),
    };
    let error = backfill::run(
        &config,
        &Request {
            range,
            sources: Vec::new(),
            labels: Vec::new(),
            output: output.clone(),
        },
        &mut progress,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        error.starts_with(&format!(
            "source dynatrace (dynatrace): backfill failed at {third_day}T06:00:00Z: page 1:"
        )),
        "{error}"
    );
    assert!(
        error.ends_with(&format!("{} was not written", output.display())),
        "{error}"
    );
    assert!(!output.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no temporary file is left"
    );
    assert!(
        progress
            .seen
            .contains("source qlik (qlik): skipped: its vendor's API reports the present state"),
        "{}",
        progress.seen
    );
    assert!(
        progress
            .seen
            .contains("source avepoint (avepoint): skipped"),
        "{}",
        progress.seen
    );
}

fn promtool(args: &[&str], dir: &Path) -> String {
    run_tool(program(&["promtool"], "prometheus"), args, dir)
}

#[ignore = "needs prometheus and promtool: ./scripts/test.sh installs and runs it"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_five_backfilled_days_load_into_a_real_prometheus_and_answer_queries() {
    // A missing Prometheus fails the test first, naming its package.
    program(&["prometheus"], "prometheus");
    let now = Utc::now();
    let today = now.date_naive();
    let tenants = tenants(today).await;
    let dir = tempfile::tempdir().unwrap();
    let config_file = dir.path().join("exporter.yml");
    std::fs::write(&config_file, config_text(&tenants)).unwrap();
    let from = today - Days::new(35);
    let output = dir.path().join("backfill.om");

    // 1. Backfill 35 days from the simulators.
    let run = Command::new(env!("CARGO_BIN_EXE_consumption_exporter"))
        .args(["backfill", "--config.file"])
        .arg(&config_file)
        .args([
            "--from",
            &from.to_string(),
            "--step",
            "1h",
            "--label",
            "job=consumption_exporter",
            "--output",
        ])
        .arg(&output)
        // The spool is beside the output, not in $TMPDIR (often a tmpfs in memory).
        .env("TMPDIR", dir.path().join("no-such-tmpdir"))
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("backfill: {from} (day 1 of 36)")),
        "{stderr}"
    );
    assert!(stderr.contains("source qlik (qlik): skipped"), "{stderr}");
    let text = std::fs::read_to_string(&output).unwrap();
    assert!(text.ends_with("# EOF\n"));
    assert_eq!(
        text.matches("# TYPE consumption_uipath_consumed_units gauge")
            .count(),
        1,
        "each family once"
    );
    assert!(
        !text.contains("consumption_source_up"),
        "no health families"
    );

    // 2. promtool makes blocks of it.
    let data = dir.path().join("data");
    promtool(
        &[
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            output.to_str().unwrap(),
            data.to_str().unwrap(),
        ],
        dir.path(),
    );

    // 3. A real Prometheus on those blocks.
    let prom_config = dir.path().join("prometheus.yml");
    std::fs::write(&prom_config, "global: {scrape_interval: 1h}\n").unwrap();
    let (_prometheus, prometheus) = start_prometheus(&prom_config, &data).await;

    // 4. Twenty days ago at noon, yesterday's window is the simulator's amount of the day before.
    let day = today - Days::new(20);
    let noon = day.and_hms_opt(12, 0, 0).unwrap().and_utc();
    let tenant = &UiPathOrganization::default().tenant_ids[0];
    let services = CONSUMABLES
        .iter()
        .find(|(code, _)| *code == "RU")
        .unwrap()
        .1;
    let series = query_at(
        &prometheus,
        r#"consumption_uipath_consumed_units{job="consumption_exporter",window="yesterday"}"#,
        noon,
    )
    .await;
    assert_eq!(series.len(), services.len(), "{series:?}");
    for service in services {
        let found = series
            .iter()
            .find(|s| {
                s["metric"]["uipath_service"] == *service
                    && s["metric"]["tenant_id"] == tenant.as_str()
            })
            .unwrap_or_else(|| panic!("no series for {service}: {series:?}"));
        let value: f64 = found["value"][1].as_str().unwrap().parse().unwrap();
        let expected = daily_amount(SEED, tenant, "RU", service, day - Days::new(1));
        assert_eq!(value, expected, "{service} on {}", day - Days::new(1));
    }

    // 5. A range query over the backfilled days: one point per step.
    let (start, end) = (
        from.and_hms_opt(0, 0, 0).unwrap().and_utc(),
        (today - Days::new(1))
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc(),
    );
    let response = crate::helpers::json_of(
        crate::helpers::client()
            .get(format!("{prometheus}/api/v1/query_range"))
            .query(&[
                (
                    "query",
                    r#"consumption_uipath_consumed_units{window="today",uipath_service="studio"}"#,
                ),
                ("start", &start.timestamp().to_string()),
                ("end", &end.timestamp().to_string()),
                ("step", "3600"),
            ]),
    )
    .await;
    let result = response["data"]["result"].as_array().unwrap();
    assert_eq!(result.len(), 1, "{response}");
    let points = result[0]["values"].as_array().unwrap().len() as i64;
    assert_eq!(points, (end - start).num_hours() + 1);
}

/// `backfill --label` refuses the names a backfilled series has already, from what each source
/// says it serves; this holds each source to it: every label the demo's sources serve (every
/// vendor, entitlements and budgets on) is among them.
#[tokio::test]
async fn every_label_a_source_serves_is_one_it_declares() {
    let (demo, _tenants) = consumption_exporter::commands::demo::start_simulators(SEED)
        .await
        .unwrap();
    let config = parse_config(&demo);
    let exporter = crate::helpers::TestExporter::start(&demo).await;
    for i in 0..config.sources.len() {
        exporter.assert_polls(i).await;
    }
    let exposition = exporter.scrape().await;
    let mut checked = 0;
    for (family, labels, _) in exposition.samples() {
        let Some(source) = labels
            .iter()
            .find(|(name, _)| name == "source")
            .and_then(|(_, value)| config.sources.iter().find(|s| &s.name == value))
        else {
            continue;
        };
        if family.starts_with("consumption_source_") {
            continue;
        }
        let showback = config
            .showback
            .as_ref()
            .expect("the demo has money and teams");
        let declared: Vec<&str> = match family {
            f if f.starts_with("consumption_budget_") => {
                consumption_exporter::budgets::LABEL_NAMES.to_vec()
            }
            "consumption_seats_idle_cost" => {
                let mut names = consumption_exporter::seats::LABEL_NAMES.to_vec();
                names.push("currency");
                names
            }
            f if f.starts_with("consumption_seats_")
                || f == "consumption_licence_end_timestamp_seconds" =>
            {
                consumption_exporter::seats::LABEL_NAMES.to_vec()
            }
            "consumption_usage" | "consumption_cost" => {
                let mut names = consumption_exporter::showback::LABEL_NAMES.to_vec();
                names.extend(showback.dimensions.iter().map(|d| d.name.as_str()));
                names
            }
            _ => source.source.facts().label_names.clone(),
        };
        for (name, _) in labels.iter().filter(|(name, _)| name != "source") {
            assert!(
                declared.contains(&name.as_str()),
                "{family} of {} ({}) has the label {name}, which label_names() does not list: {declared:?}",
                source.name,
                source.vendor
            );
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} labels were checked");
}
