//! The fleet: the server's side of the agents, and a `Compute` over all of them. A create is
//! placed by the scheduler and sent to the chosen agent; what does not fit waits and is sent the
//! moment capacity frees (a delete, a new agent), not by polling.
//!
//! The fleet is transport-agnostic: the server turns each agent's WebSocket into `connect`,
//! `receive` and `disconnect` calls and forwards what the returned channel yields.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::stream;
use futures::StreamExt;
use nubes_core::{
    Compute, ComputeCapability, DeleteOptions, Error, ErrorKind, ExecOutput, ExecRequest, Instance,
    InstanceSpec, InstanceState, InstanceStats, ListOptions, LogChunk, LogOptions, LogStream,
    LogStreamKind, ResizeRequest, Result, StopOptions,
};
use tokio::sync::{mpsc, oneshot};

use crate::protocol::{self, AgentMessage, Hello, Op, Outcome, ServerMessage};
use crate::scheduler::{AgentOffer, Demand, Resources, Scheduler, Strategy, Submitted};

/// The provider name fleet instances report.
pub const SCHEME: &str = "fleet";
/// The spec label that carries a request's priority to the fleet (the server sets it; users
/// cannot, the `io.nubes.` prefix being reserved).
pub const PRIORITY_LABEL: &str = "io.nubes.priority";
/// The spec label that names the cluster a request runs in (set by the server, like priority).
pub const CLUSTER_LABEL: &str = "io.nubes.cluster";
/// What the agent's workloads carry instead, so the fleet can tell priority and cluster again
/// when it adopts them after a restart (the local provider refuses `io.nubes.` labels).
pub const AGENT_PRIORITY_LABEL: &str = "nubes-priority";
pub const AGENT_CLUSTER_LABEL: &str = "nubes-cluster";
/// Resources assumed for a request that names none, so every instance has limits.
pub const DEFAULT_CPUS: f64 = 1.0;
pub const DEFAULT_MEMORY: u64 = 256 << 20;

/// What the fleet keeps beyond its own memory, in the server's database: which instances
/// tenants own (so after a restart the fleet tells its workloads from strays), and the queue
/// (so a restart loses no waiting request).
#[async_trait]
pub trait Store: Send + Sync + 'static {
    async fn owned(&self, names: &[String]) -> Result<HashSet<String>>;
    async fn enqueue(&self, spec: &InstanceSpec, priority: i32) -> Result<()>;
    async fn dequeue(&self, name: &str) -> Result<()>;
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
}

/// What a drain did: instances placed elsewhere (or queued), and those it could not move.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Drained {
    pub moved: Vec<String>,
    pub stuck: Vec<String>,
}

/// What the fleet knows of an agent, for the admin views.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AgentStatus {
    pub id: String,
    pub name: String,
    pub online: bool,
    pub cordoned: bool,
    pub capacity: Resources,
    pub free: Resources,
    pub providers: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub os: String,
    pub arch: String,
    /// Seconds since the last heartbeat.
    pub last_heartbeat_secs: Option<u64>,
    pub instances: Vec<String>,
}

struct Link {
    tx: mpsc::Sender<ServerMessage>,
    conn: u64,
}

struct Known {
    hello: Hello,
    last_seen: Instant,
    online: bool,
    cordoned: bool,
    /// What the agent last reported running.
    reported: Vec<Instance>,
}

