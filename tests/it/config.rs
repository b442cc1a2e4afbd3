//! The config file: what is accepted, and the exact message (with line and column) for each
//! thing that is not.

use std::path::Path;
use std::time::Duration;

use consumption_exporter::config;
use consumption_exporter::http::{AuthConfig, ClientCredential};

fn errors_of(yaml: &str) -> String {
    match config::parse(yaml, "exporter.yml", Path::new(".")) {
        Ok(_) => panic!("config was accepted:\n{yaml}"),
        Err(errors) => errors.to_string(),
    }
}

const GOOD_SOURCE: &str = "  - name: acme\n    type: qlik\n    base_url: https://acme.eu.qlikcloud.com\n    authorization:\n      credentials: k\n";

/// Every bad config under `tests/fixtures/config/bad/` (as blackbox_exporter keeps its
/// `config/testdata`): `NAME.yml` is refused with exactly the message in `NAME.err` beside it,
/// read as if it were `exporter.yml`.
#[test]
fn each_bad_config_is_refused_with_its_line_column_and_reason() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/config/bad");
    let mut cases = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yml") {
            continue;
        }
        let yaml = std::fs::read_to_string(&path).unwrap();
        let expected = std::fs::read_to_string(path.with_extension("err"))
            .unwrap_or_else(|_| panic!("{} has no .err beside it", path.display()));
        assert_eq!(
            errors_of(&yaml),
            expected.trim_end(),
            "for {}:\n{yaml}",
            path.display()
        );
        cases += 1;
    }
    assert!(cases >= 19, "the bad configs were read: {cases}");
}

/// `GOOD_SOURCE` with `extra` (keys indented by four spaces) appended.
fn source_with(extra: &str) -> String {
    format!("sources:\n{GOOD_SOURCE}{extra}")
}

#[test]
fn a_label_repeated_anywhere_in_the_list_is_refused_at_its_position() {
    // Adjacent repeats were caught before; this one, apart, reached /metrics as a duplicate
    // label name and made Prometheus drop the whole scrape.
    assert_eq!(
        errors_of(&source_with("    labels: [user_id, resource_type, user_id]\n")),
        "exporter.yml:7:38: sources[0].labels[2]: qlik source: `user_id` is already listed at labels[0]; list each label once"
    );
    let flows = "sources:\n  - name: flows\n    type: powerplatform\n    authorization:\n      credentials: k\n    labels:\n      - environment_id\n      - flow_context\n      - environment_id\n";
    assert_eq!(
        errors_of(flows),
        "exporter.yml:9:9: sources[0].labels[2]: powerplatform source: `environment_id` is already listed at labels[0]; list each label once"
    );
}

#[test]
fn a_label_the_exporter_adds_itself_cannot_be_configured() {
    for (label, column) in [("period", 20), ("source", 20), ("window", 20)] {
        let errors = errors_of(&source_with(&format!("    labels: [unit, {label}]\n")));
        assert!(
            errors.starts_with(&format!("exporter.yml:7:{column}: sources[0].labels[1]: qlik source: unknown variant `{label}`")),
            "{errors}"
        );
    }
}

#[test]
fn a_static_credential_that_cannot_be_a_header_is_refused_naming_the_source_not_the_value() {
    let yaml = "sources:\n  - name: acme\n    type: qlik\n    base_url: https://acme.eu.qlikcloud.com\n    authorization:\n      credentials: \"key-with\\nnewline\"\n";
    let errors = errors_of(yaml);
    assert!(
        errors.starts_with("exporter.yml:6:7: sources[0].authorization.credentials: source \"acme\": the credential contains a character that cannot be sent in an HTTP header"),
        "{errors}"
    );
    assert!(
        !errors.contains("key-with"),
        "the value is never shown: {errors}"
    );
}

