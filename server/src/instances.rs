//! Instances for tenants: rows record who owns what; the compute provider behind the server
//! runs them. Every call is scoped through `tenancy` before the backend is touched, and backend
//! names never collide between tenants (two organizations may each have a "web").

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use nubes::{
    ByteStream, Compute, ComputeCapability, DeleteOptions, Error, ErrorKind, ExecRequest,
    ExecStream, Instance, InstanceSpec, InstanceState, InstanceStats, LogOptions, LogStream,
    ResizeRequest, Result, Scope, StopOptions,
};
use nubes_auth::token;
use nubes_auth::Action;

use crate::accounts::now;
use crate::billing::Billing;
use crate::clusters::Clusters;
use crate::db::{org_lock, user_lock, Db, InstanceRow, Locked, MeterRow, Settlement};
use crate::events::Events;
use crate::gates::Gate;
use crate::metering::Metering;
use crate::tenancy::Principal;
use crate::tenancy::{self, Ref};
pub use nubes_api::instances::{
    CreateInstance, DryRun, ExecBody, ExecResult, TenantInstance, VmBody,
};
use nubes_billing::{Credits, Resources};

/// How long a command may run when the caller does not say, and at most.
pub const EXEC_TIMEOUT: Duration = Duration::from_secs(300);
pub const EXEC_TIMEOUT_MAX: Duration = Duration::from_secs(3600);
/// The most of each of stdout and stderr an exec's answer holds.
pub const EXEC_OUTPUT_MAX: u64 = 1 << 20;
/// The highest (and, negated, lowest) priority a tenant may give an instance.
pub const MAX_TENANT_PRIORITY: i32 = 10;
/// Commands one user may run at once (answered and interactive together).
pub const EXECS_PER_USER: usize = 8;

/// The request, within the server's bounds: a timeout always (the default when unset), and
/// collected output capped.
fn exec_request(body: ExecBody) -> Result<ExecRequest> {
    let mut req = body.into_request();
    let timeout = req.timeout.unwrap_or(EXEC_TIMEOUT);
    if timeout > EXEC_TIMEOUT_MAX || timeout.is_zero() {
        return Err(Error::invalid_input(format!(
            "timeout_secs must be 1 to {}",
            EXEC_TIMEOUT_MAX.as_secs()
        )));
    }
    req.timeout = Some(timeout);
    req.max_output = Some(
        req.max_output
            .unwrap_or(EXEC_OUTPUT_MAX)
            .min(EXEC_OUTPUT_MAX),
    );
    Ok(req)
}

fn view(row: &InstanceRow, live: Option<&Instance>) -> TenantInstance {
    TenantInstance {
        id: row.id.clone(),
        name: row.name.clone(),
        org_id: row.org_id.clone(),
        owner_id: row.owner_id.clone(),
        state: live.map_or(InstanceState::Unknown, |i| i.state),
        exit_code: live.and_then(|i| i.exit_code),
        image: live.map(|i| i.image.clone()).unwrap_or_default(),
        cpus: live.and_then(|i| i.cpus),
        memory: live.and_then(|i| i.memory),
        labels: live.map(|i| i.labels.clone()).unwrap_or_default(),
        created_at: row.created_at,
        consoles: live.map(|i| i.consoles.clone()).unwrap_or_default(),
    }
}

#[derive(Debug, Clone)]
pub struct Instances {
    db: Db,
    compute: Option<Arc<dyn Compute>>,
    events: Events,
    clusters: Clusters,
    /// Plans, payment and metering, when the server bills.
    billing: Option<(Billing, Metering)>,
    /// The fleet, when instances run on lessors' agents: for previews of placement.
    fleet: Option<nubes_agent::Fleet>,
    /// Commands running per user.
    execs: Arc<Gate>,
}

