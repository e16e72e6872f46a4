//! Usage-event ingest: Nubes' journal (durable, idempotent, group-committed) against a batch
//! `INSERT … ON CONFLICT DO NOTHING` of the same events into each database, in one run.
//! Goals: 10x the batch, and 200k events/s per core of CPU the ingest used.
//!
//! Event to visible balance: tenants stop and start instances through the REST API of a
//! billing server, each timing a transition until `GET /v1/billing/balance` shows what it
//! settled, against the raw backend (the same memory provider's stop plus one database
//! transaction that writes the event and the balance). Goal: p99 within 1 s. Reported, not
//! asserted.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nubes_billing::journal::{Appended, Entry, Journal, Options};
use nubes_billing::{Resources, Transition};
use nubes_server::Db;
use nubes_testing::{json, sign_in, Scratch};
use serde_json::json;

const PRODUCERS: usize = 32;
const INSTANCES: usize = 1_000;
const BATCH: usize = 100;
/// Batches per producer; every tenth is sent twice, as a producer retrying would.
const BATCHES: usize = 120;

/// One producer's batches: its instances' events in order, with replays.
fn batches(producer: usize) -> Vec<Vec<(String, u64)>> {
    let mine: Vec<usize> = (producer..INSTANCES).step_by(PRODUCERS).collect();
    let mut seq = vec![0u64; mine.len()];
    let mut out = Vec::new();
    let mut n = 0;
    for b in 0..BATCHES {
        let batch: Vec<(String, u64)> = (0..BATCH)
            .map(|_| {
                let k = n % mine.len();
                n += 1;
                seq[k] += 1;
                (format!("nubes-{}", mine[k]), seq[k])
            })
            .collect();
        out.push(batch.clone());
        if b % 10 == 9 {
            out.push(batch);
        }
    }
    out
}

fn events() -> usize {
    PRODUCERS * (BATCHES + BATCHES / 10) * BATCH
}

/// CPU time this process has used (user + system), from /proc.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    let fields: Vec<&str> = stat.rsplit_once(") ").expect("stat").1.split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

struct Run {
    wall: Duration,
    cpu: Duration,
}

impl Run {
    fn rate(&self) -> f64 {
        events() as f64 / self.wall.as_secs_f64()
    }
    fn per_core(&self) -> f64 {
        events() as f64 / self.cpu.as_secs_f64().max(0.01)
    }
}

async fn journal(dir: &std::path::Path) -> Run {
    let journal = Journal::open(dir, Options::default()).unwrap();
    let work: Vec<_> = (0..PRODUCERS).map(batches).collect();
    let (cpu, started) = (cpu_time(), Instant::now());
    let tasks: Vec<_> = work
        .into_iter()
        .map(|batches| {
            let journal = journal.clone();
            tokio::spawn(async move {
                let mut dropped = 0;
                for batch in batches {
                    let entries = batch
                        .into_iter()
                        .map(|(instance, seq)| Entry {
                            instance,
                            seq: Some(seq),
                            transition: Transition::Started,
                            at: 1_800_000_000 + seq as i64,
                            size: Resources::new(1000, 1 << 30, 0, 0),
                        })
                        .collect();
                    let got = journal.append(entries).await.unwrap();
                    dropped += got
                        .iter()
                        .filter(|a| matches!(a, Appended::Duplicate { .. }))
                        .count();
                }
                dropped
            })
        })
        .collect();
    let mut dropped = 0;
    for t in tasks {
        dropped += t.await.unwrap();
    }
    let run = Run {
        wall: started.elapsed(),
        cpu: cpu_time() - cpu,
    };
    assert_eq!(
        dropped,
        PRODUCERS * (BATCHES / 10) * BATCH,
        "replays dropped"
    );
    run
}

async fn batch_insert(db: &Db) -> Run {
    let work: Vec<_> = (0..PRODUCERS).flat_map(batches).collect();
    let (cpu, started) = (cpu_time(), Instant::now());
    let mut tx = db.pool().begin().await.unwrap();
    for batch in work {
        let mut sql = String::from(
            "INSERT INTO usage_events (backend_id, seq, transition, at, millicpus, memory) VALUES ",
        );
        for (n, (instance, seq)) in batch.iter().enumerate() {
            if n > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "('{instance}', {seq}, 'started', {}, 1000, {})",
                1_800_000_000 + *seq as i64,
                1u64 << 30
            ));
        }
        sql.push_str(" ON CONFLICT (backend_id, seq) DO NOTHING");
        sqlx::query(&sql).execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();
    Run {
        wall: started.elapsed(),
        cpu: cpu_time() - cpu,
    }
}