struct Pending {
    agent: String,
    done: oneshot::Sender<Result<Answer>>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// A request's outcome, with the exec output that came before it.
struct Answer {
    outcome: Outcome,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

struct Inner {
    config: FleetConfig,
    store: Arc<dyn Store>,
    sched: Mutex<Scheduler>,
    links: Mutex<HashMap<String, Link>>,
    known: Mutex<HashMap<String, Known>>,
    pending: Mutex<HashMap<u64, Pending>>,
    /// Specs waiting in the queue, by name.
    queued: Mutex<HashMap<String, InstanceSpec>>,
    /// Instances whose agent came back without them.
    lost: Mutex<HashSet<String>>,
    /// Admitted creates in flight: a delete waits for its create to finish, or it would find
    /// nothing to delete and the create would leave an orphan behind.
    creating: Mutex<HashMap<String, tokio::sync::watch::Receiver<bool>>>,
    /// The spec and priority of each instance this fleet created, so a drain can place it again.
    specs: Mutex<HashMap<String, (InstanceSpec, i32)>>,
    next: AtomicU64,
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
        pool: spec.labels.get(AGENT_CLUSTER_LABEL).cloned(),
        resources: Resources::new(
            (spec.cpus.unwrap_or(DEFAULT_CPUS) * 1000.0).round() as u64,
            spec.memory.unwrap_or(DEFAULT_MEMORY),
            spec.disk.unwrap_or(0),
            0,
        ),
        provider: None,
        labels: BTreeMap::new(),
        priority,
    }
}

fn held(i: &Instance) -> Resources {
    Resources::new(
        (i.cpus.unwrap_or(DEFAULT_CPUS) * 1000.0).round() as u64,
        i.memory.unwrap_or(DEFAULT_MEMORY),
        i.disk.unwrap_or(0),
        0,
    )
}

fn offer(hello: &Hello) -> AgentOffer {
    AgentOffer {
        capacity: hello.capacity,
        providers: hello.providers.clone(),
        labels: hello.labels.clone(),
    }
}

fn unavailable(what: impl Into<String>) -> Error {
    Error::new(ErrorKind::Unavailable, what).set_temporary()
}

impl Fleet {
    /// A fleet with the queue it left off with; agents join as they connect.
    pub async fn start(config: FleetConfig, store: Arc<dyn Store>) -> Result<Self> {
        let clusters = store.clusters().await?;
        let waiting = store.queued().await?;
        let fleet = Self::new(config, store);
        for (id, capacity) in clusters {
            lock(&fleet.inner.sched).restore_pool(&id, capacity);
        }
        for (spec, priority) in waiting {
            let name = spec.name.clone();
            lock(&fleet.inner.sched).submit(&name, demand(&spec, priority))?;
            fleet.remember(&spec, priority);
            lock(&fleet.inner.queued).insert(name, spec);
        }
        Ok(fleet)
    }

