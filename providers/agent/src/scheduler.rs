//! Placement and the wait queue, as pure bookkeeping: no IO, no clock, so every rule is a unit
//! test. The fleet holds one `Scheduler` behind a lock and acts on what it decides.
//!
//! Rules (each answers a bug seen in the seed's scheduler):
//! - a request is checked and rejected at submit when it is invalid, or larger than every agent
//!   there is could ever hold;
//! - placement filters agents by free capacity (counting reservations), provider, labels and
//!   GPUs, then scores them: bin-pack (tightest fit) by default, spread as an option;
//! - what does not fit waits, ordered by priority and then arrival (FIFO within a priority);
//! - when capacity frees, every waiting request that now fits is admitted in that order; one
//!   that still does not fit never blocks those behind it (no head-of-line blocking);
//! - preemption evicts lower-priority work only when that admits the request, from the agent
//!   that needs the fewest victims.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use nubes_core::{Error, ErrorKind, Result};
use serde::{Deserialize, Serialize};

pub use nubes_core::Resources;

/// What an agent offers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentOffer {
    pub capacity: Resources,
    /// Provider schemes it runs ("docker", "qemu").
    pub providers: BTreeSet<String>,
    pub labels: BTreeMap<String, String>,
}

/// What a request needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Demand {
    pub resources: Resources,
    /// A provider the agent must run; any when `None`.
    pub provider: Option<String>,
    /// Labels the agent must carry with these values.
    pub labels: BTreeMap<String, String>,
    /// Higher runs first.
    pub priority: i32,
    /// The cluster it runs in: counted against the cluster's reservation, not the fleet's
    /// open capacity.
    pub cluster: Option<String>,
}

impl Demand {
    /// Checks a request before anything else looks at it.
    pub fn validate(&self) -> Result<()> {
        if self.resources.millicpus == 0 {
            return Err(Error::invalid_input("an instance needs some cpu"));
        }
        if self.resources.memory == 0 {
            return Err(Error::invalid_input("an instance needs some memory"));
        }
        Ok(())
    }
}

/// How to choose among agents that fit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// The fullest agent that fits: keeps whole agents free for large requests.
    #[default]
    BinPack,
    /// The emptiest agent: spreads load and failure.
    Spread,
}

/// The outcome of a submit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submitted {
    /// Reserved on this agent.
    Placed(String),
    /// Waiting; 0 is next.
    Queued { position: usize },
}

#[derive(Debug, Clone)]
struct Agent {
    offer: AgentOffer,
    used: Resources,
    online: bool,
    cordoned: bool,
}

impl Agent {
    fn free(&self) -> Resources {
        self.offer.capacity.saturating_sub(&self.used)
    }

    fn accepts(&self, d: &Demand) -> bool {
        d.provider
            .as_ref()
            .is_none_or(|p| self.offer.providers.contains(p))
            && d.labels
                .iter()
                .all(|(k, v)| self.offer.labels.get(k) == Some(v))
            && d.resources.fits(&self.offer.capacity)
    }

    fn schedulable(&self) -> bool {
        self.online && !self.cordoned
    }
}

#[derive(Debug, Clone)]
struct Placement {
    agent: String,
    resources: Resources,
    priority: i32,
    cluster: Option<String>,
}

/// A cluster: capacity an organization reserved out of the fleet. What it does not use, nobody
/// else may take.
#[derive(Debug, Clone, Default)]
struct Cluster {
    capacity: Resources,
    used: Resources,
}

/// Agents, what is reserved on them, and what waits.
#[derive(Debug, Default)]
pub struct Scheduler {
    strategy: Strategy,
    agents: HashMap<String, Agent>,
    placements: HashMap<String, Placement>,
    /// Schedulable agents by free millicpus: placement walks it from the tightest fit (bin-pack)
    /// or the emptiest (spread) instead of scanning every agent.
    index: BTreeSet<(u64, String)>,
    /// Free capacity summed over schedulable agents.
    free_total: Resources,
    clusters: HashMap<String, Cluster>,
    /// Ordered by priority (highest first), then arrival.
    queue: BTreeMap<(Reverse<i32>, u64), (String, Demand)>,
    arrivals: u64,
    /// Requests put back at the head of their priority (evicted, drained) count down from the
    /// middle of the range; new ones count up from it.
    returns: u64,
}