async fn compare(name: &str, url: &str, ours: &Run) {
    let db = Db::connect(url).await.unwrap();
    let theirs = batch_insert(&db).await;
    println!(
        "| {name} | {:.0}/s ({:.0}/s/core) | {:.0}/s | {:.1}x |",
        ours.rate(),
        ours.per_core(),
        theirs.rate(),
        ours.rate() / theirs.rate()
    );
}

const TENANTS: usize = 16;
const ROUNDS: usize = 40;

#[derive(Debug)]
struct Clock(AtomicI64);

impl nubes_server::billing::Clock for Clock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

async fn tenant(base: &str, n: usize) -> (String, String) {
    // Each from an address of its own, as the sign-in routes limit attempts per address.
    let client = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 1, n as u8 + 1]))
        .build()
        .unwrap();
    let token = sign_in(&client, base, &format!("t{n}@example.com")).await;
    let body = json!({"name": "web", "image": "img", "cpus": 0.5, "memory": 256 << 20});
    let made = json(
        client
            .post(format!("{base}/v1/instances"))
            .bearer_auth(&token)
            .json(&body),
    )
    .await;
    (token, made["id"].as_str().expect("created").to_string())
}

async fn balance(client: &reqwest::Client, base: &str, token: &str) -> String {
    let b = json(
        client
            .get(format!("{base}/v1/billing/balance"))
            .bearer_auth(token),
    )
    .await;
    b["credits"].as_str().unwrap().to_string()
}

/// Stops or starts (`action`) instance `id`.
async fn transition(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    id: &str,
    action: &str,
) -> reqwest::Response {
    client
        .post(format!("{base}/v1/instances/{id}/{action}"))
        .bearer_auth(token)
        .json(&json!({}))
        .send()
        .await
        .unwrap()
}

