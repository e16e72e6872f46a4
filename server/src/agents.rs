//! Lessor agents as the platform admits them: tokens issued by platform admins (shown once,
//! stored hashed, revocable), and the fleet's live view of each. Only platform admins manage
//! agents; an agent authenticates with its token alone.

use std::collections::HashMap;
use std::sync::Arc;

use nubes::{Error, ErrorKind, InstanceSpec, Result};
use nubes_agent::{Fleet, Resources, Store};
use nubes_auth::token::{self, TokenKind};
use nubes_auth::{Action, Target};

use crate::accounts::now;
use crate::db::Db;
use crate::tenancy;
use crate::tenancy::Principal;
pub use nubes_api::agents::{AgentInstance, AgentView, DrainReport, NewAgent};

/// The fleet's memory beyond the process: ownership from the instances table, and its queue.
#[derive(Debug, Clone)]
pub struct DbStore(pub Db);

#[nubes::async_trait]
impl Store for DbStore {
    async fn owned(&self, names: &[String]) -> Result<HashMap<String, Option<String>>> {
        self.0.owned_backend_ids(names).await
    }

    async fn placed(&self, name: &str, agent: &str) -> Result<()> {
        self.0.set_instance_agent(name, agent).await
    }

    async fn remember(&self, spec: &InstanceSpec, priority: i32) -> Result<()> {
        self.0
            .save_spec(&spec.name, &spec_json(spec)?, priority)
            .await
    }

    async fn forget(&self, name: &str) -> Result<()> {
        self.0.drop_spec(name).await
    }

    async fn specs(&self) -> Result<Vec<(InstanceSpec, i32)>> {
        read_specs(self.0.fleet_specs().await?)
    }

    async fn enqueue(&self, spec: &InstanceSpec, priority: i32) -> Result<()> {
        let json = spec_json(spec)?;
        // Microseconds since the epoch order arrivals across restarts.
        let seq = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as i64);
        self.0.enqueue(&spec.name, &json, priority, seq).await
    }

    async fn dequeue(&self, name: &str) -> Result<()> {
        self.0.dequeue(name).await
    }

    async fn clusters(&self) -> Result<Vec<(String, Resources)>> {
        Ok(self
            .0
            .all_clusters()
            .await?
            .into_iter()
            .map(|c| (c.id.clone(), crate::clusters::capacity(&c)))
            .collect())
    }

    async fn queued(&self) -> Result<Vec<(InstanceSpec, i32)>> {
        read_specs(self.0.fleet_queue().await?)
    }
}

fn spec_json(spec: &InstanceSpec) -> Result<String> {
    serde_json::to_string(spec).map_err(|e| Error::unexpected(format!("cannot store a spec: {e}")))
}

fn read_specs(rows: Vec<(String, i32)>) -> Result<Vec<(InstanceSpec, i32)>> {
    rows.into_iter()
        .map(|(json, priority)| {
            serde_json::from_str(&json)
                .map(|spec| (spec, priority))
                .map_err(|e| Error::unexpected(format!("a stored spec is unreadable: {e}")))
        })
        .collect()
}

#[derive(Debug, Clone)]
pub struct Agents {
    db: Db,
    fleet: Option<Fleet>,
}

impl Agents {
    pub fn new(db: Db, fleet: Option<Fleet>) -> Self {
        Self { db, fleet }
    }

    pub fn fleet(&self) -> Result<&Fleet> {
        self.fleet.as_ref().ok_or_else(|| {
            Error::unsupported("this server runs no fleet: start it with --compute fleet://")
        })
    }

    async fn admin(&self, p: &Principal) -> Result<()> {
        let actor = tenancy::actor(&self.db, p, "").await?;
        tenancy::check(&actor, Action::PlatformAdmin, &Target::Platform, "agents")
    }

    /// Issues a token for a new agent; the token is in this answer only.
    pub async fn create(&self, p: &Principal, req: NewAgent) -> Result<AgentView> {
        self.admin(p).await?;
        self.fleet()?;
        let name = req.name.trim();
        if name.is_empty() || name.len() > 128 {
            return Err(Error::invalid_input("an agent's name is 1-128 characters"));
        }
        let id = token::random_id();
        let issued = token::issue(TokenKind::Agent);
        let at = now();
        self.db
            .insert_agent(&id, name, &issued.hash, &p.user_id, at)
            .await?;
        Ok(AgentView {
            id,
            name: name.to_string(),
            created_at: at,
            revoked: false,
            cordoned: false,
            state: "never_seen".into(),
            live: None,
            token: Some(issued.plaintext),
        })
    }

    /// Issues a token for an agent the platform runs itself (`cloudctl up`'s agent on the same
    /// machine), owned by the first platform admin. Like any token it is shown only here.
    pub async fn issue_own(&self, name: &str) -> Result<String> {
        self.fleet()?;
        let owner = self.db.first_platform_admin().await?.ok_or_else(|| {
            Error::new(
                ErrorKind::Conflict,
                "there is no platform admin to own the agent",
            )
        })?;
        let issued = token::issue(TokenKind::Agent);
        self.db
            .insert_agent(&token::random_id(), name, &issued.hash, &owner, now())
            .await?;
        Ok(issued.plaintext)
    }