impl Scheduler {
    pub fn new(strategy: Strategy) -> Self {
        Self {
            strategy,
            ..Self::default()
        }
    }

    /// Changes an agent, keeping the index in step: every change to an agent goes through here.
    fn update(&mut self, id: &str, change: impl FnOnce(&mut Agent)) -> bool {
        let Some(a) = self.agents.get_mut(id) else {
            return false;
        };
        if a.schedulable() {
            self.index.remove(&(a.free().millicpus, id.to_string()));
            self.free_total = self.free_total.saturating_sub(&a.free());
        }
        change(a);
        if a.schedulable() {
            self.index.insert((a.free().millicpus, id.to_string()));
            self.free_total = self.free_total.saturating_add(&a.free());
        }
        true
    }

    fn insert_agent(&mut self, id: &str, offer: AgentOffer, online: bool) {
        if !self.agents.contains_key(id) {
            self.agents.insert(
                id.to_string(),
                Agent {
                    offer: offer.clone(),
                    used: Resources::default(),
                    online: false,
                    cordoned: false,
                },
            );
        }
        self.update(id, |a| {
            a.offer = offer;
            a.online = online;
        });
    }

    /// Adds or updates an agent (online); anything that now fits is admitted and returned.
    pub fn upsert_agent(&mut self, id: &str, offer: AgentOffer) -> Vec<(String, String)> {
        self.insert_agent(id, offer, true);
        self.admit()
    }

    /// Adds or updates an agent without giving it work yet: the fleet first records what it
    /// already runs (`adopt`), then brings it online, so nothing is placed on capacity that is
    /// in fact taken.
    pub fn register(&mut self, id: &str, offer: AgentOffer) {
        self.insert_agent(id, offer, false);
    }

    /// An offline agent keeps its reservations (its instances may still run) but gets no new work.
    pub fn set_online(&mut self, id: &str, online: bool) -> Vec<(String, String)> {
        self.update(id, |a| a.online = online);
        if online {
            self.admit()
        } else {
            Vec::new()
        }
    }

    /// A cordoned agent keeps what runs on it and takes nothing new.
    pub fn cordon(&mut self, id: &str, cordoned: bool) -> Result<Vec<(String, String)>> {
        if !self.update(id, |a| a.cordoned = cordoned) {
            return Err(Error::not_found(format!("agent {id} not found")));
        }
        Ok(if cordoned { Vec::new() } else { self.admit() })
    }

    pub fn submit(&mut self, key: &str, demand: Demand) -> Result<Submitted> {
        self.submit_at(key, demand, false)
    }

    /// As `submit`, but if it must wait it goes ahead of everything of its priority: for work
    /// that was running and was moved off its agent (evicted, drained).
    pub fn resubmit(&mut self, key: &str, demand: Demand) -> Result<Submitted> {
        self.submit_at(key, demand, true)
    }

    /// Where `demand` would go now, without reserving anything: an agent, `None` if it would
    /// wait, or the error a submit would give.
    pub fn preview(&self, demand: &Demand) -> Result<Option<String>> {
        self.admissible(demand)?;
        Ok(self.choose(demand))
    }

    /// Whether a request could ever be placed: valid, within its cluster, and small enough
    /// for some agent.
    fn admissible(&self, demand: &Demand) -> Result<()> {
        demand.validate()?;
        if let Some(cluster) = &demand.cluster {
            let p = self
                .clusters
                .get(cluster)
                .ok_or_else(|| Error::not_found(format!("cluster {cluster} not found")))?;
            if !demand.resources.fits(&p.capacity) {
                return Err(Error::new(
                    ErrorKind::QuotaExceeded,
                    format!("the request is larger than cluster {cluster}"),
                ));
            }
        }
        if !self.agents.is_empty() && !self.agents.values().any(|a| a.accepts(demand)) {
            return Err(Error::new(
                ErrorKind::QuotaExceeded,
                "no agent in the fleet could ever hold this request (capacity, provider or labels)",
            ));
        }
        Ok(())
    }

