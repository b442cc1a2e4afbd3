//! The fault suite: every source type against each vendor fault. For each, the poll fails
//! without a panic, `up` goes to 0 with the right `reason`, the last good data stays (nothing
//! partial), a healthy source beside it is untouched, and the next poll after the fault recovers.

use consumption_exporter::simulator::kit::{self, Scale, SimulatedTenant, TenantSpec};
use consumption_exporter::simulator::{Fault, When};

use crate::helpers::{test_today, Exposition, TestExporter};

/// What goes wrong, the faults injected for it, and the `reason` the exporter must report.
type FaultCase = (&'static str, Vec<(When, Fault)>, &'static str);

/// Every poll reads everything (`inventory_interval: 0s`): a fault must reach each read.
const LIMITS: &str = "    max_retries: 0\n    request_timeout: 300ms\n    poll_timeout: 5s\n    max_response_bytes: 2000000\n    inventory_interval: 0s\n";

async fn small_tenant(vendor: &dyn kit::SimulatedVendor, seed: u64) -> SimulatedTenant {
    let spec = TenantSpec {
        seed,
        today: test_today(),
        scale: Scale::Small,
    };
    vendor.start(spec).await.unwrap()
}

fn health<'a>(m: &Exposition, source: &'a str, vendor: &'a str, family: &str) -> Option<f64> {
    m.get(family, &[("source", source), ("vendor", vendor)])
}

fn errors(m: &Exposition, vendor: &str, reason: &str) -> Option<f64> {
    m.get(
        "consumption_source_errors_total",
        &[("source", "victim"), ("vendor", vendor), ("reason", reason)],
    )
}

#[tokio::test]
async fn every_source_type_survives_every_vendor_fault_and_recovers() {
    let far_future = "Sun, 01 Jan 2090 00:00:00 GMT";
    let next = |fault| vec![(When::Next, fault)];
    let faults: [FaultCase; 10] = [
        ("a 500", next(Fault::Status(500)), "server_error"),
        (
            "a 429 asking for seconds past the poll timeout",
            next(Fault::Throttle {
                retry_after: "3600".into(),
            }),
            "throttled",
        ),
        (
            "a 429 with an HTTP date",
            next(Fault::Throttle {
                retry_after: far_future.into(),
            }),
            "throttled",
        ),
        (
            "a hung response",
            next(Fault::Delay(std::time::Duration::from_secs(2))),
            "timeout",
        ),
        (
            "malformed JSON",
            next(Fault::MalformedJson),
            "invalid_response",
        ),
        (
            "truncated JSON",
            next(Fault::TruncatedJson),
            "invalid_response",
        ),
        (
            "an HTML page",
            next(Fault::WrongContentType),
            "invalid_response",
        ),
        (
            "a body over max_response_bytes",
            next(Fault::Oversized(3_000_000)),
            "too_large",
        ),
        (
            "a connection reset mid-body",
            next(Fault::ResetMidBody),
            "connection",
        ),
        // A 401 mid-poll makes the exporter refresh its token, from an endpoint that is down.
        (
            "a 401 while the token endpoint is down",
            vec![
                (When::Next, Fault::Status(401)),
                (When::Token, Fault::Status(503)),
            ],
            "token",
        ),
    ];
    for vendor in kit::VENDORS {
        let victim = small_tenant(*vendor, 1).await;
        // A healthy source of the same vendor beside it, on a simulator of its own.
        let bystander = small_tenant(*vendor, 9).await;
        let name = vendor.type_name();
        for (what, injections, reason) in &faults {
            let yaml = format!(
                "sources:\n{}{LIMITS}{}",
                victim.entry("victim"),
                bystander.entry("bystander")
            );
            let exporter = TestExporter::start(&yaml).await;
            assert!(
                exporter.poll(0).await && exporter.poll(1).await,
                "{name} {what}: the first polls"
            );
            let before = exporter.scrape().await;
            let series = health(&before, "victim", name, "consumption_source_series");
            assert!(
                series.is_some_and(|n| n > 0.0),
                "{name}: the victim serves data"
            );

            for (when, fault) in injections {
                victim.faults().inject(*when, fault.clone(), usize::MAX);
            }
            assert!(
                !exporter.poll(0).await,
                "{name} {what}: the poll should fail"
            );
            assert!(
                exporter.poll(1).await,
                "{name} {what}: the bystander still polls"
            );
            let during = exporter.scrape().await;
            let last_error = exporter.store.slots()[0].state().last_error;
            let context = format!("{name} {what}\n{}", last_error.unwrap_or_default());
            let up = |m: &Exposition, source| health(m, source, name, "consumption_source_up");
            assert_eq!(up(&during, "victim"), Some(0.0), "{context}");
            assert_eq!(errors(&during, name, reason), Some(1.0), "{context}");
            assert_eq!(
                health(&during, "victim", name, "consumption_source_series"),
                series,
                "the last good data stays: {context}"
            );
            assert_eq!(up(&during, "bystander"), Some(1.0), "{context}");

            victim.faults().clear();
            assert!(exporter.poll(0).await, "{context}: recovery");
            assert_eq!(
                up(&exporter.scrape().await, "victim"),
                Some(1.0),
                "{context}"
            );
        }
    }
}

