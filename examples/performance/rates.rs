//! A rates file's cost: the exporter binary idle with one small Qlik source and a `money:`
//! block, with fixed rates and then with an ECB-shaped history file (every weekday since
//! 1999 × 41 currencies, as the ECB publishes it), and again just after a reload reads the
//! file anew.

use std::process::{Command, Stdio};
use std::time::Duration;

use chrono::{Datelike, Days, NaiveDate, Utc, Weekday};
use consumption_exporter::simulator::qlik::QlikTenant;

use crate::processes::Process;

pub struct RatesFigures {
    pub days: usize,
    pub currencies: usize,
    pub file_bytes: usize,
    pub fixed_rss: u64,
    pub file_rss: u64,
    pub reload_rss: u64,
    pub settled_rss: u64,
}

/// The currencies of the ECB's history file (legacy ones included).
const CODES: [&str; 41] = [
    "USD", "JPY", "BGN", "CYP", "CZK", "DKK", "EEK", "GBP", "HUF", "LTL", "LVL", "MTL", "PLN",
    "ROL", "RON", "SEK", "SIT", "SKK", "CHF", "ISK", "NOK", "HRK", "RUB", "TRL", "TRY", "AUD",
    "BRL", "CAD", "CNY", "HKD", "IDR", "ILS", "INR", "KRW", "MXN", "MYR", "NZD", "PHP", "SGD",
    "THB", "ZAR",
];
const CURRENCIES: usize = CODES.len();

/// An ECB-shaped history: newest first, a trailing comma, a rate per currency per weekday.
fn history(today: NaiveDate) -> (String, usize) {
    let mut text = format!("Date,{},\n", CODES.join(","));
    let first = NaiveDate::from_ymd_opt(1999, 1, 4).unwrap_or(today);
    let mut day = today;
    let mut days = 0;
    while day >= first {
        if !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
            text.push_str(&day.to_string());
            for i in 0..CURRENCIES {
                let rate = 0.5 + (i as f64) * 3.7 + (days % 97) as f64 / 1000.0;
                text.push_str(&format!(",{rate:.4}"));
            }
            text.push_str(",\n");
            days += 1;
        }
        day = day - Days::new(1);
    }
    (text, days)
}

fn config(qlik_url: &str, money: &str) -> String {
    format!(
        "global:\n  poll_interval: 1h\n{money}sources:\n  - name: qlik\n    type: qlik\n    base_url: {qlik_url}\n    authorization:\n      credentials: {}\n",
        QlikTenant::default().api_key
    )
}

async fn idle_rss(config: &str) -> anyhow::Result<(Process, u64, tempfile::TempDir)> {
    let (exporter, addr, dir) = crate::scrape::start_exporter(config)?;
    let client = consumption_exporter::http::build_reqwest_client(&Default::default())?;
    crate::scrape::wait_ready(&client, addr).await?;
    crate::scrape::fetch(&client, addr, false).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss = exporter.rss_bytes()?;
    Ok((exporter, rss, dir))
}

pub async fn measure() -> anyhow::Result<RatesFigures> {
    let mut simulator = Process::spawn(
        Command::new(std::env::current_exe()?)
            .args([crate::SERVE_QLIK_FLAG, "0"])
            .stdout(Stdio::piped()),
    )?;
    let url = simulator.read_line()?;
    let dir = tempfile::tempdir()?;
    let (text, days) = history(Utc::now().date_naive());
    let file = dir.path().join("eurofxref-hist.csv");
    std::fs::write(&file, &text)?;
    let fixed = "money:\n  currency: EUR\n  rates: {USD: 0.9}\n";
    let (_fixed, fixed_rss, _fixed_dir) = idle_rss(&config(&url, fixed)).await?;
    let with_file = format!(
        "money:\n  currency: EUR\n  rates_file: {}\n",
        file.display()
    );
    let (exporter, file_rss, _file_dir) = idle_rss(&config(&url, &with_file)).await?;
    // SIGHUP: the exporter reads the config and the file again.
    let status = Command::new("kill")
        .args(["-HUP", &exporter.pid().to_string()])
        .status()?;
    anyhow::ensure!(status.success(), "kill -HUP failed");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let reload_rss = exporter.rss_bytes()?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let settled_rss = exporter.rss_bytes()?;
    Ok(RatesFigures {
        days,
        currencies: CURRENCIES,
        file_bytes: text.len(),
        fixed_rss,
        file_rss,
        reload_rss,
        settled_rss,
    })
}
