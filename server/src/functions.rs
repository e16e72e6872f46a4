//! Functions for tenants: rows record who owns which function, the function provider behind the
//! server deploys and runs it under a name of ours.

use std::sync::Arc;
use std::time::Duration;

use nubes::{
    AsyncInvocation, Bytes, Error, ErrorKind, Function, FunctionInfo, FunctionSpec, Result,
};
use nubes_auth::{token, Action};

use crate::accounts::now;
use crate::billing::Billing;
use crate::bounds::Bounds;
use crate::db::{Db, Kind, ResourceRow};
use crate::gates::Gate;
use crate::tenancy::Principal;
use crate::tenancy::{self, Ref};
pub use nubes_api::functions::{DeployFunction, Invocation, TenantFunction};
use nubes_billing::{Credits, Resources};

/// The longest a tenant may let one invocation run.
pub const MAX_TIMEOUT_SECS: u64 = 900;
/// How long an invocation may run when the function does not say.
pub const DEFAULT_TIMEOUT_SECS: u64 = 60;
/// Invocations one user may have running at once.
pub const INVOCATIONS_PER_USER: usize = 8;

fn view(row: &ResourceRow, live: Option<&FunctionInfo>) -> TenantFunction {
    TenantFunction {
        id: row.id.clone(),
        name: row.name.clone(),
        org_id: row.org_id.clone(),
        owner_id: row.owner_id.clone(),
        image: live.map(|f| f.image.clone()),
        handler: live.map(|f| f.handler.clone()).unwrap_or_default(),
        cpus: live.and_then(|f| f.cpus),
        memory: live.and_then(|f| f.memory),
        timeout_secs: live.and_then(|f| f.timeout).map(|t| t.as_secs()),
        created_at: row.created_at,
    }
}

#[derive(Debug, Clone)]
pub struct Functions {
    db: Db,
    function: Option<Arc<dyn Function>>,
    /// Plans and payment, when the server bills.
    billing: Option<Billing>,
    invocations: Arc<Gate>,
    bounds: Bounds,
}

impl Functions {
    pub fn new(
        db: Db,
        function: Option<Arc<dyn Function>>,
        billing: Option<Billing>,
        bounds: Bounds,
    ) -> Self {
        Self {
            db,
            function,
            billing,
            bounds,
            invocations: Arc::new(Gate::new("running invocations", INVOCATIONS_PER_USER)),
        }
    }

    fn function(&self) -> Result<&Arc<dyn Function>> {
        self.function
            .as_ref()
            .ok_or_else(|| Error::unsupported("this server has no function provider configured"))
    }

    /// What the provider behind this server can do; the API carries all of it. Asynchronous
    /// invocations are the server's own, so every provider has them here.
    pub fn capability(&self) -> Option<nubes::FunctionCapability> {
        self.function.as_ref().map(|b| {
            let mut cap = b.capability();
            cap.invoke_async = true;
            cap
        })
    }

    async fn authorized(&self, p: &Principal, r: Ref<'_>, action: Action) -> Result<ResourceRow> {
        self.function()?;
        tenancy::resource(&self.db, p, Kind::Function, r, action).await
    }

