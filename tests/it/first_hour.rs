//! The "first hour" page of every vendor (docs/first-hour/<vendor>.md) shows exactly what
//! `check --online` prints for a good setup and for that vendor's typical bad one, run here
//! against the vendor's simulator. `<host>` stands for the simulator's address and times read
//! as they came; `UPDATE_FIRST_HOUR=1 cargo test --test it first_hour` rewrites the blocks.

use std::path::PathBuf;

use consumption_exporter::commands::online::{check_online, table};
use consumption_exporter::simulator::kit::{
    Credentials, Scale, SimulatedVendor, TenantSpec, VENDORS,
};
use consumption_exporter::simulator::{Fault, When};

use crate::helpers::parse_config;

/// Each vendor's typical first-hour mistake.
enum Mistake {
    /// The client secret is wrong or expired.
    Secret,
    /// The credential is accepted but lacks what the endpoints `When` covers need.
    Forbidden(When),
}

/// The instant every page's output is made at, so that the URLs' dates stay put.
fn at() -> chrono::DateTime<chrono::Utc> {
    "2026-03-16T10:00:00Z".parse().unwrap()
}

/// Each vendor's most common first-hour mistake; a vendor without a row fails the test that
/// writes its page.
fn typical_mistake(vendor: &str) -> Mistake {
    match vendor {
        "qlik" => Mistake::Forbidden(When::Entitlements),
        "powerplatform" => Mistake::Secret,
        "uipath" => Mistake::Forbidden(When::Entitlements),
        "dynatrace" => Mistake::Forbidden(When::Next),
        "avepoint" => Mistake::Secret,
        "microsoft" => Mistake::Forbidden(When::Next),
        other => {
            panic!("{other} has no typical first-hour mistake: add its row to typical_mistake")
        }
    }
}

/// What `check --online` prints for the vendor's simulated tenant, good or with its mistake.
async fn printed(vendor: &dyn SimulatedVendor, mistaken: bool) -> String {
    let spec = TenantSpec {
        seed: 1,
        today: at().date_naive(),
        scale: Scale::Small,
    };
    let tenant = vendor.start(spec).await.unwrap();
    let name = format!("{}-prod", vendor.type_name());
    let entry = match (mistaken, typical_mistake(vendor.type_name())) {
        (true, Mistake::Secret) => tenant
            .entry_with(&name, &Credentials::WrongClientSecret)
            .unwrap(),
        (true, Mistake::Forbidden(when)) => {
            tenant.faults().inject(when, Fault::Status(403), 100);
            tenant.entry(&name)
        }
        (false, _) => tenant.entry(&name),
    };
    let config = parse_config(&format!("sources:\n{entry}"));
    let calls = check_online(&config, at()).await.unwrap();
    table(&calls).replace(&tenant.url(), "<host>")
}

/// The text with each `<digits>ms` read as `ms`: times vary from run to run.
fn without_times(text: &str) -> String {
    let mut out = String::new();
    let mut digits = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        if c != 'm' || digits.is_empty() {
            out.push_str(&digits);
        }
        digits.clear();
        out.push(c);
    }
    out.push_str(&digits);
    out
}

/// The fenced block after `<!-- check-online: {which} -->` in the page, and where it sits.
fn block(page: &str, which: &str) -> Option<(usize, usize)> {
    let marker = format!("<!-- check-online: {which} -->\n```text\n");
    let start = page.find(&marker)? + marker.len();
    let end = start + page[start..].find("```")?;
    Some((start, end))
}

#[tokio::test]
async fn every_first_hour_page_shows_what_check_online_prints_for_a_good_and_a_bad_setup() {
    let update = std::env::var_os("UPDATE_FIRST_HOUR").is_some();
    for vendor in VENDORS {
        let name = vendor.type_name();
        let path =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("docs/first-hour/{name}.md"));
        let mut page =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for (which, mistaken) in [("good", false), ("bad", true)] {
            let output = printed(*vendor, mistaken).await;
            let explained = output.lines().filter(|l| l.starts_with("    ")).count();
            assert_eq!(
                explained > 0,
                mistaken,
                "a failure, explained, only in the bad setup: {output}"
            );
            let (start, end) = block(&page, which).unwrap_or_else(|| {
                panic!(
                    "{}: no `<!-- check-online: {which} -->` block",
                    path.display()
                )
            });
            if update {
                page.replace_range(start..end, &output);
            } else {
                assert_eq!(
                    without_times(&page[start..end]),
                    without_times(&output),
                    "{}: the {which} block differs from what check --online prints; UPDATE_FIRST_HOUR=1 rewrites it",
                    path.display()
                );
            }
        }
        if update {
            std::fs::write(&path, page).unwrap();
        }
    }
}

#[test]
fn every_first_hour_page_names_each_endpoint_its_vendor_calls() {
    for source_type in consumption_exporter::sources::TYPES {
        let name = source_type.name();
        let path =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("docs/first-hour/{name}.md"));
        let page = std::fs::read_to_string(&path)
            .unwrap_or_else(|_| panic!("{name}: add {}", path.display()));
        let endpoints = endpoints_of(name);
        for endpoint in endpoints {
            assert!(
                page.contains(&format!("| {} |", endpoint.name)),
                "{}: a row `| {} |` in its grants table",
                path.display(),
                endpoint.name
            );
        }
    }
}

/// The vendor's endpoint table, from a source the simulator's entry configures.
fn endpoints_of(vendor: &str) -> &'static [consumption_exporter::sources::Endpoint] {
    let simulated =
        consumption_exporter::simulator::kit::vendor(vendor).expect("a simulator per vendor");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let spec = TenantSpec {
            seed: 1,
            today: chrono::Utc::now().date_naive(),
            scale: Scale::Small,
        };
        let tenant = simulated.start(spec).await.unwrap();
        parse_config(&format!("sources:\n{}", tenant.entry("x"))).sources[0]
            .source
            .facts()
            .endpoints
    })
}