/// What `recover` did at startup, by instance id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Rows whose instance was never made: removed, their payment refunded.
    pub undone: Vec<String>,
    /// Instances made but never started: started.
    pub started: Vec<String>,
    /// Rows of instances deleted from the backend by a delete cut short: removed.
    pub gone: Vec<String>,
}

impl Instances {
    pub fn new(
        db: Db,
        compute: Option<Arc<dyn Compute>>,
        events: Events,
        clusters: Clusters,
        billing: Option<(Billing, Metering)>,
        fleet: Option<nubes_agent::Fleet>,
    ) -> Self {
        Self {
            db,
            compute,
            events,
            clusters,
            billing,
            fleet,
            execs: Arc::new(Gate::new("running commands", EXECS_PER_USER)),
        }
    }

    /// The spec a tenant's request makes, checked, and the organization it goes in.
    async fn spec_for(
        &self,
        p: &Principal,
        req: &CreateInstance,
    ) -> Result<(InstanceSpec, String)> {
        let compute = self.compute()?;
        let mut spec = req.spec();
        spec.validate()?;
        nubes::validate::tenant_labels(&spec.labels)?;
        // What plans count and metering bills is what the backend is told to enforce: with
        // instances that come in sizes, the size it will get.
        spec.apply_defaults();
        let size = compute.fit(spec.cpus, spec.memory).await?;
        (spec.cpus, spec.memory) = (size.cpus, size.memory);
        if req.priority.is_some() && compute.provider() != nubes_agent::fleet::SCHEME {
            return Err(Error::invalid_input(
                "priority applies to fleet servers only; this one runs instances itself",
            ));
        }
        if let Some(priority) = req.priority {
            // With preemption on, priority evicts others' work: tenants choose within a band,
            // platform admins beyond it.
            if priority.unsigned_abs() > MAX_TENANT_PRIORITY.unsigned_abs()
                && !tenancy::actor(&self.db, p, "").await?.platform_admin
            {
                return Err(Error::invalid_input(format!(
                    "priority is -{MAX_TENANT_PRIORITY} to {MAX_TENANT_PRIORITY} (beyond that, for platform admins)"
                )));
            }
        }
        let org_id = tenancy::creating_in(&self.db, p, req.org_id.clone()).await?;
        // The fleet knows a cluster by its id, whichever way the request named it.
        spec.cluster = match &req.cluster_id {
            Some(cluster) => Some(self.clusters.check_deploy(p, cluster, &org_id).await?),
            None => None,
        };
        Ok((spec, org_id))
    }

    /// What creating `req` would do now: where it would run, whether the plan allows it, and
    /// what it costs. Nothing is made, reserved or charged.
    pub async fn dry_run(&self, p: &Principal, req: CreateInstance) -> Result<DryRun> {
        let (spec, org_id) = self.spec_for(p, &req).await?;
        let want = Resources::of(&spec);
        let (cpus, memory) = (spec.cpus, spec.memory);
        let (placement, agent_id, placement_message) = match &self.fleet {
            None => ("direct".to_string(), None, None),
            Some(fleet) => match fleet.preview(spec) {
                Ok(Some(agent)) => ("placed".to_string(), Some(agent), None),
                Ok(None) => (
                    "queued".to_string(),
                    None,
                    Some("no agent has room now: it would wait for capacity".to_string()),
                ),
                Err(e) if matches!(e.kind(), ErrorKind::QuotaExceeded | ErrorKind::Unsupported) => {
                    ("refused".to_string(), None, Some(e.message().to_string()))
                }
                Err(e) => return Err(e),
            },
        };
        let prices = match &self.billing {
            Some((billing, _)) => billing.prices(),
            None => nubes_billing::Prices::default(),
        };
        let hourly = prices.hourly(Resources::new(want.millicpus, want.memory, 0, 0));
        let (mut within_plan, mut plan_message, mut due_now, mut balance) =
            (true, None, None, None);
        if let Some((billing, _)) = &self.billing {
            let creator = self.db.org_creator(&org_id).await?;
            billing.current(&p.user_id).await?;
            billing.current(&creator).await?;
            let mut conn = self
                .db
                .pool()
                .acquire()
                .await
                .map_err(|e| crate::db::map(e, "instance"))?;
            if let Err(e) = billing
                .admit(&mut conn, &p.user_id, (&org_id, &creator), want, "")
                .await
            {
                within_plan = false;
                plan_message = Some(e.message().to_string());
            }
            let due = hourly
                .checked_add(prices.disk_once(want.disk))
                .unwrap_or(hourly);
            due_now = Some(due.to_string());
            balance = Some(billing.balance_of(&p.user_id).await?.to_string());
        }
        Ok(DryRun {
            placement,
            agent_id,
            placement_message,
            within_plan,
            plan_message,
            hourly: hourly.to_string(),
            due_now,
            balance,
            cpus,
            memory,
        })
    }