/// Each stop's time until the balance shows it, with every tenant at it at once.
async fn ours(url: &str, journal: &std::path::Path) -> Vec<Duration> {
    let clock = Arc::new(Clock(AtomicI64::new(1_800_000_000)));
    let config = nubes_server::Config {
        database_url: url.to_string(),
        compute: Some("memory://?images=img".into()),
        billing: true,
        usage_journal: Some(journal.to_path_buf()),
        ..Default::default()
    };
    let mut backends = nubes_server::Backends::connect(&config).await.unwrap();
    backends.clock = Some(clock.clone());
    let base =
        nubes_testing::serve(nubes_server::state_with(&config, backends).await.unwrap()).await;
    let client = reqwest::Client::new();
    let mut tenants = Vec::new();
    for n in 0..TENANTS {
        tenants.push(tenant(&base, n).await);
    }
    // Past the hour paid at create, so every stop charges the wallet.
    clock.0.fetch_add(7200, Ordering::SeqCst);
    let tasks: Vec<_> = tenants
        .into_iter()
        .map(|(token, id)| {
            let (client, base, clock) = (client.clone(), base.clone(), clock.clone());
            tokio::spawn(async move {
                let mut took = Vec::new();
                for _ in 0..ROUNDS {
                    clock.0.fetch_add(1, Ordering::SeqCst);
                    let before = balance(&client, &base, &token).await;
                    let started = Instant::now();
                    let stop = transition(&client, &base, &token, &id, "stop").await;
                    assert!(stop.status().is_success());
                    while balance(&client, &base, &token).await == before {
                        assert!(started.elapsed() < Duration::from_secs(30), "never shown");
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    took.push(started.elapsed());
                    transition(&client, &base, &token, &id, "start").await;
                }
                took
            })
        })
        .collect();
    joined(tasks).await
}

/// The raw backend: the same provider's stop, then one transaction writing the event and the
/// balance, then reading the balance.
async fn raw(url: &str) -> Vec<Duration> {
    use nubes::compute::{InstanceSpec, StopOptions};
    use nubes::Compute;
    let db = Db::connect(url).await.unwrap();
    sqlx::query("CREATE TABLE raw_balances (id BIGINT PRIMARY KEY, credits BIGINT NOT NULL)")
        .execute(db.pool())
        .await
        .unwrap();
    let compute = Arc::new(nubes::memory::MemoryCompute::new().with_image("img"));
    let tasks: Vec<_> = (0..TENANTS)
        .map(|n| {
            let (db, compute) = (db.clone(), compute.clone());
            tokio::spawn(async move {
                let name = format!("raw-{n}");
                compute
                    .create(InstanceSpec::new(name.clone(), "img"))
                    .await
                    .unwrap();
                compute.start(&name).await.unwrap();
                sqlx::query("INSERT INTO raw_balances (id, credits) VALUES ($1, 15000000)")
                    .bind(n as i64)
                    .execute(db.pool())
                    .await
                    .unwrap();
                let mut took = Vec::new();
                for round in 0..ROUNDS {
                    let started = Instant::now();
                    compute.stop(&name, StopOptions::default()).await.unwrap();
                    let mut tx = db.pool().begin().await.unwrap();
                    sqlx::query(
                        "INSERT INTO usage_events (backend_id, seq, transition, at, millicpus, memory) \
                         VALUES ($1, $2, 'stopped', 0, 500, 0) ON CONFLICT (backend_id, seq) DO NOTHING",
                    )
                    .bind(&name)
                    .bind(round as i64 + 1)
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                    sqlx::query("UPDATE raw_balances SET credits = credits - 200 WHERE id = $1")
                        .bind(n as i64)
                        .execute(&mut *tx)
                        .await
                        .unwrap();
                    tx.commit().await.unwrap();
                    let _: i64 = sqlx::query_scalar("SELECT credits FROM raw_balances WHERE id = $1")
                        .bind(n as i64)
                        .fetch_one(db.pool())
                        .await
                        .unwrap();
                    took.push(started.elapsed());
                    compute.start(&name).await.unwrap();
                }
                took
            })
        })
        .collect();
    joined(tasks).await
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

async fn latency(name: &str, ours_url: &str, raw_url: &str, journal: &std::path::Path) {
    let mut o = ours(ours_url, journal).await;
    let mut r = raw(raw_url).await;
    o.sort();
    r.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "| {name} | {:.1} ms / {:.1} ms | {:.1} ms / {:.1} ms | {:.1}x |",
        ms(percentile(&o, 0.5)),
        ms(percentile(&o, 0.99)),
        ms(percentile(&r, 0.5)),
        ms(percentile(&r, 0.99)),
        ms(percentile(&o, 0.99)) / ms(percentile(&r, 0.99)),
    );
}

/// A fresh PostgreSQL database for the run; removed by the caller.
async fn postgres_db(base: &str, suffix: &str) -> Scratch {
    Scratch::create(
        base,
        &format!("nubes_bench_{}_{suffix}", std::process::id()),
    )
    .await
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        println!(
            "Usage-event ingest: {} events ({PRODUCERS} producers, {BATCH} a batch, one batch in ten replayed) over {INSTANCES} instances\n",
            events()
        );
        println!(
            "Per core counts the CPU time the whole process used (PostgreSQL's own is not in it)\n"
        );
        let dir = tempfile::tempdir().unwrap();
        // A warm-up run, so the measured one does not pay for first page faults.
        journal(&dir.path().join("warm")).await;
        let ours = journal(&dir.path().join("journal")).await;
        println!("| database | Nubes journal | batch INSERT ON CONFLICT, one transaction | ratio |");
        println!("|---|---|---|---|");
        compare(
            "SQLite",
            &format!("sqlite://{}", dir.path().join("bench.db").display()),
            &ours,
        )
        .await;
        let postgres = std::env::var("NUBES_TEST_POSTGRES_URL").ok();
        match &postgres {
            Some(base) => {
                let db = postgres_db(base, "ingest").await;
                compare("PostgreSQL", &db.url, &ours).await;
                db.remove().await;
            }
            None => println!("| PostgreSQL | skipped: NUBES_TEST_POSTGRES_URL is not set | | |"),
        }

        println!(
            "\nEvent to visible balance: {TENANTS} tenants at once, {ROUNDS} stops each (p50 / p99)\n"
        );
        println!("| database | Nubes (REST stop until GET balance shows it) | raw (stop + one transaction + read) | p99 ratio |");
        println!("|---|---|---|---|");
        let sqlite = |f: &str| format!("sqlite://{}", dir.path().join(f).display());
        latency(
            "SQLite",
            &sqlite("latency.db"),
            &sqlite("latency-raw.db"),
            &dir.path().join("latency-journal"),
        )
        .await;
        match &postgres {
            Some(base) => {
                let ours = postgres_db(base, "latency").await;
                let raw = postgres_db(base, "latency_raw").await;
                latency(
                    "PostgreSQL",
                    &ours.url,
                    &raw.url,
                    &dir.path().join("latency-journal-pg"),
                )
                .await;
                ours.remove().await;
                raw.remove().await;
            }
            None => println!("| PostgreSQL | skipped: NUBES_TEST_POSTGRES_URL is not set | | |"),
        }
    });
}

/// Every task's timings, in one list.
async fn joined(tasks: Vec<tokio::task::JoinHandle<Vec<Duration>>>) -> Vec<Duration> {
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all
}
