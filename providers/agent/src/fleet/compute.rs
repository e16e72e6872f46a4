//! The fleet as a `Compute`: each call finds the instance's agent and asks it.

use super::*;

/// How long an agent may take to say a console attached.
const ATTACH_TIMEOUT: Duration = Duration::from_secs(30);

pub(super) fn fleet_view(mut i: Instance) -> Instance {
    i.labels.remove(crate::agent::FLEET_LABEL);
    i.labels.remove(AGENT_PRIORITY_LABEL);
    i.labels.remove(AGENT_CLUSTER_LABEL);
    i.provider = SCHEME.to_string();
    i
}

impl Fleet {
    /// A spec as the fleet places it: checked, its priority and cluster turned into the labels
    /// an agent's workloads carry (so the fleet can tell them again when it adopts them after a
    /// restart), and the default size filled in.
    fn prepare(&self, mut spec: InstanceSpec) -> Result<(InstanceSpec, i32)> {
        if spec.disk.is_some()
            && !lock(&self.inner.known)
                .values()
                .any(|k| k.hello.capacity.disk > 0)
        {
            return Err(Error::unsupported(
                "no agent in this fleet leases disk, so none can hold a disk limit",
            ));
        }
        let priority = spec.priority.take().unwrap_or(0);
        spec.labels
            .insert(AGENT_PRIORITY_LABEL.to_string(), priority.to_string());
        if let Some(c) = spec.cluster.take() {
            spec.labels.insert(AGENT_CLUSTER_LABEL.to_string(), c);
        }
        spec.apply_defaults();
        Ok((spec, priority))
    }

    /// Where `spec` would be placed now, reserving nothing: an agent, `None` if it would wait,
    /// or the error a create would give.
    pub fn preview(&self, spec: InstanceSpec) -> Result<Option<String>> {
        let (spec, priority) = self.prepare(spec)?;
        lock(&self.inner.sched).preview(&demand(&spec, priority))
    }
}

#[async_trait]
impl Compute for Fleet {
    fn provider(&self) -> &str {
        SCHEME
    }

    fn capability(&self) -> ComputeCapability {
        // Docker agents resize in place; a VM agent answers a running resize with a conflict.
        // Consoles are there when an agent has them; which instance has which, it says itself.
        let mut cap = ComputeCapability::containers();
        for k in lock(&self.inner.known).values() {
            cap.console |= k.hello.consoles.contains(&ConsoleKind::Serial);
            cap.vnc |= k.hello.consoles.contains(&ConsoleKind::Vnc);
        }
        cap
    }

    /// Places the instance and creates it on its agent; one that does not fit now comes back
    /// `Queued` and is created when capacity frees.
    async fn create(&self, spec: InstanceSpec) -> Result<Instance> {
        // An agent's disks are its own: a mount would name a disk on whichever agent it lands.
        spec.refuse_volumes("fleet")?;
        let (spec, priority) = self.prepare(spec)?;
        self.remember(&spec, priority).await?;
        let name = spec.name.clone();
        let placed = self.schedule(spec, priority, false).await;
        if placed.is_err() {
            self.forget_spec(&name).await;
        }
        placed
    }

