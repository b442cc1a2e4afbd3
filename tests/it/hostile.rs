//! What hostile vendors send, through every source type: a token lifetime that is not a
//! number, 200 answers of the wrong shape, a `Retry-After` already past, and a bug that panics
//! in a poll. Each case once killed a source or served an empty tenant as a healthy one.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use consumption_exporter::http::PollSession;
use consumption_exporter::model::clock::Clock;
use consumption_exporter::model::snapshot::Snapshot;
use consumption_exporter::simulator::kit::{self, Scale, SimulatedTenant, TenantSpec};
use consumption_exporter::simulator::{Fault, When};
use consumption_exporter::sources::{Facts, PollError, PollPlan, Probe, Source};

use crate::helpers::{parse_config, test_today, Exposition, RunningExporter, TestExporter};

/// Every poll reads everything (`inventory_interval: 0s`): a fault must reach each read.
const LIMITS: &str = "    max_retries: 0\n    request_timeout: 2s\n    poll_timeout: 5s\n    inventory_interval: 0s\n";

async fn small_tenant(vendor: &dyn kit::SimulatedVendor) -> SimulatedTenant {
    let spec = TenantSpec {
        seed: 1,
        today: test_today(),
        scale: Scale::Small,
    };
    vendor.start(spec).await.unwrap()
}

fn up(m: &Exposition, vendor: &str) -> Option<f64> {
    m.get(
        "consumption_source_up",
        &[("source", "victim"), ("vendor", vendor)],
    )
}

fn errors(m: &Exposition, vendor: &str, reason: &str) -> Option<f64> {
    m.get(
        "consumption_source_errors_total",
        &[("source", "victim"), ("vendor", vendor), ("reason", reason)],
    )
}

#[tokio::test]
async fn a_token_lifetime_that_is_not_a_number_is_read_as_unknown_and_the_poll_goes_on() {
    for vendor in kit::VENDORS {
        let victim = small_tenant(*vendor).await;
        let name = vendor.type_name();
        let yaml = format!("sources:\n{}{LIMITS}", victim.entry("victim"));
        let exporter = TestExporter::start(&yaml).await;
        victim
            .faults()
            .inject(When::Token, Fault::token_lifetime_not_a_number(), 1);
        // The unknown token is refused, the exporter asks for another, and the poll succeeds.
        exporter.assert_polls(0).await;
        let m = exporter.scrape().await;
        assert_eq!(up(&m, name), Some(1.0), "{name}");
    }
}

#[tokio::test]
async fn an_answer_of_the_wrong_shape_fails_the_poll_instead_of_emptying_the_tenant() {
    for vendor in kit::VENDORS {
        let victim = small_tenant(*vendor).await;
        let name = vendor.type_name();
        let yaml = format!("sources:\n{}{LIMITS}", victim.entry("victim"));
        for body in vendor.wrong_shape_answers() {
            let exporter = TestExporter::start(&yaml).await;
            exporter.assert_polls(0).await;
            let before = exporter.scrape().await;
            victim
                .faults()
                .inject(When::Next, Fault::answer(body), usize::MAX);
            let failed = !exporter.poll(0).await;
            victim.faults().clear();
            let context = format!("{name}, a 200 of {body}: {}", exporter.last_error(0));
            assert!(failed, "{context}");
            let during = exporter.scrape().await;
            assert_eq!(up(&during, name), Some(0.0), "{context}");
            assert_eq!(
                errors(&during, name, "invalid_response"),
                Some(1.0),
                "{context}"
            );
            let series = |m: &Exposition| {
                m.get(
                    "consumption_source_series",
                    &[("source", "victim"), ("vendor", name)],
                )
            };
            assert_eq!(
                series(&during),
                series(&before),
                "the last good data stays: {context}"
            );
        }
    }
}