    pub async fn deploy(&self, p: &Principal, req: DeployFunction) -> Result<TenantFunction> {
        let function = self.function()?;
        let mut spec = FunctionSpec::new(req.name.clone(), req.image.clone(), req.handler.clone());
        spec.code = req.code_bytes()?;
        spec.env = req.env;
        // What is enforced is what is billed: the defaults instances get, and always a timeout.
        spec.cpus = Some(req.cpus.unwrap_or(nubes::compute::DEFAULT_CPUS));
        spec.memory = Some(req.memory.unwrap_or(nubes::compute::DEFAULT_MEMORY));
        spec.timeout = match req.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS) {
            s @ 1..=MAX_TIMEOUT_SECS => Some(Duration::from_secs(s)),
            _ => {
                return Err(Error::invalid_input(format!(
                    "timeout_secs must be between 1 and {MAX_TIMEOUT_SECS}"
                )))
            }
        };
        spec.validate()?;
        // One invocation at a time must fit the deployer's plan: as asked, and again as the
        // backend sized it (Lambda gives memory for cpus), which is what invocations are billed.
        let plan = match &self.billing {
            Some(billing) => Some(billing.current(&p.user_id).await?.0),
            None => None,
        };
        let fits = |cpus, memory| -> Result<()> {
            match &plan {
                Some(plan) => plan
                    .admit(Resources::default(), Resources::sized(cpus, memory, None))
                    .map_err(|e| {
                        Error::new(
                            e.kind(),
                            format!("one invocation must fit the plan: {}", e.message()),
                        )
                    }),
                None => Ok(()),
            }
        };
        fits(spec.cpus, spec.memory)?;
        let org_id = tenancy::creating_in(&self.db, p, req.org_id).await?;
        let id = token::random_id();
        let row = ResourceRow {
            backend_id: tenancy::backend_name(&id),
            id,
            kind: Kind::Function,
            org_id,
            owner_id: p.user_id.clone(),
            name: req.name,
            created_at: now(),
        };
        spec.name = row.backend_id.clone();
        self.db
            .insert_resource_within(&row, self.bounds.per_org(row.kind))
            .await?;
        let deployed = match function.deploy(spec).await {
            Ok(live) => fits(live.cpus, live.memory).map(|()| live),
            Err(e) => Err(row.explain(e)),
        };
        match deployed {
            Ok(live) => Ok(view(&row, Some(&live))),
            Err(e) => {
                let _ = function.delete(&row.backend_id).await;
                self.db.delete_resource(&row.id).await?;
                Err(e)
            }
        }
    }

    pub async fn get(&self, p: &Principal, r: Ref<'_>) -> Result<TenantFunction> {
        let row = self.authorized(p, r, Action::Read).await?;
        let live = self
            .function()?
            .get(&row.backend_id)
            .await
            .map_err(|e| row.explain(e))?;
        Ok(view(&row, Some(&live)))
    }

    /// Every function of the organizations the caller belongs to.
    pub async fn list(&self, p: &Principal) -> Result<Vec<TenantFunction>> {
        let live = self.function()?.list().await?;
        let rows = self
            .db
            .resources_visible_to(Kind::Function, &p.user_id)
            .await?;
        Ok(rows
            .iter()
            .map(|row| view(row, live.iter().find(|f| f.name == row.backend_id)))
            .collect())
    }

    /// Runs the function once; a failure inside it is in the answer, not an error. With
    /// billing, the invoker pays for its size over the time it ran (measured here, in whole
    /// seconds, at least one), at the instance prices: the most it could cost (its timeout) is
    /// held before it runs, and what it did not use is given back.
    pub async fn invoke(&self, p: &Principal, r: Ref<'_>, payload: Bytes) -> Result<Invocation> {
        let (row, _, task) = self.start(p, r, payload).await?;
        let result = task
            .await
            .map_err(|e| Error::unexpected(format!("an invocation's task failed: {e}")))?;
        let out = result.map_err(|e| row.explain(e))?;
        Ok(Invocation::of(&out))
    }

    /// Starts the function once and answers at once with the invocation's id. It runs here,
    /// as [`Functions::invoke`] does: it holds one of the invoker's running invocations until
    /// it ends, and is billed for the time it ran, whatever the provider behind.
    pub async fn invoke_async(
        &self,
        p: &Principal,
        r: Ref<'_>,
        payload: Bytes,
    ) -> Result<AsyncInvocation> {
        let (row, id, task) = self.start(p, r, payload).await?;
        let (name, started) = (row.name.clone(), AsyncInvocation::new(id.clone()));
        tokio::spawn(async move {
            match task.await {
                Ok(Ok(out)) => tracing::info!(
                    function = %name,
                    invocation = %id,
                    failed = out.error.is_some(),
                    "asynchronous invocation finished"
                ),
                Ok(Err(e)) => {
                    tracing::warn!(function = %name, invocation = %id, error = %e, "asynchronous invocation failed")
                }
                Err(e) => {
                    tracing::error!(function = %name, invocation = %id, error = %e, "an invocation's task failed")
                }
            }
        });
        Ok(started)
    }

    /// Authorizes, takes a running-invocation pass, holds the most it could cost, and runs the
    /// function in a task of its own; the task ends with the provider's answer.
    async fn start(
        &self,
        p: &Principal,
        r: Ref<'_>,
        payload: Bytes,
    ) -> Result<(
        ResourceRow,
        String,
        tokio::task::JoinHandle<Result<nubes::InvokeResponse>>,
    )> {
        let row = self.authorized(p, r, Action::Operate).await?;
        let function = self.function()?.clone();
        if function.capability().json
            && !payload.is_empty()
            && serde_json::from_slice::<serde::de::IgnoredAny>(&payload).is_err()
        {
            // Refused before it takes a running invocation or is charged.
            return Err(Error::invalid_input(
                "this server's functions take JSON payloads; this one does not parse",
            ));
        }
        let id = token::random_id();
        let pass = self.invocations.enter(&p.user_id)?;
        let held = match &self.billing {
            Some(billing) => {
                let info = function
                    .get(&row.backend_id)
                    .await
                    .map_err(|e| row.explain(e))?;
                let size = Resources::sized(info.cpus, info.memory, None);
                let limit = info
                    .timeout
                    .map_or(DEFAULT_TIMEOUT_SECS, |t| t.as_secs().max(1));
                let most = billing.prices().accrued(size, limit).total();
                let key = format!("invoke:{}:{id}", row.id);
                let memo = format!("function {}: one invocation", row.name);
                billing
                    .charge_upfront(&p.user_id, key.clone(), memo, most)
                    .await?;
                Some((billing.clone(), size, most, key))
            }
            None => None,
        };
        // Run and settled in a task of its own: a client that goes away mid-invocation drops
        // this future, never the invocation's timeout, cleanup, pass or bill.
        let (backend, user) = (row.backend_id.clone(), p.user_id.clone());
        let task = tokio::spawn(async move {
            let _pass = pass;
            let started = std::time::Instant::now();
            let result = function.invoke(&backend, payload).await;
            if let Some((billing, size, most, key)) = held {
                let seconds = started.elapsed().as_secs_f64().ceil().max(1.0) as u64;
                // An invocation the backend refused ran nothing: all of it comes back.
                let refused = matches!(
                    &result,
                    Err(e) if matches!(e.kind(), ErrorKind::InvalidInput | ErrorKind::NotFound)
                );
                let used = if refused {
                    Credits::ZERO
                } else {
                    billing.prices().accrued(size, seconds).total()
                };
                let back = most.checked_sub(used).unwrap_or(Credits::ZERO);
                if back > Credits::ZERO {
                    let memo = "unused invocation time";
                    if let Err(e) = billing
                        .refund(&user, format!("{key}:unused"), memo, back)
                        .await
                    {
                        tracing::error!(error = %e, %key, "an invocation's unused time was not given back");
                    }
                }
            }
            result
        });
        Ok((row, id, task))
    }

    pub async fn delete(&self, p: &Principal, r: Ref<'_>) -> Result<()> {
        let row = self.authorized(p, r, Action::Delete).await?;
        match self.function()?.delete(&row.backend_id).await {
            Ok(()) => {}
            // Already gone from the backend: the row is all that is left.
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(row.explain(e)),
        }
        self.db.delete_resource(&row.id).await
    }
}
