//! The Microsoft Graph licence source against its simulator over real HTTP: seats bought and
//! assigned per SKU, exact against the simulator's SKUs (suspended and grace-period units
//! included), the SKU filter, friendly names, a followed nextLink, and a 403 that names the
//! permission to grant.

use consumption_exporter::simulator::microsoft::{MicrosoftSimulator, MicrosoftTenant, SimSku};

use crate::helpers::TestExporter;

pub(crate) fn source(url: &str, tenant: &MicrosoftTenant, extra: &str) -> String {
    format!(
        "sources:\n  - name: m365\n    type: microsoft\n    base_url: {url}\n    max_retries: 0\n    oauth2:\n      token_url: {url}/{}/oauth2/v2.0/token\n      client_id: {}\n      client_secret: {}\n{extra}",
        tenant.tenant_id, tenant.client_id, tenant.client_secret
    )
}

fn sku<'a>(tenant: &'a MicrosoftTenant, part: &str) -> &'a SimSku {
    tenant.skus.iter().find(|s| s.part_number == part).unwrap()
}

#[tokio::test]
async fn seats_bought_and_assigned_per_sku_are_exact_across_pages() {
    let tenant = MicrosoftTenant {
        page_size: Some(3),
        ..MicrosoftTenant::generated(9, 4)
    };
    let running = MicrosoftSimulator::new(tenant.clone())
        .start(0)
        .await
        .unwrap();
    let exporter = TestExporter::start(&source(&running.url(), &tenant, "")).await;
    exporter.assert_polls(0).await;
    let m = exporter.scrape().await;
    let seats = |family: &str, licence: &str| {
        m.get(
            family,
            &[
                ("source", "m365"),
                ("vendor", "microsoft"),
                ("licence", licence),
            ],
        )
    };
    // Every SKU, over three pages of three: the nextLink was followed.
    assert_eq!(m.count("consumption_seats_assigned"), tenant.skus.len());
    let premium = sku(&tenant, "POWERAUTOMATE_ATTENDED_RPA");
    assert_eq!(
        seats("consumption_seats_purchased", "Power Automate Premium"),
        Some(f64::from(premium.enabled))
    );
    assert_eq!(
        seats("consumption_seats_assigned", "Power Automate Premium"),
        Some(f64::from(premium.consumed))
    );
    // Units in their grace period are still bought; suspended ones are not.
    let office = sku(&tenant, "ENTERPRISEPREMIUM");
    assert_eq!(office.warning, 5);
    assert_eq!(
        seats("consumption_seats_purchased", "ENTERPRISEPREMIUM"),
        Some(f64::from(office.enabled + office.warning)),
        "a SKU with no known name is its part number"
    );
    let per_flow = sku(&tenant, "FLOW_BUSINESS_PROCESS");
    assert_eq!(
        seats(
            "consumption_seats_purchased",
            "Power Automate per flow plan"
        ),
        Some(0.0)
    );
    let units = |part: &str, id: &str, licence: &str, state: &str| {
        m.get(
            "consumption_microsoft_sku_units",
            &[
                ("source", "m365"),
                ("sku_id", id),
                ("sku_part_number", part),
                ("licence", licence),
                ("units", state),
            ],
        )
    };
    assert_eq!(
        units(
            "FLOW_BUSINESS_PROCESS",
            &per_flow.sku_id,
            "Power Automate per flow plan",
            "suspended"
        ),
        Some(f64::from(per_flow.suspended))
    );
    assert!(per_flow.suspended > 0);
    // Graph gives no activity per seat: no active or idle seats are claimed.
    assert_eq!(m.count("consumption_seats_idle"), 0);
    assert_eq!(m.count("consumption_seats_active"), 0);
}

#[tokio::test]
async fn the_sku_filter_keeps_what_it_names_and_licence_names_rename() {
    let tenant = MicrosoftTenant::generated(2, 3);
    let running = MicrosoftSimulator::new(tenant.clone())
        .start(0)
        .await
        .unwrap();
    let extra = "    sku_part_numbers: [power_automate_PER_PROCESS]\n    sku_ids: [b30411f5-fea1-4a59-9ad9-3db7c7ead579]\n    licence_names: {POWERAPPS_PER_USER: Apps premium}\n";
    let exporter = TestExporter::start(&source(&running.url(), &tenant, extra)).await;
    exporter.assert_polls(0).await;
    let m = exporter.scrape().await;
    let licences: std::collections::BTreeSet<String> = m
        .samples()
        .filter(|(name, _, _)| *name == "consumption_seats_assigned")
        .filter_map(|(_, labels, _)| {
            labels
                .iter()
                .find(|(k, _)| k == "licence")
                .map(|(_, v)| v.clone())
        })
        .collect();
    assert_eq!(
        licences,
        ["Apps premium", "Power Automate Process"]
            .map(String::from)
            .into()
    );
}

