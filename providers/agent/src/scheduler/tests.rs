//! One test per scheduling rule, and per bug seen in the seed's scheduler.
use super::*;

const GIB: u64 = 1 << 30;

fn offer(cpus: u64, mem_gib: u64) -> AgentOffer {
    AgentOffer {
        capacity: Resources::new(cpus * 1000, mem_gib * GIB, 100 * GIB, 0),
        providers: ["docker".to_string()].into(),
        labels: BTreeMap::new(),
    }
}

fn demand(cpus: u64, mem_gib: u64, priority: i32) -> Demand {
    Demand {
        resources: Resources::new(cpus * 1000, mem_gib * GIB, 0, 0),
        priority,
        ..Demand::default()
    }
}

#[test]
fn bin_pack_fills_the_fullest_agent_that_fits_and_spread_the_emptiest() {
    let mut s = Scheduler::new(Strategy::BinPack);
    s.upsert_agent("a", offer(8, 16));
    s.upsert_agent("b", offer(4, 8));
    assert_eq!(
        s.submit("x", demand(2, 2, 0)).unwrap(),
        Submitted::Placed("b".into())
    );
    assert_eq!(
        s.submit("y", demand(2, 2, 0)).unwrap(),
        Submitted::Placed("b".into())
    );
    assert_eq!(
        s.submit("z", demand(2, 2, 0)).unwrap(),
        Submitted::Placed("a".into())
    );

    let mut s = Scheduler::new(Strategy::Spread);
    s.upsert_agent("a", offer(8, 16));
    s.upsert_agent("b", offer(4, 8));
    assert_eq!(
        s.submit("x", demand(2, 2, 0)).unwrap(),
        Submitted::Placed("a".into())
    );
}

#[test]
fn reservations_count_so_nothing_is_overbooked() {
    let mut s = Scheduler::default();
    s.upsert_agent("a", offer(2, 4));
    assert_eq!(
        s.submit("x", demand(2, 2, 0)).unwrap(),
        Submitted::Placed("a".into())
    );
    assert_eq!(
        s.submit("y", demand(1, 1, 0)).unwrap(),
        Submitted::Queued { position: 0 }
    );
    assert_eq!(s.usage("a").unwrap().1.millicpus, 0);
}

#[test]
fn filters_by_provider_labels_and_gpus() {
    let mut s = Scheduler::default();
    let mut gpu = offer(4, 8);
    gpu.capacity.gpus = 1;
    gpu.labels.insert("zone".into(), "eu".into());
    s.upsert_agent("plain", offer(16, 64));
    s.upsert_agent("gpu", gpu);
    let mut d = demand(1, 1, 0);
    d.resources.gpus = 1;
    assert_eq!(s.submit("g", d).unwrap(), Submitted::Placed("gpu".into()));
    let mut d = demand(1, 1, 0);
    d.labels.insert("zone".into(), "eu".into());
    assert_eq!(s.submit("l", d).unwrap(), Submitted::Placed("gpu".into()));
    let mut d = demand(1, 1, 0);
    d.provider = Some("qemu".into());
    assert_eq!(
        s.submit("q", d).unwrap_err().kind(),
        ErrorKind::QuotaExceeded
    );
}

#[test]
fn requests_no_agent_could_ever_hold_are_rejected_at_submit() {
    let mut s = Scheduler::default();
    s.upsert_agent("a", offer(4, 8));
    let e = s.submit("huge", demand(5, 1, 0)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::QuotaExceeded);
    assert_eq!(s.waiting().count(), 0);
    // Capacity that is merely taken now is a wait, not a rejection.
    s.submit("x", demand(4, 8, 0)).unwrap();
    assert!(matches!(
        s.submit("y", demand(4, 8, 0)).unwrap(),
        Submitted::Queued { .. }
    ));
}

