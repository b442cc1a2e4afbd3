//! A hostile vendor: a Qlik tenant whose every page carries a new, long next-page token, for
//! thousands of pages. The exporter keeps a digest per link it followed, so its memory stays
//! bounded by one page, not by the links of the whole poll.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::Json;

use crate::scrape::{start_exporter, wait_ready};

pub struct LinkFigures {
    pub pages: usize,
    pub link_bytes: usize,
    pub baseline_rss: u64,
    pub peak_rss: u64,
    pub poll: Duration,
}

#[derive(Clone)]
struct Endless {
    pages: usize,
    link_bytes: usize,
    served: Arc<AtomicUsize>,
}

/// Every page has no records and a next token of `link_bytes`, unique to the page, until
/// `pages` pages were served.
async fn page(
    State(endless): State<Endless>,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> Json<serde_json::Value> {
    let number = query
        .get("page")
        .and_then(|token| token.split('-').next()?.parse::<usize>().ok())
        .unwrap_or(0);
    endless.served.fetch_add(1, Ordering::Relaxed);
    let next = number + 1;
    let links = match next < endless.pages {
        true => {
            serde_json::json!({"next": {"token": format!("{next}-{}", "k".repeat(endless.link_bytes))}})
        }
        false => serde_json::json!({}),
    };
    Json(serde_json::json!({"totalCount": 0, "currentPageCount": 0, "data": [], "links": links}))
}

async fn serve(pages: usize, link_bytes: usize) -> anyhow::Result<String> {
    let endless = Endless {
        pages,
        link_bytes,
        served: Arc::default(),
    };
    let router = axum::Router::new()
        .fallback(axum::routing::get(page))
        .with_state(endless);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(format!("http://{addr}"))
}

fn config(url: &str) -> String {
    format!(
        "sources:\n  - name: endless\n    type: qlik\n    base_url: {url}\n    authorization:\n      credentials: k\n    max_pages: 100000\n    poll_timeout: 10m\n"
    )
}

/// Peak resident memory of the exporter polling `pages` pages with unique links of
/// `link_bytes`, against one page of the same tenant.
pub async fn measure(pages: usize, link_bytes: usize) -> anyhow::Result<LinkFigures> {
    let client = consumption_exporter::http::build_reqwest_client(&Default::default())?;
    let peak_after = |pages: usize| {
        let client = client.clone();
        async move {
            let url = serve(pages, link_bytes).await?;
            let (exporter, addr, _dir) = start_exporter(&config(&url))?;
            let started = Instant::now();
            wait_ready(&client, addr).await?;
            let poll = started.elapsed();
            let metrics = crate::scrape::fetch(&client, addr, false).await?;
            anyhow::ensure!(
                String::from_utf8_lossy(&metrics)
                    .contains("consumption_source_up{source=\"endless\",vendor=\"qlik\"} 1"),
                "the endless tenant's poll did not succeed"
            );
            anyhow::Ok((exporter.peak_rss_bytes()?, poll))
        }
    };
    let (baseline_rss, _) = peak_after(1).await?;
    let (peak_rss, poll) = peak_after(pages).await?;
    Ok(LinkFigures {
        pages,
        link_bytes,
        baseline_rss,
        peak_rss,
        poll,
    })
}