    fn submit_at(&mut self, key: &str, demand: Demand, front: bool) -> Result<Submitted> {
        demand.validate()?;
        if self.placements.contains_key(key) || self.queued(key).is_some() {
            return Err(Error::already_exists(format!("{key} is already scheduled")));
        }
        self.admissible(&demand)?;
        if let Some(agent) = self.choose(&demand) {
            self.reserve(key, &agent, &demand);
            return Ok(Submitted::Placed(agent));
        }
        const MIDDLE: u64 = 1 << 62;
        let at = if front {
            self.returns += 1;
            (Reverse(demand.priority), MIDDLE - self.returns)
        } else {
            self.arrivals += 1;
            (Reverse(demand.priority), MIDDLE + self.arrivals)
        };
        self.queue.insert(at, (key.to_string(), demand));
        let position = self.queue.range(..at).count();
        Ok(Submitted::Queued { position })
    }

    /// Records a placement made elsewhere (an agent reporting what it runs after a restart).
    pub fn adopt(
        &mut self,
        key: &str,
        agent: &str,
        resources: Resources,
        priority: i32,
        cluster: Option<&str>,
    ) {
        self.forget_placement(key);
        self.update(agent, |a| a.used = a.used.saturating_add(&resources));
        if let Some(p) = cluster.and_then(|p| self.clusters.get_mut(p)) {
            p.used = p.used.saturating_add(&resources);
        }
        self.placements.insert(
            key.to_string(),
            Placement {
                agent: agent.to_string(),
                resources,
                priority,
                cluster: cluster.map(str::to_string),
            },
        );
    }

    /// Drops a placement and what it held, without admitting anything.
    fn forget_placement(&mut self, key: &str) -> bool {
        let Some(old) = self.placements.remove(key) else {
            return false;
        };
        self.update(&old.agent, |a| {
            a.used = a.used.saturating_sub(&old.resources)
        });
        if let Some(p) = old.cluster.as_ref().and_then(|p| self.clusters.get_mut(p)) {
            p.used = p.used.saturating_sub(&old.resources);
        }
        true
    }

    /// Frees a placement, or drops a waiting request; returns what that admitted.
    pub fn release(&mut self, key: &str) -> Vec<(String, String)> {
        if let Some(at) = self.queued(key) {
            self.queue.remove(&at);
            return Vec::new();
        }
        if !self.forget_placement(key) {
            return Vec::new();
        }
        self.admit()
    }

    /// Frees several placements at once, then admits what fits: a preemption's victims go
    /// together, so the room they leave is not handed out piecemeal.
    pub fn evict(&mut self, keys: &[String]) -> Vec<(String, String)> {
        for key in keys {
            self.forget_placement(key);
        }
        self.admit()
    }

    /// What `key` holds where it is placed.
    pub fn reserved(&self, key: &str) -> Option<Resources> {
        self.placements.get(key).map(|p| p.resources)
    }

    /// Changes what `key` holds, if its agent has room for the difference.
    pub fn resize(&mut self, key: &str, resources: Resources) -> Result<()> {
        let p = self
            .placements
            .get(key)
            .ok_or_else(|| Error::not_found(format!("{key} is not placed")))?;
        let agent = &self.agents[&p.agent];
        let room = agent.free().saturating_add(&p.resources);
        if !resources.fits(&room) {
            return Err(Error::new(
                ErrorKind::QuotaExceeded,
                format!("agent {} has no room for that size", p.agent),
            ));
        }
        let (old, agent, cluster) = (p.resources, p.agent.clone(), p.cluster.clone());
        if let Some(p) = cluster.as_ref().and_then(|p| self.clusters.get(p)) {
            let room = p.capacity.saturating_sub(&p.used).saturating_add(&old);
            if !resources.fits(&room) {
                return Err(Error::new(
                    ErrorKind::QuotaExceeded,
                    "the cluster has no room for that size",
                ));
            }
        }
        self.update(&agent, |a| {
            a.used = a.used.saturating_sub(&old).saturating_add(&resources);
        });
        if let Some(p) = cluster.as_ref().and_then(|p| self.clusters.get_mut(p)) {
            p.used = p.used.saturating_sub(&old).saturating_add(&resources);
        }
        self.placements.get_mut(key).expect("seen").resources = resources;
        Ok(())
    }