    /// Charges running instances up to now (metering's tick), when the server bills.
    pub async fn meter(&self) -> Result<()> {
        match (&self.compute, &self.billing) {
            (Some(compute), Some((billing, metering))) => {
                crate::metering::tick(metering, billing, &self.events, compute.as_ref()).await
            }
            _ => Ok(()),
        }
    }

    /// Tells live subscribers about a change to the instance.
    fn announce(&self, kind: &str, row: &InstanceRow, state: Option<InstanceState>) {
        let mut e = crate::events::event(kind);
        e.org_id = Some(row.org_id.clone());
        e.instance_id = Some(row.id.clone());
        e.name = Some(row.name.clone());
        e.state = state.map(|s| s.as_str().to_string());
        self.events.publish(e);
    }

    fn changed(&self, row: &InstanceRow, live: &Instance) -> TenantInstance {
        self.announce("instance.state", row, Some(live.state));
        view(row, Some(live))
    }

    fn compute(&self) -> Result<&Arc<dyn Compute>> {
        self.compute
            .as_ref()
            .ok_or_else(|| Error::unsupported("this server has no compute provider configured"))
    }

    /// The row, if the caller may do `action` to it; otherwise `NotFound` or `PermissionDenied`.
    async fn authorized(&self, p: &Principal, r: Ref<'_>, action: Action) -> Result<InstanceRow> {
        tenancy::find(&self.db, p, r, action).await
    }

    /// Whether `p` may still `action` instance `id`: false once their role no longer lets them
    /// or the instance is gone; a failure to look is not taken for either.
    pub async fn still_allowed(&self, p: &Principal, id: &str, action: Action) -> bool {
        tenancy::allows::<InstanceRow>(&self.db, p, id, action)
            .await
            .unwrap_or(true)
    }

    pub async fn create(&self, p: &Principal, req: CreateInstance) -> Result<TenantInstance> {
        let compute = self.compute()?;
        let id = token::random_id();
        let (mut spec, org_id) = self.spec_for(p, &req).await?;
        spec.name = tenancy::backend_name(&id);
        let row = InstanceRow {
            id,
            org_id,
            owner_id: p.user_id.clone(),
            name: req.name,
            backend_id: spec.name.clone(),
            created_at: now(),
            size: Resources::of(&spec),
        };
        let (paid, limits) = self.admit(&row).await?;
        spec.scope = self.scope(&row.org_id, limits);
        match compute.create(spec).await {
            Ok(live) => {
                self.announce("instance.created", &row, Some(live.state));
                Ok(view(&row, Some(&live)))
            }
            Err(e) => {
                self.unmake(&row, paid).await?;
                Err(e)
            }
        }
    }

    /// The share of a direct provider an organization's instances are kept in (a Kubernetes
    /// namespace of its own), bounded, where the server bills, by the plan of its creator that
    /// holds its instances together (`limits`, as admission read it). The fleet's agents are
    /// not told whose instance they run.
    fn scope(&self, org_id: &str, limits: Option<Resources>) -> Option<Scope> {
        if self.fleet.is_some() {
            return None;
        }
        let scope = Scope::new(org_id);
        Some(match limits {
            Some(limits) => scope.limits(limits),
            None => scope,
        })
    }