#[test]
fn invalid_requests_are_refused() {
    let mut s = Scheduler::default();
    s.upsert_agent("a", offer(4, 8));
    assert_eq!(
        s.submit("z", demand(0, 1, 0)).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        s.submit("m", demand(1, 0, 0)).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    s.submit("x", demand(1, 1, 0)).unwrap();
    assert_eq!(
        s.submit("x", demand(1, 1, 0)).unwrap_err().kind(),
        ErrorKind::AlreadyExists
    );
}

#[test]
fn the_queue_is_fifo_within_a_priority_and_higher_priorities_go_first() {
    let mut s = Scheduler::default();
    s.upsert_agent("a", offer(1, 8));
    s.submit("running", demand(1, 1, 0)).unwrap();
    s.submit("low1", demand(1, 1, 0)).unwrap();
    s.submit("low2", demand(1, 1, 0)).unwrap();
    assert_eq!(
        s.submit("high", demand(1, 1, 5)).unwrap(),
        Submitted::Queued { position: 0 }
    );
    let order: Vec<&str> = s.waiting().map(|(k, _)| k).collect();
    assert_eq!(order, ["high", "low1", "low2"]);
    assert_eq!(
        s.release("running"),
        [("high".to_string(), "a".to_string())]
    );
    assert_eq!(s.release("high"), [("low1".to_string(), "a".to_string())]);
    assert_eq!(s.position("low2"), Some(0));
}

#[test]
fn a_waiting_request_that_does_not_fit_never_blocks_smaller_ones_behind_it() {
    let mut s = Scheduler::default();
    s.upsert_agent("a", offer(4, 8));
    s.submit("base", demand(3, 1, 0)).unwrap();
    s.submit("big", demand(4, 1, 9)).unwrap();
    // The small one fits beside "base" even though "big" waits ahead of it.
    assert_eq!(
        s.submit("small", demand(1, 1, 0)).unwrap(),
        Submitted::Placed("a".into())
    );
    s.submit("small2", demand(1, 1, 0)).unwrap();
    // Freeing "small" admits "small2", while "big" still cannot fit.
    assert_eq!(
        s.release("small"),
        [("small2".to_string(), "a".to_string())]
    );
    assert_eq!(s.position("big"), Some(0));
}

#[test]
fn capacity_from_a_new_agent_admits_waiting_requests_at_once() {
    let mut s = Scheduler::default();
    s.upsert_agent("a", offer(1, 1));
    s.submit("x", demand(1, 1, 0)).unwrap();
    s.submit("y", demand(1, 1, 0)).unwrap();
    assert_eq!(
        s.upsert_agent("b", offer(1, 1)),
        [("y".to_string(), "b".to_string())]
    );
}

#[test]
fn offline_and_cordoned_agents_get_no_new_work() {
    let mut s = Scheduler::default();
    s.upsert_agent("a", offer(4, 8));
    s.upsert_agent("b", offer(4, 8));
    s.set_online("a", false);
    s.cordon("b", true).unwrap();
    assert!(matches!(
        s.submit("x", demand(1, 1, 0)).unwrap(),
        Submitted::Queued { .. }
    ));
    assert_eq!(
        s.cordon("b", false).unwrap(),
        [("x".to_string(), "b".to_string())]
    );
}

#[test]
fn resizing_never_overbooks_and_a_shrink_admits_waiting_work() {
    let mut s = Scheduler::default();
    s.upsert_agent("a", offer(4, 64));
    s.submit("x", demand(2, 1, 0)).unwrap();
    s.submit("y", demand(2, 1, 0)).unwrap();
    s.submit("z", demand(1, 1, 0)).unwrap();
    let grow = Resources::new(3000, GIB, 0, 0);
    assert_eq!(
        s.resize("x", grow).unwrap_err().kind(),
        ErrorKind::QuotaExceeded
    );
    s.resize("x", Resources::new(1000, GIB, 0, 0)).unwrap();
    assert_eq!(s.admit_waiting(), [("z".to_string(), "a".to_string())]);
}

#[test]
fn an_agent_registered_then_adopted_is_not_overbooked() {
    let mut s = Scheduler::default();
    s.submit("waiting", demand(2, 1, 0)).unwrap();
    s.register("a", offer(2, 8));
    s.adopt("running", "a", Resources::new(2000, GIB, 0, 0), 0, None);
    assert_eq!(s.set_online("a", true), []);
    assert_eq!(s.position("waiting"), Some(0));
}

fn in_cluster(cpus: u64, priority: i32, cluster: &str) -> Demand {
    Demand {
        cluster: Some(cluster.to_string()),
        ..demand(cpus, 1, priority)
    }
}

#[test]
fn a_cluster_holds_its_capacity_back_from_everyone_else() {
    let mut s = Scheduler::default();
    s.upsert_agent("a", offer(8, 64));
    s.create_pool("c1", Resources::new(4000, 8 * GIB, 0, 0))
        .unwrap();
    // Outside the cluster only 4 cpus are open.
    assert_eq!(
        s.submit("out1", demand(4, 1, 0)).unwrap(),
        Submitted::Placed("a".into())
    );
    assert!(matches!(
        s.submit("out2", demand(1, 1, 9)).unwrap(),
        Submitted::Queued { .. }
    ));
    // Inside, the cluster's 4 are there, however busy the rest is.
    assert_eq!(
        s.submit("in1", in_cluster(3, 0, "c1")).unwrap(),
        Submitted::Placed("a".into())
    );
    assert_eq!(s.pool_usage("c1").unwrap().1.millicpus, 3000);
    // A second reservation the fleet cannot cover is refused.
    let e = s
        .create_pool("c2", Resources::new(2000, GIB, 0, 0))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::QuotaExceeded);
}

