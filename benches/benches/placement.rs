//! Placement decisions per second at 100, 1k, 10k and 100k agents: the fleet's scheduler
//! against a naive best-fit scan over a flat array, measured side by side in one run. A decision
//! is a submit that places a request, followed by the release that frees it again.
//! Goal: >= 1M decisions/s/core at 10k agents.

use std::collections::BTreeSet;
use std::time::Instant;

use nubes_agent::scheduler::{AgentOffer, Demand, Resources, Scheduler, Strategy, Submitted};

const GIB: u64 = 1 << 30;

/// A fleet of `n` agents of mixed sizes, half full, deterministic.
fn fleet(n: usize) -> (Scheduler, Vec<(u64, u64)>) {
    let mut rng = fastrand::Rng::with_seed(7);
    let mut s = Scheduler::new(Strategy::BinPack);
    let mut flat = Vec::with_capacity(n);
    for i in 0..n {
        let cpus = [4u64, 8, 16, 32, 64][rng.usize(..5)];
        let mem = cpus * 4 * GIB;
        let offer = AgentOffer {
            capacity: Resources::new(cpus * 1000, mem, 0, 0),
            providers: BTreeSet::from(["docker".to_string()]),
            ..AgentOffer::default()
        };
        let id = format!("agent-{i:06}");
        s.upsert_agent(&id, offer);
        // Half full.
        s.adopt(
            &format!("base-{i}"),
            &id,
            Resources::new(cpus * 500, mem / 2, 0, 0),
            0,
            None,
        );
        flat.push((cpus * 500, mem / 2));
    }
    (s, flat)
}

fn demand(rng: &mut fastrand::Rng) -> Demand {
    let cpus = [1u64, 2, 4][rng.usize(..3)];
    Demand {
        resources: Resources::new(cpus * 1000, cpus * 2 * GIB, 0, 0),
        ..Demand::default()
    }
}

/// The naive scan: free (cpu, memory) per agent, best fit by least cpu left.
fn naive(flat: &mut [(u64, u64)], cpu: u64, mem: u64) -> Option<usize> {
    let mut best: Option<(usize, u64)> = None;
    for (i, (fc, fm)) in flat.iter().enumerate() {
        if *fc >= cpu && *fm >= mem {
            let left = fc - cpu;
            if best.is_none_or(|(_, b)| left < b) {
                best = Some((i, left));
            }
        }
    }
    best.map(|(i, _)| i)
}

fn main() {
    println!("Placement: decisions/s (submit + release), bin-pack, agents half full\n");
    println!("| agents | scheduler | naive scan | ratio |");
    println!("|---|---|---|---|");
    for n in [100usize, 1_000, 10_000, 100_000] {
        let rounds = (2_000_000 / n).clamp(20, 20_000);
        let (mut s, mut flat) = fleet(n);
        let mut rng = fastrand::Rng::with_seed(1);
        let started = Instant::now();
        for r in 0..rounds {
            let key = format!("r{r}");
            match s.submit(&key, demand(&mut rng)).expect("valid") {
                Submitted::Placed(_) => {}
                Submitted::Queued { .. } => panic!("a half-full fleet should place"),
            }
            s.release(&key);
        }
        let ours = rounds as f64 / started.elapsed().as_secs_f64();

        let mut rng = fastrand::Rng::with_seed(1);
        let started = Instant::now();
        for _ in 0..rounds {
            let d = demand(&mut rng);
            let (cpu, mem) = (d.resources.millicpus, d.resources.memory);
            let i = naive(&mut flat, cpu, mem).expect("fits");
            flat[i].0 -= cpu;
            flat[i].1 -= mem;
            flat[i].0 += cpu;
            flat[i].1 += mem;
        }
        let scan = rounds as f64 / started.elapsed().as_secs_f64();
        println!("| {n} | {ours:.0} | {scan:.0} | {:.2} |", ours / scan);
    }
}