    async fn get(&self, name: &str) -> Result<Instance> {
        if let Some(i) = self.queued_view(name) {
            return Ok(i);
        }
        if lock(&self.inner.lost).contains(name) {
            return Ok(bare(name, InstanceState::Failed));
        }
        let agent = self.placed(name)?;
        let online = lock(&self.inner.known)
            .get(&agent)
            .is_some_and(Known::usable);
        if !online {
            // Its agent is silent: it may run or not; say so rather than guess.
            return Ok(bare(name, InstanceState::Unknown));
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
                        if !k.usable() {
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
            options,
        };
        self.instance_op(name, op).await
    }

    async fn restart(&self, name: &str, options: StopOptions) -> Result<Instance> {
        let op = Op::Restart {
            name: name.into(),
            options,
        };
        self.instance_op(name, op).await
    }

    /// Deletes on the agent, then frees the capacity, which may admit waiting requests.
    async fn delete(&self, name: &str, options: DeleteOptions) -> Result<()> {
        if lock(&self.inner.queued).remove(name).is_some() {
            lock(&self.inner.sched).release(name);
            self.forget_spec(name).await;
            self.inner.store.dequeue(name).await?;
            return Ok(());
        }
        if lock(&self.inner.lost).remove(name) {
            self.forget_spec(name).await;
            return Ok(());
        }
        self.settled(name).await;
        let agent = self.placed(name)?;
        let op = Op::Delete {
            name: name.into(),
            options,
        };
        match self.call(&agent, op).await {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        self.forget_spec(name).await;
        let admitted = lock(&self.inner.sched).release(name);
        self.dispatch(admitted);
        Ok(())
    }

    async fn exec(&self, name: &str, request: ExecRequest) -> Result<ExecOutput> {
        let max = request.max_output;
        collect_exec(self.exec_stream(name, request, None).await?, max).await
    }

    async fn exec_stream(
        &self,
        name: &str,
        request: ExecRequest,
        stdin: Option<ByteStream>,
    ) -> Result<ExecStream> {
        let agent = self.placed(name)?;
        // All input travels as stdin pieces, the request's own first.
        let mut request = request;
        let stdin = match (request.stdin.take(), stdin) {
            (None, None) => None,
            (first, more) => Some(
                futures::stream::iter(first.map(Ok))
                    .chain(more.unwrap_or_else(|| futures::stream::empty().boxed()))
                    .boxed(),
            ),
        };
        let op = Op::Exec {
            name: name.into(),
            request,
            stdin_follows: stdin.is_some(),
        };
        Ok(self.inner.wire.live(&agent, op, stdin).await?.boxed())
    }

    async fn logs(&self, name: &str, options: LogOptions) -> Result<LogStream> {
        let agent = self.placed(name)?;
        let op = Op::Logs {
            name: name.into(),
            options,
        };
        let live = self.inner.wire.live(&agent, op, None).await?;
        Ok(live
            .filter_map(|event| async move {
                match event {
                    Ok(ExecEvent::Output(chunk)) => Some(Ok(chunk)),
                    Ok(ExecEvent::Exit { .. }) => None,
                    Err(e) => Some(Err(e)),
                }
            })
            .boxed())
    }

    async fn console(
        &self,
        name: &str,
        kind: ConsoleKind,
        input: ByteStream,
    ) -> Result<ByteStream> {
        let agent = self.placed(name)?;
        let op = Op::Console {
            name: name.into(),
            kind,
        };
        let mut live = self.inner.wire.live(&agent, op, Some(input)).await?;
        // The agent says it attached with an empty piece, so a refusal (not running, in use)
        // is the caller's answer rather than the end of a stream it already has.
        let wait = ATTACH_TIMEOUT.min(self.inner.config.request_timeout);
        match tokio::time::timeout(wait, live.next()).await {
            Ok(Some(Ok(ExecEvent::Output(chunk)))) if chunk.data.is_empty() => {}
            Ok(Some(Err(e))) => return Err(e),
            Ok(_) => {
                return Err(Error::unexpected(
                    "the agent did not say whether the console attached",
                ))
            }
            Err(_) => {
                return Err(Error::new(
                    ErrorKind::Unavailable,
                    format!("the agent did not attach the console within {wait:?}"),
                ))
            }
        }
        Ok(live
            .filter_map(|event| async move {
                match event {
                    Ok(ExecEvent::Output(chunk)) if chunk.data.is_empty() => None,
                    Ok(ExecEvent::Output(chunk)) => Some(Ok(chunk.data)),
                    Ok(ExecEvent::Exit { .. }) => None,
                    Err(e) => Some(Err(e)),
                }
            })
            .boxed())
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
        let old = lock(&self.inner.sched)
            .reserved(name)
            .ok_or_else(|| Error::not_found(format!("instance {name} not found")))?;
        let new = Resources {
            millicpus: request
                .cpus
                .map_or(old.millicpus, nubes_core::resources::millicpus),
            memory: request.memory.unwrap_or(old.memory),
            ..old
        };
        lock(&self.inner.sched).resize(name, new)?;
        let op = Op::Resize {
            name: name.into(),
            request: request.clone(),
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
        if result.is_ok() {
            // Placed again after a drain, it keeps its new size.
            let known = lock(&self.inner.specs).get(name).cloned();
            if let Some((mut spec, priority)) = known {
                spec.cpus = request.cpus.or(spec.cpus);
                spec.memory = request.memory.or(spec.memory);
                if let Err(e) = self.remember(&spec, priority).await {
                    tracing::warn!(instance = %name, error = %e, "cannot record a resize");
                }
            }
        }
        result
    }
}
