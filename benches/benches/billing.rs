//! Usage-event ingest: Nubes' durable, idempotent path (each event numbered per instance and
//! written on its own, as metering records transitions) against a batch
//! `INSERT … ON CONFLICT DO NOTHING` of the same events into the same database, in one run.
//! Goals: within 10x of the batch, and 200k events/s/core; reported, not asserted.

use std::time::{Duration, Instant};

use nubes_server::Db;

const EVENTS: usize = 5_000;
const INSTANCES: usize = 100;

async fn ours(db: &Db, run: &str) -> Duration {
    let started = Instant::now();
    for i in 0..EVENTS {
        let instance = format!("{run}-{}", i % INSTANCES);
        db.record_usage_event(
            &instance,
            "started",
            1_800_000_000 + i as i64,
            1000,
            1 << 30,
        )
        .await
        .unwrap();
    }
    started.elapsed()
}

async fn batch(db: &Db, run: &str) -> Duration {
    let started = Instant::now();
    let mut tx = db.pool().begin().await.unwrap();
    for chunk in (0..EVENTS).collect::<Vec<_>>().chunks(100) {
        let mut sql = String::from(
            "INSERT INTO usage_events (backend_id, seq, transition, at, millicpus, memory) VALUES ",
        );
        for (n, i) in chunk.iter().enumerate() {
            if n > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "('{run}-{}', {}, 'started', {}, 1000, {})",
                i % INSTANCES,
                i / INSTANCES + 1,
                1_800_000_000 + *i as i64,
                1u64 << 30
            ));
        }
        sql.push_str(" ON CONFLICT (backend_id, seq) DO NOTHING");
        sqlx::query(&sql).execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();
    started.elapsed()
}

fn rate(d: Duration) -> f64 {
    EVENTS as f64 / d.as_secs_f64()
}

async fn measure(name: &str, url: &str) {
    let db = Db::connect(url).await.unwrap();
    // Warm both paths once.
    ours(&db, "warm-ours").await;
    batch(&db, "warm-batch").await;
    let (o, b) = (ours(&db, "ours").await, batch(&db, "batch").await);
    println!(
        "| {name} | {:.0}/s | {:.0}/s | {:.3} |",
        rate(o),
        rate(b),
        rate(o) / rate(b)
    );
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        println!("Usage-event ingest, {EVENTS} events over {INSTANCES} instances\n");
        println!("| database | Nubes (numbered, one by one) | batch INSERT ON CONFLICT | ratio |");
        println!("|---|---|---|---|");
        let dir = tempfile::tempdir().unwrap();
        measure(
            "SQLite",
            &format!("sqlite://{}", dir.path().join("bench.db").display()),
        )
        .await;
        match std::env::var("NUBES_TEST_POSTGRES_URL") {
            Ok(url) => {
                sqlx::any::install_default_drivers();
                let admin = sqlx::AnyPool::connect(&url).await.unwrap();
                let name = format!("nubes_bench_{}", std::process::id());
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&admin)
                    .await
                    .unwrap();
                let (root, _) = url.rsplit_once('/').unwrap();
                measure("PostgreSQL", &format!("{root}/{name}")).await;
                sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
                    .execute(&admin)
                    .await
                    .unwrap();
            }
            Err(_) => println!("| PostgreSQL | skipped: NUBES_TEST_POSTGRES_URL is not set | | |"),
        }
    });
}