#[test]
fn limits_that_would_fail_every_poll_are_refused_where_they_are_written() {
    let cases = [
        ("    request_timeout: 0s\n", "exporter.yml:7:5: sources[0].request_timeout: the request timeout must be longer than zero: every request would time out"),
        ("    max_response_bytes: 0\n", "exporter.yml:7:5: sources[0].max_response_bytes: max_response_bytes must be at least 1: every response would be refused"),
        ("    max_pages: 0\n", "exporter.yml:7:5: sources[0].max_pages: max_pages must be at least 1: every poll would stop before its first page"),
        ("    max_retries: 1000000\n", "exporter.yml:7:5: sources[0].max_retries: max_retries must be at most 10: more only delay a failure that the next poll retries anyway"),
    ];
    for (extra, expected) in cases {
        assert_eq!(errors_of(&source_with(extra)), expected);
    }
}

#[test]
fn a_bad_global_key_is_reported_at_that_key_once_not_at_every_source() {
    let yaml = format!(
        "global:\n  poll_interval: 0s\n  max_pages: 0\nsources:\n{GOOD_SOURCE}{}",
        GOOD_SOURCE.replace("acme", "beta")
    );
    assert_eq!(
        errors_of(&yaml),
        "exporter.yml:2:3: global.poll_interval: the poll interval must be at least 1s: no vendor's usage changes faster, and every poll costs the vendor's rate limit\n\
         exporter.yml:3:3: global.max_pages: max_pages must be at least 1: every poll would stop before its first page"
    );
}

#[test]
fn every_cross_field_problem_is_reported_not_just_the_first() {
    let yaml = format!(
        "sources:\n{GOOD_SOURCE}{GOOD_SOURCE}  - name: short\n    type: qlik\n    base_url: https://b.eu.qlikcloud.com\n    authorization:\n      credentials: k\n    interval: 1h\n    max_age: 10m\n"
    );
    assert_eq!(
        errors_of(&yaml),
        "exporter.yml:18:5: sources[2].max_age: max_age is shorter than the poll interval plus its 10% jitter (1h 6m): data would vanish between two good polls\n\
         exporter.yml:7:5: sources[1].name: duplicate source name \"acme\": names must be unique (they are the `source` label)"
    );
}

#[test]
fn global_keys_apply_to_every_source_and_a_source_can_override_them() {
    let yaml = format!(
        "global:\n  poll_interval: 1h\n  request_timeout: 10s\n  max_retries: 5\nsources:\n{GOOD_SOURCE}  - name: fast\n    type: qlik\n    base_url: https://b.eu.qlikcloud.com\n    authorization:\n      credentials: k\n    interval: 5m\n    request_timeout: 2s\n"
    );
    let config = config::parse(&yaml, "exporter.yml", Path::new(".")).unwrap();
    let (acme, fast) = (&config.sources[0], &config.sources[1]);
    assert_eq!(acme.schedule.interval, Duration::from_secs(3600));
    assert_eq!(
        acme.schedule.max_age,
        Duration::from_secs(3 * 3600),
        "max_age defaults to 3 intervals"
    );
    assert_eq!(acme.limits.request_timeout, Duration::from_secs(10));
    assert_eq!(acme.limits.max_retries, 5);
    assert_eq!(fast.schedule.interval, Duration::from_secs(300));
    assert_eq!(fast.schedule.max_age, Duration::from_secs(900));
    assert_eq!(fast.limits.request_timeout, Duration::from_secs(2));
    assert_eq!(fast.limits.max_retries, 5);
    assert_eq!(
        fast.schedule.poll_timeout,
        Duration::from_secs(300),
        "the documented default"
    );
}