#[test]
fn cluster_work_queues_by_priority_within_its_cluster() {
    let mut s = Scheduler::default();
    s.upsert_agent("a", offer(16, 64));
    s.create_pool("c1", Resources::new(2000, 8 * GIB, 0, 0))
        .unwrap();
    s.submit("run", in_cluster(2, 0, "c1")).unwrap();
    s.submit("low", in_cluster(1, 0, "c1")).unwrap();
    s.submit("low2", in_cluster(1, 0, "c1")).unwrap();
    s.submit("high", in_cluster(2, 5, "c1")).unwrap();
    // The cluster is full though the fleet is not: all three wait, "high" first.
    let order: Vec<&str> = s.waiting().map(|(k, _)| k).collect();
    assert_eq!(order, ["high", "low", "low2"]);
    // Work outside the cluster is not held up by the cluster's queue.
    assert_eq!(
        s.submit("free", demand(4, 1, 0)).unwrap(),
        Submitted::Placed("a".into())
    );
    assert_eq!(s.release("run"), [("high".to_string(), "a".to_string())]);
    assert_eq!(
        s.release("high"),
        [
            ("low".to_string(), "a".to_string()),
            ("low2".to_string(), "a".to_string())
        ]
    );
}

#[test]
fn cluster_requests_are_checked_against_the_cluster() {
    let mut s = Scheduler::default();
    s.upsert_agent("a", offer(16, 64));
    s.create_pool("c1", Resources::new(2000, 8 * GIB, 0, 0))
        .unwrap();
    assert_eq!(
        s.submit("x", in_cluster(3, 0, "c1")).unwrap_err().kind(),
        ErrorKind::QuotaExceeded
    );
    assert_eq!(
        s.submit("y", in_cluster(1, 0, "nope")).unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        s.create_pool("c1", Resources::new(1000, GIB, 0, 0))
            .unwrap_err()
            .kind(),
        ErrorKind::AlreadyExists
    );
    assert_eq!(
        s.create_pool("z", Resources::new(0, GIB, 0, 0))
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );
    s.submit("y", in_cluster(1, 0, "c1")).unwrap();
    assert_eq!(s.remove_pool("c1").unwrap_err().kind(), ErrorKind::Conflict);
    s.release("y");
    s.remove_pool("c1").unwrap();
    assert_eq!(
        s.submit("big", demand(16, 1, 0)).unwrap(),
        Submitted::Placed("a".into())
    );
}

#[test]
fn work_put_back_waits_ahead_of_its_priority() {
    let mut s = Scheduler::default();
    s.upsert_agent("a", offer(1, 8));
    s.submit("running", demand(1, 1, 0)).unwrap();
    s.submit("new", demand(1, 1, 0)).unwrap();
    s.submit("urgent", demand(1, 1, 3)).unwrap();
    s.resubmit("evicted", demand(1, 1, 0)).unwrap();
    let order: Vec<&str> = s.waiting().map(|(k, _)| k).collect();
    assert_eq!(order, ["urgent", "evicted", "new"]);
}

#[test]
fn preemption_only_when_it_admits_and_with_the_fewest_victims() {
    let mut s = Scheduler::default();
    s.upsert_agent("a", offer(4, 64));
    s.upsert_agent("b", offer(4, 64));
    for k in ["a1", "a2", "a3", "a4"] {
        s.submit(k, demand(1, 1, 0)).unwrap();
    }
    s.submit("b1", demand(2, 1, 0)).unwrap();
    s.submit("b2", demand(2, 1, 0)).unwrap();
    assert_eq!(s.placement("a4"), Some("a"));
    assert_eq!(s.placement("b2"), Some("b"));
    // Two cpus: one victim on b, two on a.
    let plan = s.preemption_plan(&demand(2, 1, 5)).unwrap();
    assert_eq!(plan.0, "b");
    assert_eq!(plan.1.len(), 1);
    // Nothing of lower priority frees enough: no plan, nobody evicted for nothing.
    assert_eq!(s.preemption_plan(&demand(2, 1, 0)), None);
    let mut s2 = Scheduler::default();
    s2.upsert_agent("a", offer(4, 64));
    s2.submit("hi", demand(3, 1, 9)).unwrap();
    s2.submit("lo", demand(1, 1, 0)).unwrap();
    assert_eq!(s2.preemption_plan(&demand(2, 1, 5)), None);
}