    /// Admits whatever fits now (after a shrink, say).
    pub fn admit_waiting(&mut self) -> Vec<(String, String)> {
        self.admit()
    }

    /// Where `key` runs.
    pub fn placement(&self, key: &str) -> Option<&str> {
        self.placements.get(key).map(|p| p.agent.as_str())
    }

    /// `key`'s place in the queue (0 is next), if it waits.
    pub fn position(&self, key: &str) -> Option<usize> {
        let at = self.queued(key)?;
        Some(self.queue.range(..at).count())
    }

    /// Waiting requests in the order they will be considered.
    pub fn waiting(&self) -> impl Iterator<Item = (&str, &Demand)> {
        self.queue.values().map(|(k, d)| (k.as_str(), d))
    }

    /// Keys placed on `agent`.
    pub fn placed_on(&self, agent: &str) -> Vec<String> {
        let mut keys: Vec<String> = self
            .placements
            .iter()
            .filter(|(_, p)| p.agent == agent)
            .map(|(k, _)| k.clone())
            .collect();
        keys.sort();
        keys
    }

    /// The agent's capacity and what is free of it.
    pub fn usage(&self, agent: &str) -> Option<(Resources, Resources)> {
        self.agents.get(agent).map(|a| (a.offer.capacity, a.free()))
    }

    /// Which lower-priority placements to evict so `demand` fits: on the agent that needs the
    /// fewest victims, and only if evicting them really makes it fit. `None` when no eviction
    /// admits it.
    pub fn preemption_plan(&self, demand: &Demand) -> Option<(String, Vec<String>)> {
        let mut best: Option<(String, Vec<String>)> = None;
        let mut ids: Vec<&String> = self.agents.keys().collect();
        ids.sort();
        for id in ids {
            let agent = &self.agents[id];
            if !agent.schedulable() || !agent.accepts(demand) {
                continue;
            }
            // Largest lower-priority placements first: the fewest that free enough.
            let mut candidates: Vec<(&String, &Placement)> = self
                .placements
                .iter()
                .filter(|(_, p)| &p.agent == id && p.priority < demand.priority)
                .collect();
            candidates.sort_by_key(|(k, p)| {
                (
                    p.priority,
                    Reverse(p.resources.millicpus),
                    Reverse(p.resources.memory),
                    (*k).clone(),
                )
            });
            let mut free = agent.free();
            let mut victims = Vec::new();
            for (key, p) in candidates {
                if demand.resources.fits(&free) {
                    break;
                }
                free = free.saturating_add(&p.resources);
                victims.push(key.clone());
            }
            if !demand.resources.fits(&free) || victims.is_empty() {
                continue;
            }
            if best.as_ref().is_none_or(|(_, b)| victims.len() < b.len()) {
                best = Some((id.clone(), victims));
            }
        }
        best
    }

    fn queued(&self, key: &str) -> Option<(Reverse<i32>, u64)> {
        self.queue
            .iter()
            .find(|(_, (k, _))| k == key)
            .map(|(at, _)| *at)
    }