#[test]
fn secrets_come_from_files_relative_to_the_config_and_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("qlik.key"), "key-from-file\n").unwrap();
    std::env::set_var("CONSUMPTION_EXPORTER_TEST_SECRET", "secret-from-env");
    let yaml = "sources:\n  - name: a\n    type: qlik\n    base_url: https://a.eu.qlikcloud.com\n    authorization:\n      credentials_file: qlik.key\n  - name: b\n    type: qlik\n    base_url: https://b.eu.qlikcloud.com\n    oauth2:\n      client_id: c\n      client_secret: ${CONSUMPTION_EXPORTER_TEST_SECRET}\n";
    std::fs::write(dir.path().join("exporter.yml"), yaml).unwrap();
    let config = config::load(&dir.path().join("exporter.yml")).unwrap();
    let AuthConfig::Static(credential) = &config.sources[0].auth else {
        panic!("static auth expected")
    };
    assert_eq!(
        (credential.scheme.as_str(), credential.credentials.expose()),
        ("Bearer", "key-from-file")
    );
    let AuthConfig::OAuth2(oauth) = &config.sources[1].auth else {
        panic!("oauth2 expected")
    };
    let ClientCredential::Secret(secret) = &oauth.credential else {
        panic!("a client secret expected")
    };
    assert_eq!(secret.expose(), "secret-from-env");
    assert_eq!(
        oauth.token_url.as_str(),
        "https://b.eu.qlikcloud.com/oauth/token",
        "Qlik's token endpoint is on the tenant"
    );
    assert!(!format!("{:?}", config.sources[1].auth).contains("secret-from-env"));
}

#[test]
fn the_shipped_example_config_is_valid() {
    std::env::set_var("QLIK_API_KEY", "example");
    std::env::set_var("QLIK_CLIENT_SECRET", "example");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("exporter.yml");
    if let Err(errors) = config::load(&path) {
        panic!("exporter.yml is invalid:\n{errors}");
    }
}

const UIPATH_SOURCE: &str = "sources:\n  - name: robots\n    type: uipath\n    organization_id: o\n    tenant_ids: [t]\n    consumable_codes: [RU]\n    authorization:\n      credentials: k\n    budgets:\n";

#[test]
fn each_bad_budget_is_refused_at_its_line_and_column() {
    let budget = |lines: &str| {
        format!(
            "{UIPATH_SOURCE}      - name: fy\n        limit: 100\n        period: year\n{lines}"
        )
    };
    let cases = [
        ("        limt: 5\n", "exporter.yml:13:9: sources[0].budgets[0].limt: unknown field `limt`, expected one of `name`, `match`, `limit`, `period`, `start`, `unit`, `price`, `currency`, `warn_ratio`, `shortfall_ratio`"),
        ("        match: {robot: x}\n", "exporter.yml:13:17: sources[0].budgets[0].match.robot: `robot` is not a label of this source's usage: the labels this source keeps are tenant_id, consumable, uipath_service"),
        ("        price: 0.12\n", "exporter.yml:13:9: sources[0].budgets[0].price: a price needs a currency: add `currency` (e.g. EUR), the `unit` of the money series"),
        ("        currency: EUR\n", "exporter.yml:13:9: sources[0].budgets[0].currency: a currency without a price: add `price` (money per unit) or remove currency"),
        ("        start: 2026-13-01\n", "exporter.yml:13:9: sources[0].budgets[0].start: start must be a date as YYYY-MM-DD (the contract's anniversary): input is out of range"),
        ("        warn_ratio: 1.5\n", "exporter.yml:13:9: sources[0].budgets[0].warn_ratio: warn_ratio must be above 0 and at most 1 (a share of the limit)"),
        ("        shortfall_ratio: 0\n", "exporter.yml:13:9: sources[0].budgets[0].shortfall_ratio: shortfall_ratio must be above 0 and at most 1 (the share of the limit a commitment should reach by its period's end)"),
    ];
    for (lines, expected) in cases {
        assert_eq!(errors_of(&budget(lines)), expected, "for:\n{lines}");
    }
    let zero = format!("{UIPATH_SOURCE}      - name: fy\n        limit: 0\n        period: month\n        start: 2026-04-01\n");
    assert_eq!(
        errors_of(&zero),
        "exporter.yml:11:9: sources[0].budgets[0].limit: the limit must be a number above 0\n\
         exporter.yml:13:9: sources[0].budgets[0].start: start anchors quarter and year periods; a month is a UTC calendar month: remove start"
    );
    let fortnight = format!("{UIPATH_SOURCE}      - {{name: a, limit: 1, period: fortnight}}\n");
    assert_eq!(
        errors_of(&fortnight),
        "exporter.yml:10:29: sources[0].budgets[0].period: unknown variant `fortnight`, expected one of `day`, `month`, `quarter`, `year`"
    );
    let twice = format!("{UIPATH_SOURCE}      - {{name: a, limit: 1, period: day}}\n      - {{name: a, limit: 2, period: month}}\n");
    assert_eq!(
        errors_of(&twice),
        "exporter.yml:11:10: sources[0].budgets[1].name: duplicate budget name \"a\": names must be unique within a source (they are the `budget` label)"
    );
}