    fn new(config: FleetConfig, store: Arc<dyn Store>) -> Self {
        let fleet = Self {
            inner: Arc::new(Inner {
                sched: Mutex::new(Scheduler::new(config.strategy)),
                config,
                store,
                links: Mutex::default(),
                known: Mutex::default(),
                pending: Mutex::default(),
                queued: Mutex::default(),
                lost: Mutex::default(),
                creating: Mutex::default(),
                specs: Mutex::default(),
                next: AtomicU64::new(1),
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

    fn offline(&self, agent: &str) {
        let was_online = match lock(&self.inner.known).get_mut(agent) {
            Some(k) => std::mem::replace(&mut k.online, false),
            None => false,
        };
        if was_online {
            self.emit(FleetEvent::AgentOffline {
                agent: agent.to_string(),
            });
        }
        lock(&self.inner.sched).set_online(agent, false);
        lock(&self.inner.links).remove(agent);
        // Requests in flight to it will get no answer.
        let mut pending = lock(&self.inner.pending);
        let ids: Vec<u64> = pending
            .iter()
            .filter(|(_, p)| p.agent == agent)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            if let Some(p) = pending.remove(&id) {
                let _ = p
                    .done
                    .send(Err(unavailable(format!("agent {agent} went away"))));
            }
        }
    }

    /// An agent authenticated as `agent_id` said hello: registers it, reconciles what it runs,
    /// and returns the connection's number and the messages to send it.
    pub async fn connect(
        &self,
        agent_id: &str,
        hello: Hello,
    ) -> Result<(u64, mpsc::Receiver<ServerMessage>)> {
        if hello.version != protocol::VERSION {
            return Err(Error::invalid_input(format!(
                "protocol version {} is not supported (this server speaks {})",
                hello.version,
                protocol::VERSION
            )));
        }
        let (tx, rx) = mpsc::channel(256);
        let conn = self.inner.next.fetch_add(1, Ordering::Relaxed);
        tx.send(ServerMessage::Welcome {
            agent_id: agent_id.to_string(),
            heartbeat_secs: self.inner.config.heartbeat.as_secs().max(1),
        })
        .await
        .map_err(|_| unavailable("agent gone"))?;
        // A newer connection replaces an older one.
        lock(&self.inner.links).insert(agent_id.to_string(), Link { tx, conn });
        let cordoned = lock(&self.inner.known)
            .get(agent_id)
            .is_some_and(|k| k.cordoned);
        // Registered offline until what it already runs is adopted, so nothing is placed on
        // capacity that is in fact taken.
        lock(&self.inner.sched).register(agent_id, offer(&hello));
        self.reconcile(agent_id, &hello.instances).await;
        lock(&self.inner.known).insert(
            agent_id.to_string(),
            Known {
                reported: hello.instances.clone(),
                last_seen: Instant::now(),
                online: true,
                cordoned,
                hello: hello.clone(),
            },
        );
        let admitted = {
            let mut sched = lock(&self.inner.sched);
            if cordoned {
                let _ = sched.cordon(agent_id, true);
            }
            sched.set_online(agent_id, true)
        };
        self.emit(FleetEvent::AgentOnline {
            agent: agent_id.to_string(),
        });
        self.dispatch(admitted);
        Ok((conn, rx))
    }

    /// What an agent reports it runs, against what the fleet placed there: placements it no
    /// longer has are lost; workloads nobody owns are stopped and removed; owned ones the fleet
    /// did not know of (after a server restart) are adopted.
    async fn reconcile(&self, agent_id: &str, reported: &[Instance]) {
        let names: Vec<String> = reported.iter().map(|i| i.name.clone()).collect();
        let owned = match self.inner.store.owned(&names).await {
            Ok(o) => o,
            Err(e) => {
                tracing::error!(error = %e, "cannot reconcile: ownership unknown");
                return;
            }
        };
        let placed: Vec<String> = lock(&self.inner.sched).placed_on(agent_id);
        for name in &placed {
            if !names.contains(name) {
                tracing::warn!(agent = %agent_id, instance = %name, "agent came back without an instance: lost");
                self.lose(name);
            }
        }
        for i in reported {
            if owned.contains(&i.name) {
                let priority = i
                    .labels
                    .get(AGENT_PRIORITY_LABEL)
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(0);
                let pool = i.labels.get(AGENT_CLUSTER_LABEL).map(String::as_str);
                lock(&self.inner.sched).adopt(&i.name, agent_id, held(i), priority, pool);
                lock(&self.inner.lost).remove(&i.name);
            } else {
                tracing::warn!(agent = %agent_id, instance = %i.name, "removing a workload nobody owns");
                let fleet = self.clone();
                let (agent, name) = (agent_id.to_string(), i.name.clone());
                tokio::spawn(async move {
                    let op = Op::Delete { name, force: true };
                    if let Err(e) = fleet.call(&agent, op).await {
                        tracing::warn!(error = %e, "could not remove a stray workload");
                    }
                });
            }
        }
    }

    /// A message from the agent on connection `conn`.
    pub fn receive(&self, agent_id: &str, conn: u64, msg: AgentMessage) {
        let current = lock(&self.inner.links)
            .get(agent_id)
            .is_some_and(|l| l.conn == conn);
        if !current {
            return; // an old connection's last words
        }
        match msg {
            AgentMessage::Heartbeat { instances, .. } => {
                let came_back = {
                    let mut known = lock(&self.inner.known);
                    match known.get_mut(agent_id) {
                        Some(k) => {
                            k.last_seen = Instant::now();
                            k.reported = instances;
                            !std::mem::replace(&mut k.online, true)
                        }
                        None => false,
                    }
                };
                if came_back {
                    self.emit(FleetEvent::AgentOnline {
                        agent: agent_id.to_string(),
                    });
                    let admitted = lock(&self.inner.sched).set_online(agent_id, true);
                    self.dispatch(admitted);
                }
            }
            AgentMessage::Reply { id, outcome } => {
                if let Some(p) = lock(&self.inner.pending).remove(&id) {
                    let result = match outcome {
                        Outcome::Failed { kind, message } => Err(protocol::error(&kind, &message)),
                        outcome => Ok(Answer {
                            outcome,
                            stdout: p.stdout,
                            stderr: p.stderr,
                        }),
                    };
                    let _ = p.done.send(result);
                }
            }
            AgentMessage::Output { id, stream, data } => {
                if let (Some(p), Ok(bytes)) = (
                    lock(&self.inner.pending).get_mut(&id),
                    protocol::unb64(&data),
                ) {
                    match stream {
                        LogStreamKind::Stdout => p.stdout.extend_from_slice(&bytes),
                        LogStreamKind::Stderr => p.stderr.extend_from_slice(&bytes),
                    }
                }
            }
            AgentMessage::Error { id, message, .. } => {
                tracing::warn!(agent = %agent_id, ?id, %message, "agent reported an error");
            }
            AgentMessage::Hello(_) => {
                self.send_error(agent_id, None, "hello was already received");
            }
        }
    }

    /// Answers a frame the server could not read.
    pub fn undecodable(&self, agent_id: &str, conn: u64, u: protocol::Undecodable) {
        if lock(&self.inner.links)
            .get(agent_id)
            .is_some_and(|l| l.conn == conn)
        {
            self.send_error(agent_id, u.id, &u.message);
        }
    }

    fn send_error(&self, agent_id: &str, id: Option<u64>, message: &str) {
        if let Some(l) = lock(&self.inner.links).get(agent_id) {
            let _ = l.tx.try_send(ServerMessage::Error {
                id,
                kind: ErrorKind::InvalidInput.as_str().to_string(),
                message: message.to_string(),
            });
        }
    }

    /// The connection closed; the agent is offline until it comes back.
    pub fn disconnect(&self, agent_id: &str, conn: u64) {
        let current = lock(&self.inner.links)
            .get(agent_id)
            .is_some_and(|l| l.conn == conn);
        if current {
            self.offline(agent_id);
        }
    }

    /// Drops an agent whose token was revoked.
    pub fn forget(&self, agent_id: &str) {
        self.offline(agent_id);
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
            .filter(|(_, d)| d.pool.as_deref() == Some(cluster))
            .map(|(k, _)| k.to_string())
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

    /// Sends `op` to `agent` and waits for its outcome.
    async fn call(&self, agent: &str, op: Op) -> Result<Outcome> {
        Ok(self.ask(agent, op).await?.outcome)
    }

    /// As `call`, keeping exec output.
    async fn ask(&self, agent: &str, op: Op) -> Result<Answer> {
        let id = self.inner.next.fetch_add(1, Ordering::Relaxed);
        let tx = lock(&self.inner.links)
            .get(agent)
            .map(|l| l.tx.clone())
            .ok_or_else(|| unavailable(format!("agent {agent} is offline")))?;
        let (done, wait) = oneshot::channel();
        lock(&self.inner.pending).insert(
            id,
            Pending {
                agent: agent.to_string(),
                done,
                stdout: Vec::new(),
                stderr: Vec::new(),
            },
        );
        if tx.send(ServerMessage::Request { id, op }).await.is_err() {
            lock(&self.inner.pending).remove(&id);
            return Err(unavailable(format!("agent {agent} is offline")));
        }
        match tokio::time::timeout(self.inner.config.request_timeout, wait).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(unavailable(format!("agent {agent} went away"))),
            Err(_) => {
                lock(&self.inner.pending).remove(&id);
                Err(Error::new(
                    ErrorKind::Timeout,
                    format!("agent {agent} did not answer in time"),
                ))
            }
        }
    }

    /// Sends admitted requests to their agents; a failed create frees its reservation.
    fn dispatch(&self, admitted: Vec<(String, String)>) {
        for (name, agent) in admitted {
            let Some(spec) = lock(&self.inner.queued).remove(&name) else {
                continue;
            };
            self.emit(FleetEvent::Admitted {
                instance: name.clone(),
                agent: agent.clone(),
            });
            let (created, watch) = tokio::sync::watch::channel(false);
            lock(&self.inner.creating).insert(name.clone(), watch);
            let fleet = self.clone();
            tokio::spawn(async move {
                let _done = Finished(created, fleet.clone(), name.clone());
                if let Err(e) = fleet.inner.store.dequeue(&name).await {
                    tracing::error!(instance = %name, error = %e, "cannot take an admitted request off the stored queue");
                }
                match fleet.call(&agent, Op::Create { spec }).await {
                    Ok(_) => {}
                    // The agent went away mid-create: whether the instance exists is its to
                    // say when it reconnects (reported: adopted; not: lost). Until then it is
                    // unknown, and its reservation stands.
                    Err(e) if matches!(e.kind(), ErrorKind::Unavailable | ErrorKind::Timeout) => {
                        tracing::warn!(instance = %name, agent = %agent, error = %e, "admitted create unanswered; the agent's next hello settles it");
                    }
                    Err(e) => {
                        tracing::warn!(instance = %name, agent = %agent, error = %e, "admitted create failed");
                        fleet.lose(&name);
                    }
                }
            });
        }
    }

    /// Waits for an admitted create of `name` still in flight, if any.
    async fn settled(&self, name: &str) {
        let watch = lock(&self.inner.creating).get(name).cloned();
        if let Some(mut watch) = watch {
            let _ = tokio::time::timeout(
                self.inner.config.request_timeout,
                watch.wait_for(|done| *done),
            )
            .await;
        }
    }

    /// Marks an instance lost and frees what it held.
    fn lose(&self, name: &str) {
        lock(&self.inner.lost).insert(name.to_string());
        self.emit(FleetEvent::Lost {
            instance: name.to_string(),
        });
        let admitted = lock(&self.inner.sched).release(name);
        self.dispatch(admitted);
    }

    /// Places a spec whose labels are already the agent's, or queues it.
    /// `returning` is for work moved off its agent (evicted, drained): if it must wait, it waits
    /// ahead of everything of its priority.
    async fn schedule(
        &self,
        spec: InstanceSpec,
        priority: i32,
        returning: bool,
    ) -> Result<Instance> {
        let name = spec.name.clone();
        let want = demand(&spec, priority);
        // Under the scheduler's lock the queue entry is recorded before anyone can admit it.
        let submitted = {
            let mut sched = lock(&self.inner.sched);
            let submitted = if returning {
                sched.resubmit(&name, want)?
            } else {
                sched.submit(&name, want)?
            };
            if let Submitted::Queued { .. } = submitted {
                lock(&self.inner.queued).insert(name.clone(), spec.clone());
            }
            submitted
        };
        match submitted {
            Submitted::Queued { .. } => {
                self.emit(FleetEvent::Queued {
                    instance: name.clone(),
                });
                if let Err(e) = self.inner.store.enqueue(&spec, priority).await {
                    lock(&self.inner.queued).remove(&name);
                    lock(&self.inner.sched).release(&name);
                    return Err(e);
                }
                if self.inner.config.preemption {
                    self.preempt(&spec, priority).await;
                }
                match self.queued_view(&name) {
                    Some(i) => Ok(i),
                    None => {
                        // Admitted while it was being stored; its dispatch may have taken it off
                        // the stored queue before it was on it, so take it off again.
                        self.inner.store.dequeue(&name).await?;
                        let mut i = Instance::new(&name, &name, SCHEME);
                        i.state = InstanceState::Creating;
                        Ok(i)
                    }
                }
            }
            Submitted::Placed(agent) => {
                let result = self.call(&agent, Op::Create { spec }).await;
                match result {
                    Ok(Outcome::Instance { instance }) => Ok(fleet_view(instance)),
                    Ok(other) => Err(Error::unexpected(format!("unexpected answer {other:?}"))),
                    Err(e) => {
                        let admitted = lock(&self.inner.sched).release(&name);
                        self.dispatch(admitted);
                        Err(e)
                    }
                }
            }
        }
    }

    fn remember(&self, spec: &InstanceSpec, priority: i32) {
        lock(&self.inner.specs).insert(spec.name.clone(), (spec.clone(), priority));
    }

    /// Evicts lower-priority instances so the waiting `spec` fits, if a plan exists: the victims
    /// are deleted on their agent and queued again; the room they leave admits `spec` first,
    /// since it outranks them.
    async fn preempt(&self, spec: &InstanceSpec, priority: i32) {
        let plan = lock(&self.inner.sched).preemption_plan(&demand(spec, priority));
        let Some((agent, victims)) = plan else {
            return;
        };
        let mut evicted = Vec::new();
        for victim in victims {
            // Only what the fleet can queue again is evicted.
            let Some(again) = lock(&self.inner.specs).get(&victim).cloned() else {
                continue;
            };
            self.settled(&victim).await;
            let op = Op::Delete {
                name: victim.clone(),
                force: true,
            };
            match self.call(&agent, op).await {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::warn!(instance = %victim, error = %e, "could not evict");
                    continue;
                }
            }
            tracing::info!(instance = %victim, by = %spec.name, "evicted for a higher priority");
            evicted.push((victim, again));
        }
        let names: Vec<String> = evicted.iter().map(|(n, _)| n.clone()).collect();
        let admitted = lock(&self.inner.sched).evict(&names);
        self.dispatch(admitted);
        for (victim, (again, p)) in evicted {
            if let Err(e) = Box::pin(self.schedule(again, p, true)).await {
                tracing::warn!(instance = %victim, error = %e, "an evicted instance could not be queued again");
                self.lose(&victim);
            }
        }
    }

    /// Cordons the agent and moves what it runs elsewhere: each instance is deleted there and
    /// placed again (or queued) under the same name, so its tenant keeps it, restarted. What the
    /// fleet cannot re-create (adopted after a restart, its spec unknown) stays and is reported.
    pub async fn drain(&self, agent: &str) -> Result<Drained> {
        self.cordon(agent, true)?;
        let mut drained = Drained::default();
        let names = lock(&self.inner.sched).placed_on(agent);
        for name in names {
            self.settled(&name).await;
            let Some((spec, priority)) = lock(&self.inner.specs).get(&name).cloned() else {
                drained.stuck.push(name);
                continue;
            };
            let op = Op::Delete {
                name: name.clone(),
                force: true,
            };
            match self.call(agent, op).await {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::warn!(instance = %name, error = %e, "cannot drain an instance");
                    drained.stuck.push(name);
                    continue;
                }
            }
            let admitted = lock(&self.inner.sched).release(&name);
            self.dispatch(admitted);
            match self.schedule(spec, priority, true).await {
                Ok(_) => drained.moved.push(name),
                Err(e) => {
                    tracing::warn!(instance = %name, error = %e, "a drained instance could not be placed again");
                    self.lose(&name);
                    drained.stuck.push(name);
                }
            }
        }
        Ok(drained)
    }

    fn placed(&self, name: &str) -> Result<String> {
        if let Some(agent) = lock(&self.inner.sched).placement(name) {
            return Ok(agent.to_string());
        }
        if lock(&self.inner.queued).contains_key(name) {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!("instance {name} is queued, waiting for capacity"),
            ));
        }
        Err(Error::not_found(format!("instance {name} not found")))
    }