    /// Admits a new instance before it is made: under the locks of its creator and of its
    /// organization, both plans are checked against the rows they hold, the row is inserted
    /// (a taken name refuses it here), the first hour and the disk are paid and the meter
    /// opened, all in one database transaction, so racing creates are admitted one at a time
    /// and a refused one costs nothing. Returns what was paid, and the limits of the plan that
    /// holds the organization's instances together.
    async fn admit(&self, row: &InstanceRow) -> Result<(Option<Credits>, Option<Resources>)> {
        let Some((billing, metering)) = &self.billing else {
            self.db.insert_instance(row).await?;
            return Ok((None, None));
        };
        let prices = billing.prices();
        let hour = prices.hourly(Resources::new(row.size.millicpus, row.size.memory, 0, 0));
        let disk = prices.disk_once(row.size.disk);
        let price = hour
            .checked_add(disk)
            .ok_or_else(|| Error::invalid_input("this instance is too large to price"))?;
        let (mut db, org_limits) = self.within_plans(billing, row, row.size, "").await?;
        Db::insert_instance_in(&mut db, row).await?;
        let memo = format!("instance {}: first hour and disk", row.name);
        billing
            .charge_upfront_in(
                &mut db,
                &row.owner_id,
                format!("prepay:{}", row.id),
                memo,
                price,
            )
            .await?;
        // The first hour is paid: metering spends it before charging anything.
        let meter = MeterRow::new(&row.backend_id, &row.owner_id, hour, &row.id, &row.name);
        let used = metering.opening(disk);
        Db::settle_meter_in(&mut db, Settlement::opening(&meter, &used, billing.now())).await?;
        db.commit()
            .await
            .map_err(|e| crate::db::map(e, "instance"))?;
        Ok((Some(price), Some(org_limits)))
    }

    /// Brings rows and the backend back in line after the server stopped without warning (a
    /// crash, a kill) in the middle of creates: a row whose instance the backend never made is
    /// undone, its payment refunded; an instance made but never started is started. Running
    /// instances whose meters are closed are metered from the first tick on (`Metering`). The
    /// fleet's instances are left to the fleet, which learns them as agents come back.
    ///
    /// Only rows made at or before `made_by` (seconds since the epoch) are looked at: with
    /// several servers sharing a database, a younger row may be another server's create in
    /// flight.
    pub async fn recover(&self, made_by: Option<i64>) -> Result<Recovered> {
        let mut done = Recovered::default();
        let Some(compute) = &self.compute else {
            return Ok(done);
        };
        if self.fleet.is_some() {
            return Ok(done);
        }
        let rows = self.db.all_instances().await?;
        for row in rows
            .into_iter()
            .filter(|r| made_by.is_none_or(|t| r.created_at <= t))
        {
            match compute.get(&row.backend_id).await {
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    if self.ever_ran(&row).await? {
                        // A delete cut short after the backend's part: it ran and was paid for
                        // what it used, so only its row goes.
                        tracing::warn!(instance = %row.id, "a delete cut short: its row removed");
                        self.db.delete_instance(&row.id).await?;
                        done.gone.push(row.id);
                        continue;
                    }
                    let paid = self
                        .db
                        .posted_to(&format!("prepay:{}", row.id), &row.owner_id)
                        .await?;
                    tracing::warn!(instance = %row.id, "a create cut short: undone and refunded");
                    self.unmake(&row, paid).await?;
                    done.undone.push(row.id);
                }
                Ok(live) if live.state == InstanceState::Creating => {
                    tracing::warn!(instance = %row.id, "made but never started: starting it");
                    match compute.start(&row.backend_id).await {
                        Ok(_) => done.started.push(row.id),
                        Err(e) => {
                            tracing::warn!(instance = %row.id, error = %e, "cannot start it")
                        }
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(instance = %row.id, error = %e, "cannot check an instance at startup");
                }
            }
        }
        Ok(done)
    }