#[test]
fn a_budget_is_read_with_its_defaults_and_its_period_anchor() {
    let yaml = format!("{UIPATH_SOURCE}      - name: fy\n        match: {{consumable: [RU, PLTU], tenant_id: t}}\n        limit: 100000\n        period: year\n        start: 2026-04-01\n        price: 0.12\n        currency: EUR\n");
    let config = config::parse(&yaml, "exporter.yml", Path::new(".")).unwrap();
    let budget = &config.sources[0].budgets[0];
    assert_eq!(budget.name, "fy");
    assert_eq!(
        budget.matcher,
        vec![
            (
                "consumable".to_string(),
                vec!["RU".to_string(), "PLTU".to_string()]
            ),
            ("tenant_id".to_string(), vec!["t".to_string()]),
        ]
    );
    assert_eq!(budget.warn_ratio, 0.8, "the default warn ratio");
    assert_eq!(
        budget.shortfall_ratio, None,
        "no commitment is watched by default"
    );
    let commitment = format!(
        "{UIPATH_SOURCE}      - {{name: c, limit: 10, period: month, shortfall_ratio: 0.9}}\n"
    );
    let config = config::parse(&commitment, "exporter.yml", Path::new(".")).unwrap();
    let at = chrono::DateTime::parse_from_rfc3339("2027-01-15T00:00:00Z")
        .unwrap()
        .to_utc();
    let described = config.sources[0].budgets[0].describe(at);
    assert!(
        described.starts_with(
            "budget c: limit 10, a commitment: alerts when forecast under 0.9 of it; current month"
        ),
        "{described}"
    );
    assert_eq!(budget.unit, None, "the vendor's unit, found when polled");
    let now = chrono::DateTime::parse_from_rfc3339("2027-01-15T00:00:00Z")
        .unwrap()
        .to_utc();
    assert_eq!(
        budget.describe(now),
        "budget fy: limit 100000, 0.12 EUR per unit; current year 2026-04-01 to 2027-03-31 (ends 2027-04-01T00:00:00Z)"
    );
}

#[test]
fn the_password_grant_needs_a_user_and_its_keys_are_refused_without_it() {
    let oauth = |lines: &str| {
        format!("sources:\n  - name: robots\n    type: uipath\n    organization_id: o\n    tenant_ids: [t]\n    consumable_codes: [RU]\n    oauth2:\n      client_id: c\n{lines}")
    };
    assert_eq!(
        errors_of(&oauth("      client_secret: s\n      username: u\n")),
        "exporter.yml:10:7: sources[0].oauth2.username: `username` is for the password grant: add `grant_type: password`, or remove it"
    );
    assert_eq!(
        errors_of(&oauth("      grant_type: password\n      password: p\n")),
        "exporter.yml:7:5: sources[0].oauth2: missing `username`: the password grant signs in as a user"
    );
    assert_eq!(
        errors_of(&oauth("      grant_type: password\n      username: u\n")),
        "exporter.yml:7:5: sources[0].oauth2: missing `password` or `password_file`"
    );
    let good = oauth("      grant_type: password\n      username: u\n      password_file: pw\n");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), "secret-password\n").unwrap();
    std::fs::write(dir.path().join("exporter.yml"), good).unwrap();
    let config = config::load(&dir.path().join("exporter.yml")).unwrap();
    let AuthConfig::OAuth2(oauth) = &config.sources[0].auth else {
        panic!("oauth2 expected")
    };
    let consumption_exporter::http::Grant::Password { username, password } = &oauth.grant else {
        panic!("the password grant expected")
    };
    assert_eq!(
        (username.as_str(), password.expose()),
        ("u", "secret-password")
    );
    assert!(
        matches!(oauth.credential, ClientCredential::None),
        "a public client"
    );
    assert!(!format!("{:?}", oauth).contains("secret-password"));
}

