//! Usage-event ingest: Nubes' journal (durable, idempotent, group-committed) against a batch
//! `INSERT … ON CONFLICT DO NOTHING` of the same events into each database, in one run.
//! Goals: 10x the batch, and 200k events/s per core of CPU the ingest used; reported, not
//! asserted.

use std::time::{Duration, Instant};

use nubes_billing::journal::{Appended, Entry, Journal, Options};
use nubes_billing::{Size, Transition};
use nubes_server::Db;

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
                            size: Size::new(1000, 1 << 30),
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
                compare("PostgreSQL", &format!("{root}/{name}"), &ours).await;
                sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
                    .execute(&admin)
                    .await
                    .unwrap();
            }
            Err(_) => println!("| PostgreSQL | skipped: NUBES_TEST_POSTGRES_URL is not set | | |"),
        }
    });
}