    async fn instance_op(&self, name: &str, op: Op) -> Result<Instance> {
        let agent = self.placed(name)?;
        match self.call(&agent, op).await? {
            Outcome::Instance { instance } => Ok(fleet_view(instance)),
            other => Err(Error::unexpected(format!("unexpected answer {other:?}"))),
        }
    }

    fn queued_view(&self, name: &str) -> Option<Instance> {
        let queued = lock(&self.inner.queued);
        let spec = queued.get(name)?;
        let mut i = Instance::new(name, name, SCHEME);
        i.state = InstanceState::Queued;
        i.image = spec.image.clone();
        i.cpus = spec.cpus;
        i.memory = spec.memory;
        i.labels = spec.labels.clone();
        Some(fleet_view(i))
    }
}

/// Ends an admitted create's in-flight mark however its task ends.
struct Finished(tokio::sync::watch::Sender<bool>, Fleet, String);

impl Drop for Finished {
    fn drop(&mut self) {
        lock(&self.1.inner.creating).remove(&self.2);
        let _ = self.0.send(true);
    }
}

fn fleet_view(mut i: Instance) -> Instance {
    i.labels.remove(crate::agent::FLEET_LABEL);
    i.labels.remove(AGENT_PRIORITY_LABEL);
    i.labels.remove(AGENT_CLUSTER_LABEL);
    i.provider = SCHEME.to_string();
    i
}