    /// Bin-pack: the agent with the least free cpu that still fits (ties to the smaller id);
    /// spread: the one with the most. Walks the index from that end, so a typical decision looks
    /// at a handful of agents, not all of them.
    fn choose(&self, demand: &Demand) -> Option<String> {
        if !self.permits(demand) {
            return None;
        }
        let fits = |id: &String| {
            let a = &self.agents[id];
            a.accepts(demand) && demand.resources.fits(&a.free())
        };
        let from = (demand.resources.millicpus, String::new());
        match self.strategy {
            Strategy::BinPack => self
                .index
                .range(from..)
                .map(|(_, id)| id)
                .find(|id| fits(id)),
            Strategy::Spread => self
                .index
                .range(from..)
                .rev()
                .map(|(_, id)| id)
                .find(|id| fits(id)),
        }
        .cloned()
    }

    fn reserve(&mut self, key: &str, agent: &str, demand: &Demand) {
        self.adopt(
            key,
            agent,
            demand.resources,
            demand.priority,
            demand.cluster.as_deref(),
        );
    }

    /// What clusters hold back and do not use.
    fn unused_reservations(&self) -> Resources {
        self.clusters.values().fold(Resources::default(), |acc, p| {
            acc.saturating_add(&p.capacity.saturating_sub(&p.used))
        })
    }

    /// Whether `demand` may take capacity now: within its cluster's reservation, or, outside
    /// any cluster, without eating into what clusters hold back.
    fn permits(&self, demand: &Demand) -> bool {
        match &demand.cluster {
            Some(cluster) => self
                .clusters
                .get(cluster)
                .is_some_and(|p| demand.resources.fits(&p.capacity.saturating_sub(&p.used))),
            None => demand
                .resources
                .fits(&self.free_total.saturating_sub(&self.unused_reservations())),
        }
    }

    /// Reserves `capacity` of the fleet's free capacity for a cluster; refused when the fleet has
    /// not that much that is neither used nor already reserved.
    pub fn create_pool(&mut self, id: &str, capacity: Resources) -> Result<()> {
        if self.clusters.contains_key(id) {
            return Err(Error::already_exists(format!(
                "cluster {id} already exists"
            )));
        }
        if capacity.millicpus == 0 || capacity.memory == 0 {
            return Err(Error::invalid_input("a cluster needs some cpu and memory"));
        }
        let open = self.free_total.saturating_sub(&self.unused_reservations());
        if !capacity.fits(&open) {
            return Err(Error::new(
                ErrorKind::QuotaExceeded,
                "the fleet has not that much capacity free to reserve",
            ));
        }
        self.restore_pool(id, capacity);
        Ok(())
    }

    /// Recreates a cluster after a restart, before agents are back: no capacity check.
    pub fn restore_pool(&mut self, id: &str, capacity: Resources) {
        self.clusters.insert(
            id.to_string(),
            Cluster {
                capacity,
                used: Resources::default(),
            },
        );
    }

    /// Ends a cluster with nothing running or waiting in it; what it held back is free again.
    pub fn remove_pool(&mut self, id: &str) -> Result<Vec<(String, String)>> {
        let p = self
            .clusters
            .get(id)
            .ok_or_else(|| Error::not_found(format!("cluster {id} not found")))?;
        let waiting = self
            .queue
            .values()
            .any(|(_, d)| d.cluster.as_deref() == Some(id));
        if p.used != Resources::default() || waiting {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!("cluster {id} still has instances running or waiting"),
            ));
        }
        self.clusters.remove(id);
        Ok(self.admit())
    }

    /// A cluster's capacity and what of it is used.
    pub fn pool_usage(&self, id: &str) -> Option<(Resources, Resources)> {
        self.clusters.get(id).map(|p| (p.capacity, p.used))
    }

    /// Admits, in queue order, every waiting request that fits now.
    fn admit(&mut self) -> Vec<(String, String)> {
        let mut admitted = Vec::new();
        let waiting: Vec<(Reverse<i32>, u64)> = self.queue.keys().copied().collect();
        for at in waiting {
            let Some((_, demand)) = self.queue.get(&at) else {
                continue;
            };
            if let Some(agent) = self.choose(demand) {
                let (key, demand) = self.queue.remove(&at).expect("just seen");
                self.reserve(&key, &agent, &demand);
                admitted.push((key, agent));
            }
        }
        admitted
    }
}

#[cfg(test)]
mod tests;