#[tokio::test]
async fn a_retry_after_already_past_waits_the_backoff_and_the_error_names_the_real_limit() {
    for vendor in kit::VENDORS {
        let victim = small_tenant(*vendor).await;
        let name = vendor.type_name();
        let yaml = format!(
            "sources:\n{}    max_retries: 0\n    request_timeout: 2s\n    poll_timeout: 3s\n    inventory_interval: 0s\n",
            victim.entry("victim")
        );
        let exporter = TestExporter::start(&yaml).await;
        exporter.assert_polls(0).await;
        let before = victim.requests().len();
        victim
            .faults()
            .inject(When::Next, Fault::throttle_until_the_past(), usize::MAX);
        assert!(!exporter.poll(0).await, "{name}: the poll is throttled");
        victim.faults().clear();
        let error = exporter.last_error(0);
        // Each request is sent again after the backoff's steps (0.25–0.5 s, 0.5–1 s, 1–2 s,
        // …), which fit at most four tries of one request in 3 s; without them, the
        // throttle-wait cap (11 tries) is spent at once.
        let mut tries = std::collections::HashMap::<String, usize>::new();
        for request in &victim.requests()[before..] {
            *tries.entry(request.uri.clone()).or_default() += 1;
        }
        let most = tries.values().copied().max().unwrap_or(0);
        assert!(
            (2..=4).contains(&most),
            "{name}: a request was tried {most} times in a 3 s poll: {tries:?}\n{error}"
        );
        assert!(
            error.contains("does not fit in the poll timeout"),
            "{name}: {error}"
        );
        let m = exporter.scrape().await;
        assert_eq!(errors(&m, name, "throttled"), Some(1.0), "{name}: {error}");
    }
}

/// A source that panics in its next `panics` polls, then polls as `inner` does: a bug, as the
/// engine meets it.
pub(crate) struct PanickingSource {
    pub(crate) inner: Arc<dyn Source>,
    pub(crate) panics: AtomicUsize,
}

#[async_trait]
impl Source for PanickingSource {
    fn facts(&self) -> &Facts {
        self.inner.facts()
    }

    fn probes(&self, session: &PollSession<'_>, now: DateTime<Utc>) -> Vec<Probe> {
        self.inner.probes(session, now)
    }

    async fn poll(
        &self,
        session: &PollSession<'_>,
        clock: &dyn Clock,
        plan: PollPlan,
    ) -> Result<Snapshot, PollError> {
        let panics = self.panics.load(Ordering::SeqCst);
        if panics > 0 {
            self.panics.store(panics - 1, Ordering::SeqCst);
            panic!("a bug in a vendor decoder");
        }
        self.inner.poll(session, clock, plan).await
    }

    fn billing(
        &self,
        base_url: &url::Url,
        token_url: Option<&url::Url>,
    ) -> Option<consumption_exporter::model::billing::Billing> {
        self.inner.billing(base_url, token_url)
    }
}

// On one thread, so the test's log subscriber sees the exporter's tasks.
#[tokio::test(flavor = "current_thread")]
async fn a_panic_in_a_poll_fails_that_poll_and_the_next_interval_polls_again() {
    let vendor = kit::VENDORS[0];
    let name = vendor.type_name();
    let victim = small_tenant(vendor).await;
    let mut config = parse_config(&format!(
        "sources:\n{}    interval: 1s\n    max_age: 1h\n",
        victim.entry("victim")
    ));
    let source = &mut config.sources[0];
    source.source = Arc::new(PanickingSource {
        inner: source.source.clone(),
        panics: AtomicUsize::new(1),
    });
    let (logs, _logging) = crate::helpers::capture_logs();

    let exporter = RunningExporter::start_with_config(config).await;
    let failed = exporter
        .scrape_until(Duration::from_secs(10), |m| up(m, name) == Some(0.0))
        .await;
    assert_eq!(errors(&failed, name, "panic"), Some(1.0), "{}", failed.text);
    let log = logs.text();
    let line = log
        .lines()
        .find(|l| l.contains("poll failed"))
        .unwrap_or_else(|| panic!("no poll failure logged:\n{log}"));
    assert!(line.contains("level=ERROR"), "{line}");
    assert!(line.contains("reason=panic"), "{line}");
    assert!(line.contains("a bug in a vendor decoder"), "{line}");
    // The task lives on: the next interval polls, and the source is up again.
    exporter
        .scrape_until(Duration::from_secs(10), |m| up(m, name) == Some(1.0))
        .await;
}
