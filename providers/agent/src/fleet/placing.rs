//! Placing work on agents: creates admitted from the queue, preemption, drains.

use super::*;

impl Fleet {
    /// Sends `op` to `agent` and waits for its outcome.
    pub(super) async fn call(&self, agent: &str, op: Op) -> Result<Outcome> {
        self.inner.wire.call(agent, op).await
    }

    /// Records that `name` goes to `agent`, so that after a restart no other agent can claim
    /// it. Not recorded (the database down), the first agent to claim it after a restart gets it.
    async fn record_placement(&self, name: &str, agent: &str) {
        if let Err(e) = self.inner.store.placed(name, agent).await {
            tracing::error!(instance = %name, %agent, error = %e, "cannot record where an instance is placed");
        }
    }

    /// Sends admitted requests to their agents; a failed create frees its reservation.
    pub(super) fn dispatch(&self, admitted: Vec<(String, String)>) {
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
                fleet.record_placement(&name, &agent).await;
                match fleet
                    .call(
                        &agent,
                        Op::Create {
                            spec: Box::new(spec),
                        },
                    )
                    .await
                {
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
    pub(super) async fn settled(&self, name: &str) {
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
    pub(super) fn lose(&self, name: &str) {
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
    pub(super) async fn schedule(
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
                        Ok(bare(&name, InstanceState::Creating))
                    }
                }
            }
            Submitted::Placed(agent) => {
                self.record_placement(&name, &agent).await;
                let result = self
                    .call(
                        &agent,
                        Op::Create {
                            spec: Box::new(spec),
                        },
                    )
                    .await;
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

    pub(super) async fn remember(&self, spec: &InstanceSpec, priority: i32) -> Result<()> {
        self.inner.store.remember(spec, priority).await?;
        lock(&self.inner.specs).insert(spec.name.clone(), (spec.clone(), priority));
        Ok(())
    }

    /// Forgets an instance that is gone. A failed write leaves a stale row, which is harmless:
    /// it names nothing, and the name is never used again.
    pub(super) async fn forget_spec(&self, name: &str) {
        lock(&self.inner.specs).remove(name);
        if let Err(e) = self.inner.store.forget(name).await {
            tracing::warn!(instance = %name, error = %e, "cannot forget a deleted instance's spec");
        }
    }

    /// Evicts lower-priority instances so the waiting `spec` fits, if a plan exists: the victims
    /// are deleted on their agent and queued again; the room they leave admits `spec` first,
    /// since it outranks them.
    pub(super) async fn preempt(&self, spec: &InstanceSpec, priority: i32) {
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
                options: DeleteOptions::new(true, false),
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
                options: DeleteOptions::new(true, false),
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

    /// The agent an instance is placed on, if it is.
    pub fn agent_of(&self, name: &str) -> Option<String> {
        lock(&self.inner.sched).placement(name).map(str::to_string)
    }

    pub(super) fn placed(&self, name: &str) -> Result<String> {
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

    pub(super) async fn instance_op(&self, name: &str, op: Op) -> Result<Instance> {
        let agent = self.placed(name)?;
        match self.call(&agent, op).await? {
            Outcome::Instance { instance } => Ok(fleet_view(instance)),
            other => Err(Error::unexpected(format!("unexpected answer {other:?}"))),
        }
    }

    pub(super) fn queued_view(&self, name: &str) -> Option<Instance> {
        let queued = lock(&self.inner.queued);
        let spec = queued.get(name)?;
        let mut i = bare(name, InstanceState::Queued);
        i.image = spec.image.clone();
        i.cpus = spec.cpus;
        i.memory = spec.memory;
        i.labels = spec.labels.clone();
        Some(fleet_view(i))
    }
}

/// Ends an admitted create's in-flight mark however its task ends.
pub(super) struct Finished(tokio::sync::watch::Sender<bool>, Fleet, String);

impl Drop for Finished {
    fn drop(&mut self) {
        lock(&self.1.inner.creating).remove(&self.2);
        let _ = self.0.send(true);
    }
}