    /// Whether the instance was ever made, as far as metering knows: a meter that applied any
    /// event. Without billing nothing was paid, so there is nothing to tell apart.
    async fn ever_ran(&self, row: &InstanceRow) -> Result<bool> {
        if self.billing.is_none() {
            return Ok(false);
        }
        Ok(match self.db.meter(&row.backend_id).await {
            Ok(Some(m)) => m.meter.seq > 0,
            Ok(None) => false,
            // An unreadable meter may have run: nothing is refunded on its word.
            Err(e) if e.kind() == ErrorKind::Unexpected => true,
            Err(e) => return Err(e),
        })
    }

    /// A transaction holding the locks of the instance's creator and organization.
    async fn tenants_locked(&self, row: &InstanceRow) -> Result<Locked> {
        let (user, org) = (user_lock(&row.owner_id), org_lock(&row.org_id));
        self.db.locked(&[&user, &org]).await
    }

    /// The plans renewed, then a transaction holding both tenants' locks in which `want` more
    /// (than what `row`'s creator and organization hold, leaving out `except`) was found to fit
    /// both plans: what follows in it is admitted. Also returns the limits of the creator's
    /// plan, which holds the organization's instances together.
    async fn within_plans(
        &self,
        billing: &Billing,
        row: &InstanceRow,
        want: Resources,
        except: &str,
    ) -> Result<(Locked, Resources)> {
        let creator = self.db.org_creator(&row.org_id).await?;
        billing.current(&row.owner_id).await?;
        let (org_plan, _) = billing.current(&creator).await?;
        let mut db = self.tenants_locked(row).await?;
        billing
            .admit(
                &mut db,
                &row.owner_id,
                (&row.org_id, &creator),
                want,
                except,
            )
            .await?;
        Ok((db, org_plan.limits))
    }

    /// Undoes `admit` for an instance the backend did not make: the row, its meter and its
    /// payment go together.
    async fn unmake(&self, row: &InstanceRow, paid: Option<Credits>) -> Result<()> {
        let mut db = self.db.locked(&[]).await?;
        Db::delete_instance_in(&mut db, &row.id).await?;
        if let (Some((billing, _)), Some(price)) = (&self.billing, paid) {
            Db::delete_meter_in(&mut db, &row.backend_id).await?;
            billing
                .refund_in(
                    &mut db,
                    &row.owner_id,
                    format!("refund:{}", row.id),
                    "instance not made",
                    price,
                )
                .await?;
        }
        db.commit()
            .await
            .map_err(|e| crate::db::map(e, "instance"))?;
        self.db.forget_instance(&row.id);
        Ok(())
    }

    /// The instance with its live state; one its backend cannot find now (an agent not back yet
    /// after a restart, say) shows as unknown, as in a listing.
    pub async fn get(&self, p: &Principal, r: Ref<'_>) -> Result<TenantInstance> {
        let row = self.authorized(p, r, Action::Read).await?;
        match self.compute()?.get(&row.backend_id).await {
            Ok(live) => Ok(view(&row, Some(&live))),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(view(&row, None)),
            Err(e) => Err(e),
        }
    }

    /// Every instance the caller may see: those of the organizations they belong to.
    pub async fn list(&self, p: &Principal) -> Result<Vec<TenantInstance>> {
        let compute = self.compute()?;
        let mut out = Vec::new();
        for row in self.db.instances_visible_to(&p.user_id).await? {
            // One instance the backend cannot answer for (gone, or its agent unreachable) shows
            // as unknown; it does not fail the whole listing.
            let live = match compute.get(&row.backend_id).await {
                Ok(live) => Some(live),
                Err(e) if e.kind() == ErrorKind::NotFound => None,
                Err(e) if e.kind() == ErrorKind::Unexpected => return Err(e),
                Err(e) => {
                    tracing::warn!(instance = %row.id, error = %e, "listing without live state");
                    None
                }
            };
            out.push(view(&row, live.as_ref()));
        }
        Ok(out)
    }

