//! The server against a bare axum JSON route, measured side by side in one run, and a login
//! storm's effect on other routes' p99. Goal: authenticated GET >= 0.8x bare axum.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

const WORKERS: usize = 16;

async fn serve_bare() -> SocketAddr {
    // What the server's answer looks like, with none of its work behind it.
    let body = json!({"id": "0123456789abcdef0123456789abcdef", "name": "web", "org_id": "o", "owner_id": "u",
        "state": "running", "exit_code": null, "image": "img", "cpus": 1.0, "memory": 67108864, "labels": {}, "created_at": 0});
    let app = axum::Router::new().route(
        "/v1/instances/{instance}",
        axum::routing::get(move || async move { axum::Json(body.clone()) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// Requests per second from `WORKERS` keep-alive clients over `secs`, and the latencies seen.
async fn drive(url: &str, token: Option<&str>, secs: f64) -> (f64, Vec<Duration>) {
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..WORKERS {
        let (url, token, stop, count) = (
            url.to_string(),
            token.map(str::to_string),
            stop.clone(),
            count.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut latencies = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let mut req = client.get(&url);
                if let Some(t) = &token {
                    req = req.bearer_auth(t);
                }
                let started = Instant::now();
                let res = req.send().await.unwrap();
                assert!(res.status().is_success(), "{}", res.status());
                res.bytes().await.unwrap();
                latencies.push(started.elapsed());
                count.fetch_add(1, Ordering::Relaxed);
            }
            latencies
        }));
    }
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    (
        count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64(),
        all,
    )
}

fn p99(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[(v.len() * 99 / 100).min(v.len() - 1)]
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Wrong-password logins for unknown emails from 64 loopback addresses, until stopped.
fn storm(base: String, stop: Arc<AtomicBool>) -> Vec<tokio::task::JoinHandle<u64>> {
    (0..64u8)
        .map(|i| {
            let (base, stop) = (base.clone(), stop.clone());
            tokio::spawn(async move {
                let client = reqwest::Client::builder()
                    .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 1, i + 1)))
                    .build()
                    .unwrap();
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let body = json!({"email": format!("storm-{i}-{n}@example.com"), "password": "wrong horse battery"});
                    let _ = client.post(format!("{base}/v1/auth/login")).json(&body).send().await;
                    n += 1;
                }
                n
            })
        })
        .collect()
}

#[tokio::main]
async fn main() {
    let rounds: usize = std::env::var("NUBES_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let secs = 2.0;
    let dir = tempfile::tempdir().unwrap();
    let config = nubes_server::Config {
        database_url: format!("sqlite://{}", dir.path().join("nubes.db").display()),
        compute: Some("memory://?images=img".into()),
        ..Default::default()
    };
    let base = nubes_testing::serve(nubes_server::state(&config).await.unwrap()).await;
    let bare = format!(
        "http://{}/v1/instances/0123456789abcdef0123456789abcdef",
        serve_bare().await
    );

    let client = reqwest::Client::new();
    let token = nubes_testing::sign_in(&client, &base, "bench@example.com").await;
    let created = nubes_testing::json(
        client
            .post(format!("{base}/v1/instances"))
            .bearer_auth(&token)
            .json(&json!({"name": "web", "image": "img", "cpus": 1.0, "memory": 64 << 20})),
    )
    .await;
    let url = format!("{base}/v1/instances/{}", created["id"].as_str().unwrap());

    let (mut nubes, mut raw) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        // Alternate who goes first so warm-up favours nobody.
        if round % 2 == 0 {
            nubes.push(drive(&url, Some(&token), secs).await.0);
            raw.push(drive(&bare, None, secs).await.0);
        } else {
            raw.push(drive(&bare, None, secs).await.0);
            nubes.push(drive(&url, Some(&token), secs).await.0);
        }
    }
    let (n, b) = (median(nubes), median(raw));

    let (_, calm) = drive(&url, Some(&token), 3.0).await;
    let stop = Arc::new(AtomicBool::new(false));
    let stormers = storm(base.clone(), stop.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (stormy_rps, stormy) = drive(&url, Some(&token), 3.0).await;
    stop.store(true, Ordering::Relaxed);
    let mut logins = 0;
    for s in stormers {
        logins += s.await.unwrap();
    }
    let (calm_p99, storm_p99) = (p99(calm), p99(stormy));

    println!("\nServer vs bare axum: medians of {rounds} interleaved rounds, {WORKERS} keep-alive clients, {secs}s each\n");
    println!("| route | req/s | ratio | goal |");
    println!("|---|---|---|---|");
    println!(
        "| authenticated GET /v1/instances/{{instance}} (nubes) | {n:.0} | {:.3} | >= 0.8x bare axum |",
        n / b
    );
    println!("| GET, bare axum JSON | {b:.0} | 1.000 | |");
    println!("\nLogin storm ({logins} wrong-password logins from 64 addresses in 3 s) vs the same GET:\n");
    println!("| | p99 | req/s |");
    println!("|---|---|---|");
    println!("| calm | {:.2} ms | - |", calm_p99.as_secs_f64() * 1e3);
    println!(
        "| during the storm | {:.2} ms | {stormy_rps:.0} |",
        storm_p99.as_secs_f64() * 1e3
    );
    println!(
        "| p99 ratio (storm/calm) | {:.2} | |",
        storm_p99.as_secs_f64() / calm_p99.as_secs_f64()
    );
}