#[tokio::test]
async fn every_source_type_reads_empty_and_unexpected_answers_as_data_not_failures() {
    for vendor in kit::VENDORS {
        let victim = small_tenant(*vendor, 1).await;
        let yaml = format!("sources:\n{}{LIMITS}", victim.entry("victim"));
        let name = vendor.type_name();
        for (what, body) in [
            ("an empty result", vendor.empty_answer()),
            ("unexpected and missing fields", vendor.odd_answer()),
        ] {
            let exporter = TestExporter::start(&yaml).await;
            let fault = Fault::Custom {
                status: 200,
                body: body.to_string(),
                retry_after: None,
            };
            victim.faults().inject(When::Usage, fault, usize::MAX);
            let ok = exporter.poll(0).await;
            let last_error = exporter.store.slots()[0].state().last_error;
            let context = format!("{name} {what}: {last_error:?}");
            assert!(ok, "{context}");
            let m = exporter.scrape().await;
            assert_eq!(
                health(&m, "victim", name, "consumption_source_up"),
                Some(1.0),
                "{context}"
            );
            victim.faults().clear();
        }
        // A 401 in the middle of a poll: the token is refreshed once and the poll goes on.
        let exporter = TestExporter::start(&yaml).await;
        assert!(exporter.poll(0).await);
        victim.faults().inject(When::Next, Fault::Status(401), 1);
        assert!(
            exporter.poll(0).await,
            "{name}: a 401 mid-poll: {:?}",
            exporter.store.slots()[0].state().last_error
        );
        victim.faults().clear();
    }
}

#[tokio::test]
async fn a_failed_entitlement_request_fails_the_whole_poll_and_the_next_one_recovers() {
    for vendor in kit::VENDORS.iter().filter(|v| v.has_entitlements()) {
        let victim = small_tenant(*vendor, 1).await;
        let name = vendor.type_name();
        let entry = format!("sources:\n{}{LIMITS}", victim.entry("victim"));
        let exporter = TestExporter::start(&entry).await;
        exporter.assert_polls(0).await;
        let before = exporter.scrape().await;
        let series = health(&before, "victim", name, "consumption_source_series");
        let vendor_budgets = before.text.matches("origin=\"vendor\"").count();
        assert!(
            vendor_budgets > 0,
            "{name}: the small tenant serves its entitlements"
        );

        // Only the entitlement requests fail: the usage pages before them answer.
        victim
            .faults()
            .inject(When::Entitlements, Fault::Status(500), usize::MAX);
        assert!(!exporter.poll(0).await, "{name}: the poll fails whole");
        let during = exporter.scrape().await;
        let context = format!("{name}: {}", exporter.last_error(0));
        assert_eq!(
            errors(&during, name, "server_error"),
            Some(1.0),
            "{context}"
        );
        assert_eq!(
            health(&during, "victim", name, "consumption_source_series"),
            series,
            "nothing of the failed poll is published: {context}"
        );
        assert_eq!(
            during.text.matches("origin=\"vendor\"").count(),
            vendor_budgets,
            "{context}"
        );

        victim.faults().clear();
        exporter.assert_polls(0).await;
    }
}

/// Every vendor's answers in the forms its contract allows and its simulator does not
/// normally send (an unknown field on the answer and every record, whole numbers written as
/// integers, optional members absent instead of null) read exactly as the usual ones: the same
/// vendor series, the same values.
#[tokio::test]
async fn every_source_type_reads_its_contracts_variants_as_it_reads_the_usual_answers() {
    use consumption_exporter::model::clock::FixedClock;
    let noon = test_today().and_hms_opt(12, 0, 0).unwrap().and_utc();
    let vendor_series = |m: &Exposition| -> Vec<String> {
        let mut lines: Vec<String> = m
            .text
            .lines()
            .filter(|l| l.starts_with("consumption_") && !l.starts_with("consumption_source_"))
            .filter(|l| !l.starts_with("consumption_exporter_"))
            .map(str::to_owned)
            .collect();
        lines.sort();
        lines
    };
    for vendor in kit::VENDORS {
        let tenant = small_tenant(*vendor, 5).await;
        let yaml = format!("sources:\n{}{LIMITS}", tenant.entry("s"));
        let mut seen = Vec::new();
        for variants in [false, true] {
            tenant.running.send_contract_variants(variants);
            let clock = std::sync::Arc::new(FixedClock::new(noon));
            let exporter = TestExporter::start_with_clock(&yaml, clock).await;
            exporter.assert_polls(0).await;
            seen.push(vendor_series(&exporter.scrape().await));
        }
        let name = vendor.type_name();
        assert!(!seen[0].is_empty(), "{name} serves series");
        assert_eq!(
            seen[0], seen[1],
            "{name}: the variants read as the usual answers"
        );
        // The variants were sent: the last data request, replayed, answers with them.
        let last = tenant
            .requests()
            .into_iter()
            .rev()
            .find(|r| r.method == "GET");
        if let Some(last) = last {
            let mut again = crate::helpers::client().get(format!("{}{}", tenant.url(), last.uri));
            if let Some(authorization) = last.headers.get("authorization") {
                again = again.header("authorization", authorization.to_str().unwrap());
            }
            let body = again.send().await.unwrap().text().await.unwrap();
            let unknown = consumption_exporter::simulator::variants::UNKNOWN_FIELD;
            assert!(
                body.contains(unknown),
                "{name}: {}",
                &body[..body.len().min(300)]
            );
        }
    }
}