    pub async fn start(&self, p: &Principal, r: Ref<'_>) -> Result<TenantInstance> {
        let row = self.authorized(p, r, Action::Operate).await?;
        let live = self.compute()?.start(&row.backend_id).await?;
        Ok(self.changed(&row, &live))
    }

    /// Asks the instance to exit, killing it after `timeout`.
    pub async fn stop(
        &self,
        p: &Principal,
        r: Ref<'_>,
        timeout: Duration,
    ) -> Result<TenantInstance> {
        self.halt(p, r, timeout, false).await
    }

    /// Stops the instance as `stop` does, then starts it again.
    pub async fn restart(
        &self,
        p: &Principal,
        r: Ref<'_>,
        timeout: Duration,
    ) -> Result<TenantInstance> {
        self.halt(p, r, timeout, true).await
    }

    async fn halt(
        &self,
        p: &Principal,
        r: Ref<'_>,
        timeout: Duration,
        again: bool,
    ) -> Result<TenantInstance> {
        let row = self.authorized(p, r, Action::Operate).await?;
        let (compute, options) = (self.compute()?, StopOptions::timeout(timeout));
        let live = if again {
            compute.restart(&row.backend_id, options).await?
        } else {
            compute.stop(&row.backend_id, options).await?
        };
        Ok(self.changed(&row, &live))
    }

