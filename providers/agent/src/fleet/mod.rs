//! The fleet: the server's side of the agents, and a `Compute` over all of them. A create is
//! placed by the scheduler and sent to the chosen agent; what does not fit waits and is sent the
//! moment capacity frees (a delete, a new agent), not by polling.
//!
//! The fleet is transport-agnostic: the server turns each agent's WebSocket into `connect`,
//! `receive` and `disconnect` calls and forwards what the returned channel yields.
//!
//! Where things are: `wire` holds the connections and the requests in flight on them (ids,
//! replies, streamed output and stdin) and knows nothing of placement; `links` is what agents
//! say (hello, heartbeats, reconciliation); `placing` decides where work goes (admission from
//! the queue, preemption, drains); `compute` is the `Compute` face over all of it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::StreamExt;
use nubes_core::{
    collect_exec, ByteStream, Compute, ComputeCapability, ConsoleKind, DeleteOptions, Error,
    ErrorKind, ExecEvent, ExecOutput, ExecRequest, ExecStream, Instance, InstanceSpec,
    InstanceState, InstanceStats, ListOptions, LogChunk, LogOptions, LogStream, ResizeRequest,
    Result, StopOptions,
};
use tokio::sync::{mpsc, oneshot};

use crate::protocol::{self, AgentMessage, Hello, Op, Outcome, ServerMessage};

mod compute;
mod links;
mod placing;
mod wire;

use crate::scheduler::{AgentOffer, Demand, Resources, Scheduler, Strategy, Submitted};
use compute::fleet_view;
pub use nubes_api::agents::AgentStatus;
use wire::{Reply, Wire};

/// The provider name fleet instances report.
pub const SCHEME: &str = "fleet";
/// What the agent's workloads carry for `InstanceSpec::priority` and `cluster`, so the fleet
/// can tell them again when it adopts them after a restart.
pub const AGENT_PRIORITY_LABEL: &str = "nubes-priority";
pub const AGENT_CLUSTER_LABEL: &str = "nubes-cluster";
/// Resources assumed for a request that names none, so every instance has limits.
pub use nubes_core::compute::{DEFAULT_CPUS, DEFAULT_MEMORY};

/// What the fleet keeps beyond its own memory, in the server's database: which instances
/// tenants own (so after a restart the fleet tells its workloads from strays), and the queue
/// (so a restart loses no waiting request).
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Which of `names` tenants own, each with the agent it was last placed on, where known.
    async fn owned(&self, names: &[String]) -> Result<HashMap<String, Option<String>>>;
    /// `name` is being placed on `agent`: from now on only that agent may claim it.
    async fn placed(&self, name: &str, agent: &str) -> Result<()>;
    async fn enqueue(&self, spec: &InstanceSpec, priority: i32) -> Result<()>;
    async fn dequeue(&self, name: &str) -> Result<()>;
    /// How an instance was asked for, kept while it exists so a drain or a preemption can place
    /// it again, also after a restart. Remembering a name again replaces its spec.
    async fn remember(&self, spec: &InstanceSpec, priority: i32) -> Result<()>;
    async fn forget(&self, name: &str) -> Result<()>;
    async fn specs(&self) -> Result<Vec<(InstanceSpec, i32)>>;
    /// Waiting requests, in arrival order.
    async fn queued(&self) -> Result<Vec<(InstanceSpec, i32)>>;
    /// Clusters and the capacity each reserves.
    async fn clusters(&self) -> Result<Vec<(String, Resources)>>;
}

#[derive(Debug, Clone)]
pub struct FleetConfig {
    pub strategy: Strategy,
    /// How often agents heartbeat.
    pub heartbeat: Duration,
    /// An agent silent this long is offline and its instances unknown.
    pub offline_after: Duration,
    /// The longest a request to an agent may take (image pulls included).
    pub request_timeout: Duration,
    /// Whether a request that does not fit may evict lower-priority instances (they are queued
    /// again); only when that admits it, and from the agent with the fewest victims.
    pub preemption: bool,
}

impl Default for FleetConfig {
    fn default() -> Self {
        Self {
            strategy: Strategy::BinPack,
            heartbeat: Duration::from_secs(5),
            offline_after: Duration::from_secs(20),
            request_timeout: Duration::from_secs(300),
            preemption: false,
        }
    }
}

