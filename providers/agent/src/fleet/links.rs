//! Agents' connections: hello and reconciliation, their messages, going offline.

use super::*;

/// The most instances one agent may report at once: far more than one machine runs, and a
/// bound on the work a report costs the fleet.
const MAX_REPORTED: usize = 10_000;

impl Fleet {
    pub(super) fn offline(&self, agent: &str) {
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
        self.inner.wire.detach(agent);
    }

    /// An agent authenticated as `agent_id` said hello: registers it, reconciles what it runs,
    /// and returns the connection's number and the messages to send it.
    pub async fn connect(
        &self,
        agent_id: &str,
        hello: Hello,
    ) -> Result<(u64, mpsc::Receiver<ServerMessage>)> {
        if hello.instances.len() > MAX_REPORTED {
            return Err(Error::invalid_input(format!(
                "a hello names at most {MAX_REPORTED} instances"
            )));
        }
        if hello.version != protocol::VERSION {
            return Err(Error::invalid_input(format!(
                "protocol version {} is not supported (this server speaks {})",
                hello.version,
                protocol::VERSION
            )));
        }
        let (tx, rx) = mpsc::channel(256);
        tx.send(ServerMessage::Welcome {
            agent_id: agent_id.to_string(),
            heartbeat_secs: self.inner.config.heartbeat.as_secs().max(1),
        })
        .await
        .map_err(|_| unavailable("agent gone"))?;
        // A newer connection replaces an older one.
        let conn = self.inner.wire.attach(agent_id, tx);
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
                backend_error: None,
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
    /// longer has are lost; workloads nobody owns are stopped and removed; owned ones are
    /// adopted only from the agent they were placed on (after a server restart, the one the
    /// store recorded). A claim on an instance placed on another agent is refused and logged:
    /// an agent's word is not proof that it holds anything.
    pub(super) async fn reconcile(&self, agent_id: &str, reported: &[Instance]) {
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
            let Some(recorded) = owned.get(&i.name) else {
                self.remove_stray(agent_id, &i.name);
                continue;
            };
            let holder = lock(&self.inner.sched)
                .placement(&i.name)
                .map(str::to_string)
                .or_else(|| recorded.clone());
            // Waiting in the queue, it runs nowhere: nobody may claim it.
            let waiting = lock(&self.inner.queued).contains_key(&i.name);
            if waiting || holder.as_deref().is_some_and(|h| h != agent_id) {
                tracing::warn!(
                    agent = %agent_id,
                    instance = %i.name,
                    holder = holder.as_deref().unwrap_or_default(),
                    "refused an agent's claim on an instance placed on another agent"
                );
                self.emit(FleetEvent::ClaimRefused {
                    agent: agent_id.to_string(),
                    instance: i.name.clone(),
                });
                continue;
            }
            if recorded.is_none() {
                // Placed before placements were recorded: the first claim is taken, and kept.
                if let Err(e) = self.inner.store.placed(&i.name, agent_id).await {
                    tracing::error!(instance = %i.name, error = %e, "cannot record where an adopted instance runs");
                }
            }
            let priority = i
                .labels
                .get(AGENT_PRIORITY_LABEL)
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            let cluster = i.labels.get(AGENT_CLUSTER_LABEL).map(String::as_str);
            lock(&self.inner.sched).adopt(&i.name, agent_id, Resources::held(i), priority, cluster);
            lock(&self.inner.lost).remove(&i.name);
        }
    }

    /// Stops and removes a workload of the fleet's that nobody owns (its create failed or was
    /// undone while the agent was away): it would hold the lessor's capacity unbilled.
    fn remove_stray(&self, agent_id: &str, name: &str) {
        tracing::warn!(agent = %agent_id, instance = %name, "removing a workload nobody owns");
        let fleet = self.clone();
        let (agent, name) = (agent_id.to_string(), name.to_string());
        tokio::spawn(async move {
            let op = Op::Delete {
                name,
                options: DeleteOptions::new(true, false),
            };
            if let Err(e) = fleet.call(&agent, op).await {
                tracing::warn!(error = %e, "could not remove a stray workload");
            }
        });
    }

    /// Workloads that appeared on an agent since its last report without being placed there
    /// (an engine that finished a create after its agent died and came back, say) are
    /// reconciled like those of a hello: the ones nobody owns are removed. Claims on owned
    /// ones are left to the next hello, which judges them.
    fn sweep_new(&self, agent_id: &str, fresh: Vec<String>) {
        let fresh: Vec<String> = {
            let sched = lock(&self.inner.sched);
            fresh
                .into_iter()
                .filter(|n| sched.placement(n) != Some(agent_id))
                .collect()
        };
        if fresh.is_empty() {
            return;
        }
        let (fleet, agent) = (self.clone(), agent_id.to_string());
        tokio::spawn(async move {
            match fleet.inner.store.owned(&fresh).await {
                Ok(owned) => {
                    for name in fresh.iter().filter(|n| !owned.contains_key(*n)) {
                        fleet.remove_stray(&agent, name);
                    }
                }
                Err(e) => tracing::error!(error = %e, "cannot sweep strays: ownership unknown"),
            }
        });
    }