#[test]
fn defaults_fill_every_source_of_their_type_and_its_own_keys_win() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["a", "b"] {
        std::fs::write(dir.path().join(format!("{name}.secret")), "s\n").unwrap();
    }
    let yaml = "defaults:\n  qlik:\n    interval: 1h\n    oauth2:\n      client_id: shared-client\n      scopes: [admin_classic]\nsources:\n  - name: a\n    type: qlik\n    base_url: https://a.eu.qlikcloud.com\n    oauth2: {client_secret_file: a.secret}\n  - name: b\n    type: qlik\n    base_url: https://b.eu.qlikcloud.com\n    interval: 5m\n    oauth2: {client_id: own-client, client_secret_file: b.secret}\n";
    std::fs::write(dir.path().join("exporter.yml"), yaml).unwrap();
    let config = config::load(&dir.path().join("exporter.yml")).unwrap();
    let (a, b) = (&config.sources[0], &config.sources[1]);
    assert_eq!(
        a.schedule.interval,
        Duration::from_secs(3600),
        "from defaults.qlik"
    );
    assert_eq!(
        b.schedule.interval,
        Duration::from_secs(300),
        "its own key wins"
    );
    let oauth = |source: &config::SourceConfig| match &source.auth {
        AuthConfig::OAuth2(oauth) => (oauth.client_id.clone(), oauth.scopes.clone()),
        _ => panic!("oauth2 expected"),
    };
    assert_eq!(
        oauth(a),
        (
            "shared-client".to_string(),
            vec!["admin_classic".to_string()]
        )
    );
    assert_eq!(
        oauth(b),
        ("own-client".to_string(), vec!["admin_classic".to_string()]),
        "oauth2 merges key by key"
    );
}

#[test]
fn an_error_in_a_default_is_reported_where_the_default_is_written() {
    let errors = errors_of(
        "defaults:\n  qlik:\n    page_size: 5000\n    authorization:\n      credentials_file: /nonexistent/qlik.key\nsources:\n  - name: a\n    type: qlik\n    base_url: https://a.eu.qlikcloud.com\n  - name: b\n    type: qlik\n    base_url: https://b.eu.qlikcloud.com\n",
    );
    let mut lines: Vec<&str> = errors.lines().collect();
    lines.sort_unstable();
    assert_eq!(
        lines.len(),
        2,
        "one error per default, not one per source: {errors}"
    );
    assert!(
        lines[0].starts_with("exporter.yml:3:5: defaults.qlik.page_size: qlik source:"),
        "{errors}"
    );
    assert!(
        lines[1].starts_with("exporter.yml:5:7: defaults.qlik.authorization.credentials_file:"),
        "{errors}"
    );
}

#[test]
fn defaults_for_no_known_type_or_with_keys_no_source_takes_are_refused() {
    let cases: &[(&str, &str)] = &[
        (
            "defaults:\n  qlick:\n    interval: 1h\n",
            "exporter.yml:2:3: defaults.qlick: unknown source type \"qlick\": one of",
        ),
        (
            "defaults:\n  uipath:\n    intervall: 1h\n",
            "exporter.yml:3:5: defaults.uipath.intervall: unknown key `intervall`: not a key of uipath sources",
        ),
        (
            "defaults:\n  qlik:\n    name: shared\n",
            "exporter.yml:3:5: defaults.qlik.name: `name` is set in each source, not in defaults",
        ),
        (
            "defaults:\n  uipath:\n    interval: 2h\n",
            "exporter.yml:2:3: defaults.uipath: no source has `type: uipath`: add one, or remove these defaults",
        ),
        (
            "defaults: [qlik]\n",
            "exporter.yml:1:1: defaults: defaults must map a source type to the keys its sources share",
        ),
    ];
    for (defaults, expected) in cases {
        let errors = errors_of(&format!("{defaults}sources:\n{GOOD_SOURCE}"));
        assert!(
            errors.starts_with(expected),
            "expected {expected:?}\n     got {errors:?}"
        );
    }
}