#[async_trait]
impl Compute for Fleet {
    fn provider(&self) -> &str {
        SCHEME
    }

    fn capability(&self) -> ComputeCapability {
        let mut cap = ComputeCapability::default();
        cap.restart = true;
        cap.exec = true;
        cap.exec_stdin = true;
        cap.logs = true;
        cap.stats = true;
        cap.resize = true;
        cap
    }

    /// Places the instance and creates it on its agent; one that does not fit now comes back
    /// `Queued` and is created when capacity frees.
    async fn create(&self, mut spec: InstanceSpec) -> Result<Instance> {
        let priority: i32 = match spec.labels.remove(PRIORITY_LABEL) {
            Some(p) => p
                .parse()
                .map_err(|_| Error::invalid_input(format!("priority `{p}` is not an integer")))?,
            None => 0,
        };
        let cluster = spec.labels.remove(CLUSTER_LABEL);
        spec.validate()?;
        spec.labels
            .insert(AGENT_PRIORITY_LABEL.to_string(), priority.to_string());
        if let Some(c) = cluster {
            spec.labels.insert(AGENT_CLUSTER_LABEL.to_string(), c);
        }
        spec.cpus.get_or_insert(DEFAULT_CPUS);
        spec.memory.get_or_insert(DEFAULT_MEMORY);
        self.remember(&spec, priority);
        let name = spec.name.clone();
        let placed = self.schedule(spec, priority, false).await;
        if placed.is_err() {
            lock(&self.inner.specs).remove(&name);
        }
        placed
    }