    /// Deletes the instance; a running one only with `force`.
    pub async fn delete(&self, p: &Principal, r: Ref<'_>, options: DeleteOptions) -> Result<()> {
        let row = self.authorized(p, r, Action::Delete).await?;
        match self.compute()?.delete(&row.backend_id, options).await {
            Ok(()) => {}
            // Already gone from the backend: the row is all that is left.
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        self.db.delete_instance(&row.id).await?;
        self.announce("instance.deleted", &row, None);
        Ok(())
    }

    pub async fn exec(&self, p: &Principal, r: Ref<'_>, body: ExecBody) -> Result<ExecResult> {
        let row = self.authorized(p, r, Action::Operate).await?;
        let request = exec_request(body)?;
        let _pass = self.execs.enter(&p.user_id)?;
        let out = self.compute()?.exec(&row.backend_id, request).await?;
        Ok(ExecResult {
            exit_code: out.exit_code,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            truncated: out.truncated,
        })
    }

    /// The instance's id, if the caller may `action` it: asked before a connection is given
    /// over to an exec, so a refusal is an HTTP answer, and the id, which no rename changes, is
    /// what the connection asks again while it lasts.
    pub async fn may(&self, p: &Principal, r: Ref<'_>, action: Action) -> Result<String> {
        self.compute()?;
        self.authorized(p, r, action).await.map(|row| row.id)
    }

    /// Runs a command, its output yielded as it is written and `stdin` fed as it arrives.
    pub async fn exec_stream(
        &self,
        p: &Principal,
        r: Ref<'_>,
        body: ExecBody,
        stdin: Option<ByteStream>,
    ) -> Result<ExecStream> {
        let row = self.authorized(p, r, Action::Operate).await?;
        let request = exec_request(body)?;
        let pass = self.execs.enter(&p.user_id)?;
        let stream = self
            .compute()?
            .exec_stream(&row.backend_id, request, stdin)
            .await?;
        // The pass is held for as long as the command's output is read.
        Ok(Box::pin(stream.map(move |event| {
            let _held = &pass;
            event
        })))
    }

    /// Attaches to one of the instance's consoles, its screen or its serial port: as much as an
    /// exec, since what is typed there can do anything inside it. With the instance's id, which
    /// no rename changes, for the connection to ask [`may`](Self::may) again while it lasts.
    pub async fn console(
        &self,
        p: &Principal,
        r: Ref<'_>,
        kind: nubes::ConsoleKind,
        input: ByteStream,
    ) -> Result<(String, ByteStream)> {
        let row = self.authorized(p, r, Action::Operate).await?;
        let output = self
            .compute()?
            .console(&row.backend_id, kind, input)
            .await?;
        Ok((row.id, output))
    }

    /// The instance's output (stdout and stderr interleaved): at most `tail` lines of what is
    /// there, then, with `follow`, what it writes until it stops. With the instance's id, as
    /// for a console.
    pub async fn logs(
        &self,
        p: &Principal,
        r: Ref<'_>,
        options: LogOptions,
    ) -> Result<(String, LogStream)> {
        let row = self.authorized(p, r, Action::Read).await?;
        let logs = self.compute()?.logs(&row.backend_id, options).await?;
        Ok((row.id, logs))
    }

    /// Changes cpus and memory; live where the backend can.
    pub async fn resize(
        &self,
        p: &Principal,
        r: Ref<'_>,
        request: ResizeRequest,
    ) -> Result<TenantInstance> {
        request.validate()?;
        let row = self.authorized(p, r, Action::Operate).await?;
        let compute = self.compute()?;
        if let Some((billing, _)) = &self.billing {
            let now = compute.get(&row.backend_id).await?;
            let size = compute
                .fit(request.cpus.or(now.cpus), request.memory.or(now.memory))
                .await?;
            let want = Resources::sized(size.cpus, size.memory, now.disk.or(Some(row.size.disk)));
            let (mut db, _) = self.within_plans(billing, &row, want, &row.id).await?;
            // Held at the larger of both sizes until the backend says which it runs at.
            let reserved = Resources::new(
                want.millicpus.max(row.size.millicpus),
                want.memory.max(row.size.memory),
                want.disk.max(row.size.disk),
                0,
            );
            Db::resize_instance_in(&mut db, &row.id, reserved).await?;
            db.commit()
                .await
                .map_err(|e| crate::db::map(e, "instance"))?;
            self.db.forget_instance(&row.id);
        }
        let result = compute.resize(&row.backend_id, request).await;
        // What it holds from now on is what the backend runs it at, read after this resize
        // (and any racing one) is done, and written under the tenants' locks; a backend that
        // cannot say leaves the larger size reserved.
        if let Ok(live) = compute.get(&row.backend_id).await {
            let held = Resources::sized(live.cpus, live.memory, live.disk.or(Some(row.size.disk)));
            let mut db = self.tenants_locked(&row).await?;
            Db::resize_instance_in(&mut db, &row.id, held).await?;
            db.commit()
                .await
                .map_err(|e| crate::db::map(e, "instance"))?;
            self.db.forget_instance(&row.id);
        }
        Ok(view(&row, Some(&result?)))
    }

    /// What this server's API offers of its compute provider's capabilities: published ports
    /// and pid limits are not part of it.
    pub fn capability(&self) -> Option<ComputeCapability> {
        let backend = self.compute.as_ref()?.capability();
        let mut cap = ComputeCapability::default();
        cap.restart = backend.restart;
        cap.exec = backend.exec;
        cap.exec_stdin = backend.exec_stdin;
        cap.exec_stream = backend.exec_stream;
        cap.logs = backend.logs;
        cap.logs_follow = backend.logs_follow;
        cap.stats = backend.stats;
        cap.resize = backend.resize;
        cap.resize_live = backend.resize_live;
        cap.disk_limit = backend.disk_limit;
        cap.sized = backend.sized;
        cap.console = backend.console;
        cap.vnc = backend.vnc;
        Some(cap)
    }

    pub async fn stats(&self, p: &Principal, r: Ref<'_>) -> Result<InstanceStats> {
        let row = self.authorized(p, r, Action::Read).await?;
        self.compute()?.stats(&row.backend_id).await
    }
}