#[tokio::test]
async fn a_vendor_key_from_defaults_shapes_what_the_source_serves() {
    use consumption_exporter::simulator::qlik::{generate_records, QlikSimulator, QlikTenant};
    let today = crate::helpers::test_today();
    let tenant = QlikTenant {
        today,
        ..QlikTenant::default()
    };
    let key = tenant.api_key.clone();
    let simulator = QlikSimulator::new(tenant, generate_records(3, 4, today))
        .start(0)
        .await
        .unwrap();
    let yaml = format!(
        "defaults:\n  qlik:\n    labels: [resource_type, user_id]\n    authorization: {{credentials: {key}}}\nsources:\n  - name: per-user\n    type: qlik\n    base_url: {}\n",
        simulator.url()
    );
    let exporter = crate::helpers::TestExporter::start(&yaml).await;
    exporter.assert_polls(0).await;
    let exposition = exporter.scrape().await;
    let consumption: Vec<&[(String, String)]> = exposition
        .samples()
        .filter(|(name, _, _)| name.starts_with("consumption_qlik_"))
        .map(|(_, labels, _)| labels)
        .collect();
    assert!(!consumption.is_empty(), "the source served Qlik series");
    assert!(
        consumption
            .iter()
            .any(|labels| labels.iter().any(|(k, _)| k == "user_id")),
        "labels from defaults.qlik split the series by user"
    );
}

#[test]
fn a_changed_default_changes_the_fingerprint_of_its_types_sources_only() {
    let yaml = |qlik_interval: &str| {
        format!(
            "defaults:\n  qlik:\n    interval: {qlik_interval}\n  uipath:\n    consumable_codes: [RU]\nsources:\n{GOOD_SOURCE}  - name: robots\n    type: uipath\n    organization_id: o\n    tenant_ids: [t]\n    authorization:\n      credentials: k\n"
        )
    };
    let parse = |text: String| config::parse(&text, "exporter.yml", Path::new(".")).unwrap();
    let (before, after) = (parse(yaml("1h")), parse(yaml("2h")));
    assert_ne!(
        before.sources[0].fingerprint, after.sources[0].fingerprint,
        "a reload restarts the Qlik source, whose default changed"
    );
    assert_eq!(
        before.sources[1].fingerprint, after.sources[1].fingerprint,
        "and leaves the UiPath source polling"
    );
}

/// A FIFO (or a device) where a file is named is refused before it is opened: `check` and a
/// reload would otherwise wait for a writer forever.
#[test]
fn a_fifo_named_as_a_rates_credentials_or_ca_file_is_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let yaml = "money:\n  currency: EUR\n  rates_file: pipe\nsources:\n  - name: q\n    type: qlik\n    base_url: https://acme.eu.qlikcloud.com\n    authorization:\n      credentials_file: pipe\n  - name: r\n    type: qlik\n    base_url: https://acme.eu.qlikcloud.com\n    authorization:\n      credentials: k\n    tls_config:\n      ca_file: pipe\n  - name: d\n    type: qlik\n    base_url: https://acme.eu.qlikcloud.com\n    authorization:\n      credentials: k\n    tls_config:\n      ca_file: /dev/zero\n".to_string();
    let base = dir.path().to_path_buf();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let result = config::parse(&yaml, "test.yml", &base).map(|_| ());
        let _ = sender.send(result.err().map(|e| e.to_string()));
    });
    let errors = receiver
        .recv_timeout(Duration::from_secs(20))
        .expect("the config was read within 20 s, not blocked on the FIFO")
        .expect("the config was refused");
    for expected in [
        "money.rates_file: ",
        "sources[0].authorization.credentials_file: cannot read",
        "sources[1].tls_config.ca_file: cannot read",
        "sources[2].tls_config.ca_file: cannot read /dev/zero: not a regular file but a device",
    ] {
        assert!(errors.contains(expected), "{expected} not in:\n{errors}");
    }
    assert_eq!(
        errors
            .matches("not a regular file but a FIFO (named pipe)")
            .count(),
        3,
        "{errors}"
    );
}