#[tokio::test]
async fn a_budget_on_assigned_seats_reads_the_level() {
    let tenant = MicrosoftTenant::generated(4, 0);
    let running = MicrosoftSimulator::new(tenant.clone())
        .start(0)
        .await
        .unwrap();
    let apps = sku(&tenant, "POWERAPPS_PER_USER");
    let extra = format!(
        "    budgets:\n      - {{name: apps, match: {{sku_part_number: POWERAPPS_PER_USER}}, limit: {}, period: month}}\n",
        apps.consumed.max(1)
    );
    let exporter = TestExporter::start(&source(&running.url(), &tenant, &extra)).await;
    exporter.assert_polls(0).await;
    let m = exporter.scrape().await;
    let labels = [
        ("source", "m365"),
        ("vendor", "microsoft"),
        ("budget", "apps"),
        ("unit", "seats"),
        ("origin", "config"),
    ];
    assert_eq!(
        m.get("consumption_budget_used", &labels),
        Some(f64::from(apps.consumed))
    );
}

#[tokio::test]
async fn a_registration_without_the_permission_names_it() {
    let tenant = MicrosoftTenant {
        forbidden: true,
        ..MicrosoftTenant::generated(1, 0)
    };
    let running = MicrosoftSimulator::new(tenant.clone())
        .start(0)
        .await
        .unwrap();
    let exporter = TestExporter::start(&source(&running.url(), &tenant, "")).await;
    assert!(!exporter.poll(0).await);
    let error = exporter.last_error(0);
    for needed in [
        "HTTP 403",
        "Authorization_RequestDenied",
        "Organization.Read.All",
        "admin consent",
    ] {
        assert!(error.contains(needed), "{needed} not in {error}");
    }
}

#[test]
fn idle_after_is_refused_where_no_seat_activity_is_reported() {
    let tenant = MicrosoftTenant::default();
    let errors = crate::helpers::parse_config_errors(&source(
        "http://127.0.0.1:1",
        &tenant,
        "    idle_after: 30d\n",
    ));
    assert!(
        errors.contains("sources[0].idle_after: microsoft as configured reports no seat activity"),
        "{errors}"
    );
}

/// A hostile SKU page whose `prepaidUnits` is an array: serde would read it by position as
/// enabled and warning units. It is refused as an invalid answer, never served as seats.
#[tokio::test]
async fn prepaid_units_written_as_an_array_fail_the_poll() {
    use consumption_exporter::simulator::{Fault, When};
    let tenant = MicrosoftTenant::generated(9, 2);
    let simulator = MicrosoftSimulator::new(tenant.clone());
    let page = r#"{"value":[{"skuId":"s","skuPartNumber":"POWERAPPS_PER_USER","consumedUnits":3,"prepaidUnits":[10,2]}]}"#;
    simulator
        .faults()
        .inject(When::Page(1), Fault::answer(page), 1);
    let running = simulator.start(0).await.unwrap();
    let exporter = TestExporter::start(&source(&running.url(), &tenant, "")).await;
    assert!(!exporter.poll(0).await);
    let error = exporter.last_error(0);
    assert!(error.contains("expected an object"), "{error}");
    let m = exporter.scrape().await;
    let reason = [
        ("source", "m365"),
        ("vendor", "microsoft"),
        ("reason", "invalid_response"),
    ];
    assert_eq!(m.get("consumption_source_errors_total", &reason), Some(1.0));
    assert_eq!(m.count("consumption_seats_purchased"), 0);
}

/// A tenant's licences are an inventory: `subscribedSkus` is read by the first poll and every
/// `inventory_interval` after; the polls between serve the last read, seats and budgets alike.
#[tokio::test]
async fn the_licences_are_read_once_per_inventory_interval_and_served_in_between() {
    use consumption_exporter::model::clock::FixedClock;
    let tenant = MicrosoftTenant::generated(9, 4);
    let running = MicrosoftSimulator::new(tenant.clone())
        .start(0)
        .await
        .unwrap();
    let noon = crate::helpers::test_today()
        .and_hms_opt(12, 0, 0)
        .unwrap()
        .and_utc();
    let clock = FixedClock::new(noon);
    let yaml = source(&running.url(), &tenant, "");
    let exporter = TestExporter::start_with_clock(&yaml, std::sync::Arc::new(clock.clone())).await;
    let reads = || {
        let requests = running.requests();
        requests
            .iter()
            .filter(|r| r.uri.contains("subscribedSkus"))
            .count()
    };
    let mut seen = 0;
    let mut first = None;
    for (hours, read) in [(0, true), (3, false), (6, true), (7, false)] {
        clock.set(noon + chrono::Duration::hours(hours));
        exporter.assert_polls(0).await;
        assert_eq!(reads() > seen, read, "+{hours}h: subscribedSkus read");
        seen = reads();
        let m = exporter.scrape().await;
        let seats: Vec<String> = m
            .text
            .lines()
            .filter(|l| l.starts_with("consumption_seats_"))
            .map(str::to_owned)
            .collect();
        assert!(!seats.is_empty(), "+{hours}h: seats served");
        assert_eq!(
            *first.get_or_insert(seats.clone()),
            seats,
            "+{hours}h: as read"
        );
    }
}