    /// The agent a connecting token belongs to; anything else is refused before the upgrade.
    pub async fn authenticate(&self, bearer: &str) -> Result<(String, bool)> {
        let refused = || Error::new(ErrorKind::Unauthenticated, "invalid agent token");
        if !token::looks_like(TokenKind::Agent, bearer) {
            return Err(refused());
        }
        let row = self
            .db
            .agent_by_token(&token::hash(bearer))
            .await?
            .ok_or_else(refused)?;
        Ok((row.id, row.cordoned))
    }

    pub async fn list(&self, p: &Principal) -> Result<Vec<AgentView>> {
        self.admin(p).await?;
        let live = self.fleet()?.agents();
        Ok(self
            .db
            .agent_rows()
            .await?
            .into_iter()
            .map(|r| {
                let status = live.iter().find(|a| a.id == r.id).cloned();
                AgentView {
                    state: match &status {
                        Some(s) if s.online => "online",
                        Some(_) => "offline",
                        None => "never_seen",
                    }
                    .into(),
                    live: status,
                    id: r.id,
                    name: r.name,
                    created_at: r.created_at,
                    revoked: r.revoked_at.is_some(),
                    cordoned: r.cordoned,
                    token: None,
                }
            })
            .collect())
    }

    pub async fn get(&self, p: &Principal, id: &str) -> Result<AgentView> {
        self.list(p)
            .await?
            .into_iter()
            .find(|a| a.id == id)
            .ok_or_else(|| Error::not_found(format!("agent {id} not found")))
    }

    /// What the agent's lessor has earned: their share of the usage it ran.
    pub async fn earnings(&self, p: &Principal, id: &str) -> Result<crate::billing::Balance> {
        self.admin(p).await?;
        if self.db.agent(id).await?.is_none() {
            return Err(Error::not_found(format!("agent {id} not found")));
        }
        let account = nubes_billing::Account::Earnings(id.to_string()).key();
        Ok(crate::billing::balance(self.db.balance(&account).await?))
    }

    /// The tenants' instances the fleet placed on the agent.
    pub async fn instances(&self, p: &Principal, id: &str) -> Result<Vec<AgentInstance>> {
        let agent = self.get(p, id).await?;
        let names = agent.live.map(|l| l.instances).unwrap_or_default();
        Ok(self
            .db
            .instances_by_backend(&names)
            .await?
            .into_iter()
            .map(|r| AgentInstance {
                id: r.id,
                name: r.name,
                org_id: r.org_id,
                owner_id: r.owner_id,
                backend_id: r.backend_id,
            })
            .collect())
    }

    /// Cordons the agent and moves what it runs to other agents (restarted, same instance);
    /// answers which instances moved and which could not.
    pub async fn drain(&self, p: &Principal, id: &str) -> Result<DrainReport> {
        self.admin(p).await?;
        if self.db.agent(id).await?.is_none() {
            return Err(Error::not_found(format!("agent {id} not found")));
        }
        self.db.set_agent_cordoned(id, true).await?;
        let drained = self.fleet()?.drain(id).await?;
        Ok(DrainReport {
            moved: self.instance_ids(&drained.moved).await?,
            stuck: self.instance_ids(&drained.stuck).await?,
        })
    }

    async fn instance_ids(&self, backend_names: &[String]) -> Result<Vec<String>> {
        let rows = self.db.instances_by_backend(backend_names).await?;
        Ok(rows.into_iter().map(|r| r.id).collect())
    }

    /// Revokes the token and drops the agent's connection; its instances show as unknown.
    pub async fn revoke(&self, p: &Principal, id: &str) -> Result<()> {
        self.admin(p).await?;
        if !self.db.revoke_agent(id, now()).await? {
            return Err(Error::not_found(format!("agent {id} not found")));
        }
        self.fleet()?.forget(id);
        Ok(())
    }

    /// A cordoned agent keeps what it runs and gets nothing new.
    pub async fn cordon(&self, p: &Principal, id: &str, cordoned: bool) -> Result<AgentView> {
        self.admin(p).await?;
        if self.db.agent(id).await?.is_none() {
            return Err(Error::not_found(format!("agent {id} not found")));
        }
        self.db.set_agent_cordoned(id, cordoned).await?;
        // An agent not connected yet picks its cordon up from the database when it does.
        match self.fleet()?.cordon(id, cordoned) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        self.get(p, id).await
    }
}

/// The fleet, with its queue as this server's database left it.
pub async fn fleet(db: &Db, config: nubes_agent::FleetConfig) -> Result<Fleet> {
    Fleet::start(config, Arc::new(DbStore(db.clone()))).await
}