    async fn get(&self, name: &str) -> Result<Instance> {
        if let Some(i) = self.queued_view(name) {
            return Ok(i);
        }
        if lock(&self.inner.lost).contains(name) {
            let mut i = Instance::new(name, name, SCHEME);
            i.state = InstanceState::Failed;
            return Ok(i);
        }
        let agent = self.placed(name)?;
        let online = lock(&self.inner.known)
            .get(&agent)
            .is_some_and(|k| k.online);
        if !online {
            // Its agent is silent: it may run or not; say so rather than guess.
            let mut i = Instance::new(name, name, SCHEME);
            i.state = InstanceState::Unknown;
            return Ok(i);
        }
        self.instance_op(name, Op::Get { name: name.into() }).await
    }

    /// From the agents' last reports (no round trips), plus what waits.
    async fn list(&self, options: ListOptions) -> Result<Vec<Instance>> {
        let mut out: Vec<Instance> = Vec::new();
        {
            let sched = lock(&self.inner.sched);
            for (id, k) in lock(&self.inner.known).iter() {
                for i in &k.reported {
                    if sched.placement(&i.name) == Some(id.as_str()) {
                        let mut i = fleet_view(i.clone());
                        if !k.online {
                            i.state = InstanceState::Unknown;
                        }
                        out.push(i);
                    }
                }
            }
        }
        let queued: Vec<String> = lock(&self.inner.queued).keys().cloned().collect();
        out.extend(queued.iter().filter_map(|n| self.queued_view(n)));
        out.retain(|i| options.matches(i));
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    async fn start(&self, name: &str) -> Result<Instance> {
        self.instance_op(name, Op::Start { name: name.into() })
            .await
    }

    async fn stop(&self, name: &str, options: StopOptions) -> Result<Instance> {
        let op = Op::Stop {
            name: name.into(),
            timeout_secs: options.timeout.as_secs(),
        };
        self.instance_op(name, op).await
    }

    async fn restart(&self, name: &str, options: StopOptions) -> Result<Instance> {
        let op = Op::Restart {
            name: name.into(),
            timeout_secs: options.timeout.as_secs(),
        };
        self.instance_op(name, op).await
    }

    /// Deletes on the agent, then frees the capacity, which may admit waiting requests.
    async fn delete(&self, name: &str, options: DeleteOptions) -> Result<()> {
        if lock(&self.inner.queued).remove(name).is_some() {
            lock(&self.inner.sched).release(name);
            lock(&self.inner.specs).remove(name);
            self.inner.store.dequeue(name).await?;
            return Ok(());
        }
        if lock(&self.inner.lost).remove(name) {
            lock(&self.inner.specs).remove(name);
            return Ok(());
        }
        self.settled(name).await;
        let agent = self.placed(name)?;
        let op = Op::Delete {
            name: name.into(),
            force: options.force,
        };
        match self.call(&agent, op).await {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        lock(&self.inner.specs).remove(name);
        let admitted = lock(&self.inner.sched).release(name);
        self.dispatch(admitted);
        Ok(())
    }

    async fn exec(&self, name: &str, request: ExecRequest) -> Result<ExecOutput> {
        let agent = self.placed(name)?;
        let op = Op::Exec {
            name: name.into(),
            command: request.command,
            env: request.env,
            workdir: request.workdir,
            stdin: request.stdin.as_deref().map(protocol::b64),
            timeout_secs: request.timeout.map(|t| t.as_secs().max(1)),
        };
        let answer = self.ask(&agent, op).await?;
        match answer.outcome {
            Outcome::Exited { exit_code } => {
                Ok(ExecOutput::new(exit_code, answer.stdout, answer.stderr))
            }
            other => Err(Error::unexpected(format!("unexpected answer {other:?}"))),
        }
    }

    async fn logs(&self, name: &str, options: LogOptions) -> Result<LogStream> {
        if options.follow {
            return Err(Error::unsupported("the fleet does not follow logs yet"));
        }
        let agent = self.placed(name)?;
        let op = Op::Logs {
            name: name.into(),
            tail: options.tail,
        };
        match self.call(&agent, op).await? {
            Outcome::Logs { data } => {
                let chunk = LogChunk {
                    stream: LogStreamKind::Stdout,
                    data: protocol::unb64(&data)?.into(),
                };
                Ok(stream::iter([Ok(chunk)]).boxed())
            }
            other => Err(Error::unexpected(format!("unexpected answer {other:?}"))),
        }
    }

    async fn stats(&self, name: &str) -> Result<InstanceStats> {
        let agent = self.placed(name)?;
        match self.call(&agent, Op::Stats { name: name.into() }).await? {
            Outcome::Stats { stats } => Ok(stats),
            other => Err(Error::unexpected(format!("unexpected answer {other:?}"))),
        }
    }

    /// Checks the new size against the agent's free capacity and reserves it first, so a
    /// resize never overbooks; a failure on the agent restores the old reservation.
    async fn resize(&self, name: &str, request: ResizeRequest) -> Result<Instance> {
        request.validate()?;
        let old = lock(&self.inner.sched)
            .reserved(name)
            .ok_or_else(|| Error::not_found(format!("instance {name} not found")))?;
        let new = Resources {
            millicpus: request
                .cpus
                .map_or(old.millicpus, |c| (c * 1000.0).round() as u64),
            memory: request.memory.unwrap_or(old.memory),
            ..old
        };
        lock(&self.inner.sched).resize(name, new)?;
        let op = Op::Resize {
            name: name.into(),
            cpus: request.cpus,
            memory: request.memory,
        };
        let result = self.instance_op(name, op).await;
        let admitted = {
            let mut sched = lock(&self.inner.sched);
            if result.is_err() {
                let _ = sched.resize(name, old);
            }
            sched.admit_waiting()
        };
        self.dispatch(admitted);
        result
    }
}