/// What happens in the fleet, for live views. Instances are named by their backend name.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FleetEvent {
    AgentOnline {
        agent: String,
    },
    AgentOffline {
        agent: String,
    },
    /// Waiting for capacity.
    Queued {
        instance: String,
    },
    /// Left the queue for this agent.
    Admitted {
        instance: String,
        agent: String,
    },
    /// Its agent came back without it, or its admitted create failed.
    Lost {
        instance: String,
    },
    /// An agent claimed an instance placed on another agent; the claim was refused.
    ClaimRefused {
        agent: String,
        instance: String,
    },
    /// An agent's provider stopped answering (its engine is down); it takes no new work.
    BackendDown {
        agent: String,
        reason: String,
    },
    /// An instance's state as its agent reports it changed.
    InstanceState {
        instance: String,
        state: InstanceState,
    },
}

/// A request waiting in the queue for capacity.
#[derive(Debug, Clone, PartialEq)]
pub struct Waiting {
    /// The instance's backend name.
    pub name: String,
    /// Higher is admitted first.
    pub priority: i32,
    /// The cluster it waits in, when it does.
    pub cluster: Option<String>,
    pub resources: Resources,
}

/// What a drain did: instances placed elsewhere (or queued), and those it could not move.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Drained {
    pub moved: Vec<String>,
    pub stuck: Vec<String>,
}

struct Known {
    hello: Hello,
    last_seen: Instant,
    online: bool,
    cordoned: bool,
    /// What the agent last reported running.
    reported: Vec<Instance>,
    /// Set while the agent reports its provider down.
    backend_error: Option<String>,
}

impl Known {
    /// Whether what it reports can be believed now, and it can take work.
    fn usable(&self) -> bool {
        self.online && self.backend_error.is_none()
    }
}

struct Inner {
    config: FleetConfig,
    store: Arc<dyn Store>,
    /// Connections and the requests in flight on them.
    wire: Arc<Wire>,
    sched: Mutex<Scheduler>,
    known: Mutex<HashMap<String, Known>>,
    /// Specs waiting in the queue, by name.
    queued: Mutex<HashMap<String, InstanceSpec>>,
    /// Instances whose agent came back without them.
    lost: Mutex<HashSet<String>>,
    /// Admitted creates in flight: a delete waits for its create to finish, or it would find
    /// nothing to delete and the create would leave an orphan behind.
    creating: Mutex<HashMap<String, tokio::sync::watch::Receiver<bool>>>,
    /// The spec and priority of each instance this fleet created, so a drain can place it again.
    specs: Mutex<HashMap<String, (InstanceSpec, i32)>>,
    events: tokio::sync::broadcast::Sender<FleetEvent>,
}

/// Every connected agent, as one `Compute`.
#[derive(Clone)]
pub struct Fleet {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet").finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().expect("fleet lock")
}

fn demand(spec: &InstanceSpec, priority: i32) -> Demand {
    Demand {
        cluster: spec.labels.get(AGENT_CLUSTER_LABEL).cloned(),
        resources: Resources::of(spec),
        provider: Some(runtime_for(spec).to_string()),
        labels: BTreeMap::new(),
        priority,
    }
}

/// The agent runtime a spec needs: VMs run on QEMU agents, everything else on Docker agents.
pub fn runtime_for(spec: &InstanceSpec) -> &'static str {
    if spec.vm.is_some() {
        "qemu"
    } else {
        "docker"
    }
}

fn offer(hello: &Hello) -> AgentOffer {
    AgentOffer {
        capacity: hello.capacity,
        providers: hello.providers.clone(),
        labels: hello.labels.clone(),
    }
}

/// An instance the fleet speaks for without asking an agent: only its name and state are known.
fn bare(name: &str, state: InstanceState) -> Instance {
    let mut i = Instance::new(name, name, SCHEME);
    i.state = state;
    i
}

fn unavailable(what: impl Into<String>) -> Error {
    Error::new(ErrorKind::Unavailable, what).set_temporary()
}

impl Fleet {
    /// A fleet with the queue it left off with; agents join as they connect.
    pub async fn start(config: FleetConfig, store: Arc<dyn Store>) -> Result<Self> {
        let clusters = store.clusters().await?;
        let waiting = store.queued().await?;
        let specs = store.specs().await?;
        let fleet = Self::new(config, store);
        lock(&fleet.inner.specs).extend(
            specs
                .into_iter()
                .map(|(spec, priority)| (spec.name.clone(), (spec, priority))),
        );
        for (id, capacity) in clusters {
            lock(&fleet.inner.sched).restore_pool(&id, capacity);
        }
        for (spec, priority) in waiting {
            let name = spec.name.clone();
            lock(&fleet.inner.sched).submit(&name, demand(&spec, priority))?;
            lock(&fleet.inner.specs).insert(name.clone(), (spec.clone(), priority));
            lock(&fleet.inner.queued).insert(name, spec);
        }
        Ok(fleet)
    }