    /// A message from the agent on connection `conn`.
    pub fn receive(&self, agent_id: &str, conn: u64, msg: AgentMessage) {
        if !self.inner.wire.is_current(agent_id, conn) {
            return; // an old connection's last words
        }
        match msg {
            AgentMessage::Heartbeat {
                instances,
                backend_error,
                ..
            } => {
                if instances.len() > MAX_REPORTED {
                    self.send_error(agent_id, None, "a heartbeat names too many instances");
                    return;
                }
                let (came_back, went_down, changed, fresh) = {
                    let mut known = lock(&self.inner.known);
                    match known.get_mut(agent_id) {
                        Some(k) => {
                            k.last_seen = Instant::now();
                            let was_usable = k.usable();
                            k.online = true;
                            match backend_error {
                                Some(why) => {
                                    let first = k.backend_error.is_none();
                                    k.backend_error = Some(why.clone());
                                    (false, first.then_some(why), Vec::new(), Vec::new())
                                }
                                None => {
                                    k.backend_error = None;
                                    let before: HashMap<&str, InstanceState> = k
                                        .reported
                                        .iter()
                                        .map(|r| (r.name.as_str(), r.state))
                                        .collect();
                                    let changed: Vec<(String, InstanceState)> = instances
                                        .iter()
                                        .filter(|i| {
                                            before
                                                .get(i.name.as_str())
                                                .is_some_and(|s| *s != i.state)
                                        })
                                        .map(|i| (i.name.clone(), i.state))
                                        .collect();
                                    let fresh: Vec<String> = instances
                                        .iter()
                                        .filter(|i| !before.contains_key(i.name.as_str()))
                                        .map(|i| i.name.clone())
                                        .collect();
                                    k.reported = instances;
                                    (!was_usable, None, changed, fresh)
                                }
                            }
                        }
                        None => (false, None, Vec::new(), Vec::new()),
                    }
                };
                self.sweep_new(agent_id, fresh);
                if let Some(reason) = went_down {
                    tracing::warn!(agent = %agent_id, %reason, "an agent's provider is down: it takes no new work");
                    lock(&self.inner.sched).set_online(agent_id, false);
                    self.emit(FleetEvent::BackendDown {
                        agent: agent_id.to_string(),
                        reason,
                    });
                }
                for (instance, state) in changed {
                    // Only what the fleet placed there: an agent's word on others' is nothing.
                    if self.agent_of(&instance).as_deref() == Some(agent_id) {
                        self.emit(FleetEvent::InstanceState { instance, state });
                    }
                }
                if came_back {
                    self.emit(FleetEvent::AgentOnline {
                        agent: agent_id.to_string(),
                    });
                    let admitted = lock(&self.inner.sched).set_online(agent_id, true);
                    self.dispatch(admitted);
                }
            }
            AgentMessage::Reply { id, outcome } => {
                let Some(p) = self.inner.wire.answered(agent_id, id) else {
                    return;
                };
                match (p.reply, outcome) {
                    (reply, Outcome::Failed { kind, message }) => {
                        reply.fail(protocol::error(&kind, &message))
                    }
                    (Reply::Once(done), outcome) => {
                        let _ = done.send(Ok(outcome));
                    }
                    (Reply::Live(tx), Outcome::Exited { exit_code }) => {
                        let _ = tx.try_send(Ok(ExecEvent::Exit { exit_code }));
                    }
                    // Anything else ends the stream (logs end with `done`).
                    (Reply::Live(_), _) => {}
                }
            }
            AgentMessage::Output { id, stream, data } => {
                self.inner
                    .wire
                    .output(agent_id, id, LogChunk { stream, data });
            }
            AgentMessage::StdinRead { id, pieces } => {
                self.inner.wire.stdin_read(agent_id, id, pieces);
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
        if self.inner.wire.is_current(agent_id, conn) {
            self.send_error(agent_id, u.id, &u.message);
        }
    }

    pub(super) fn send_error(&self, agent_id: &str, id: Option<u64>, message: &str) {
        self.inner.wire.send_error(agent_id, id, message);
    }

    /// The connection closed; the agent is offline until it comes back.
    pub fn disconnect(&self, agent_id: &str, conn: u64) {
        if self.inner.wire.is_current(agent_id, conn) {
            self.offline(agent_id);
        }
    }

    /// Drops an agent whose token was revoked.
    pub fn forget(&self, agent_id: &str) {
        self.offline(agent_id);
    }
}