    fn new(config: FleetConfig, store: Arc<dyn Store>) -> Self {
        let fleet = Self {
            inner: Arc::new(Inner {
                wire: Arc::new(Wire::new(config.request_timeout)),
                sched: Mutex::new(Scheduler::new(config.strategy)),
                config,
                store,
                known: Mutex::default(),
                queued: Mutex::default(),
                lost: Mutex::default(),
                creating: Mutex::default(),
                specs: Mutex::default(),
                events: tokio::sync::broadcast::channel(1024).0,
            }),
        };
        fleet.watch();
        fleet
    }

    /// Marks agents that stopped heartbeating offline, within a second of their deadline.
    fn watch(&self) {
        let weak = Arc::downgrade(&self.inner);
        if tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { break };
                let fleet = Fleet { inner };
                let silent: Vec<String> = lock(&fleet.inner.known)
                    .iter()
                    .filter(|(_, k)| {
                        k.online && k.last_seen.elapsed() > fleet.inner.config.offline_after
                    })
                    .map(|(id, _)| id.clone())
                    .collect();
                for id in silent {
                    tracing::warn!(agent = %id, "agent stopped heartbeating: offline");
                    fleet.offline(&id);
                }
            }
        });
    }

    /// Live events; a receiver that falls behind is told how many it missed.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<FleetEvent> {
        self.inner.events.subscribe()
    }

    fn emit(&self, event: FleetEvent) {
        // Nobody listening is fine.
        let _ = self.inner.events.send(event);
    }

    pub fn cordon(&self, agent_id: &str, cordoned: bool) -> Result<()> {
        if let Some(k) = lock(&self.inner.known).get_mut(agent_id) {
            k.cordoned = cordoned;
        }
        let admitted = lock(&self.inner.sched).cordon(agent_id, cordoned)?;
        self.dispatch(admitted);
        Ok(())
    }

    /// Reserves capacity for a cluster (checked against what is free and not reserved).
    pub fn create_cluster(&self, id: &str, capacity: Resources) -> Result<()> {
        lock(&self.inner.sched).create_pool(id, capacity)
    }

    /// Ends an empty cluster; its reservation frees capacity, which may admit waiting work.
    pub fn remove_cluster(&self, id: &str) -> Result<()> {
        let admitted = lock(&self.inner.sched).remove_pool(id)?;
        self.dispatch(admitted);
        Ok(())
    }

    /// A cluster's capacity and what of it is used.
    pub fn cluster_usage(&self, id: &str) -> Option<(Resources, Resources)> {
        lock(&self.inner.sched).pool_usage(id)
    }

    /// Requests waiting in a cluster (backend names), in the order they will be admitted.
    pub fn waiting_in(&self, cluster: &str) -> Vec<String> {
        lock(&self.inner.sched)
            .waiting()
            .filter(|(_, d)| d.cluster.as_deref() == Some(cluster))
            .map(|(k, _)| k.to_string())
            .collect()
    }

    /// The first `limit` requests waiting for capacity, in the order they will be admitted.
    pub fn waiting(&self, limit: usize) -> Vec<Waiting> {
        lock(&self.inner.sched)
            .waiting()
            .take(limit)
            .map(|(k, d)| Waiting {
                name: k.to_string(),
                priority: d.priority,
                cluster: d.cluster.clone(),
                resources: d.resources,
            })
            .collect()
    }

    /// Every agent the fleet has seen since it started.
    pub fn agents(&self) -> Vec<AgentStatus> {
        // Lock order everywhere: scheduler, then known agents.
        let sched = lock(&self.inner.sched);
        let known = lock(&self.inner.known);
        let mut out: Vec<AgentStatus> = known
            .iter()
            .map(|(id, k)| {
                let (capacity, free) = sched.usage(id).unwrap_or_default();
                AgentStatus {
                    id: id.clone(),
                    name: k.hello.name.clone(),
                    online: k.online,
                    backend_error: k.backend_error.clone(),
                    cordoned: k.cordoned,
                    capacity,
                    free,
                    providers: k.hello.providers.iter().cloned().collect(),
                    labels: k.hello.labels.clone(),
                    os: k.hello.os.clone(),
                    arch: k.hello.arch.clone(),
                    last_heartbeat_secs: Some(k.last_seen.elapsed().as_secs()),
                    instances: sched.placed_on(id),
                }
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        out
    }
}
