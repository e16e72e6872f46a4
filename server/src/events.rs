//! Live events: instance state changes, agents coming and going, the queue moving. One hub per
//! server; each subscriber sees its own organizations' events, platform admins see all.

use nubes_agent::{Fleet, FleetEvent};
use tokio::sync::broadcast;

use crate::accounts::now;
use crate::db::Db;
pub use nubes_api::events::Event;

/// An event of `kind`, now; the caller fills in what it is about.
pub fn event(kind: &str) -> Event {
    Event {
        kind: kind.to_string(),
        at: now(),
        org_id: None,
        instance_id: None,
        name: None,
        state: None,
        agent_id: None,
        user_id: None,
        disk_id: None,
        progress: None,
    }
}

#[derive(Debug, Clone)]
pub struct Events {
    tx: broadcast::Sender<Event>,
}

impl Default for Events {
    fn default() -> Self {
        Self {
            tx: broadcast::channel(4096).0,
        }
    }
}

impl Events {
    pub fn publish(&self, event: Event) {
        // Nobody listening is fine.
        let _ = self.tx.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }

    /// Relays the fleet's events, naming instances as their tenants know them.
    pub fn follow(&self, fleet: &Fleet, db: Db) {
        let mut rx = fleet.subscribe();
        let hub = self.clone();
        tokio::spawn(async move {
            loop {
                let event = match rx.recv().await {
                    Ok(e) => e,
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => break,
                };
                let (kind, backend, agent) = match event {
                    FleetEvent::AgentOnline { agent } => ("agent.online", None, Some(agent)),
                    FleetEvent::AgentOffline { agent } => ("agent.offline", None, Some(agent)),
                    FleetEvent::Queued { instance } => ("instance.queued", Some(instance), None),
                    FleetEvent::Admitted { instance, agent } => {
                        ("instance.admitted", Some(instance), Some(agent))
                    }
                    FleetEvent::Lost { instance } => ("instance.lost", Some(instance), None),
                    FleetEvent::BackendDown { agent, reason } => {
                        let mut e = crate::events::event("agent.backend_down");
                        e.agent_id = Some(agent);
                        e.state = Some(reason);
                        hub.publish(e);
                        continue;
                    }
                    FleetEvent::InstanceState { instance, state } => {
                        // As a tenant's instance event, named as the tenant knows it.
                        let Ok(rows) = db.instances_by_backend(&[instance]).await else {
                            continue;
                        };
                        let Some(row) = rows.into_iter().next() else {
                            continue;
                        };
                        let mut e = crate::events::event("instance.state");
                        e.org_id = Some(row.org_id);
                        e.instance_id = Some(row.id);
                        e.name = Some(row.name);
                        e.state = Some(state.as_str().to_string());
                        hub.publish(e);
                        continue;
                    }
                    FleetEvent::ClaimRefused { agent, instance } => {
                        // For platform admins only: the instance's tenant did nothing.
                        let mut e = crate::events::event("agent.claim_refused");
                        e.agent_id = Some(agent);
                        e.name = Some(instance);
                        hub.publish(e);
                        continue;
                    }
                };
                let mut e = crate::events::event(kind);
                e.agent_id = agent;
                if let Some(backend) = backend {
                    let Ok(rows) = db.instances_by_backend(&[backend]).await else {
                        continue;
                    };
                    // An instance the server has no row for yet (a create still in flight) or
                    // no longer (deleted) concerns no tenant.
                    let Some(row) = rows.into_iter().next() else {
                        continue;
                    };
                    e.org_id = Some(row.org_id);
                    e.instance_id = Some(row.id);
                    e.name = Some(row.name);
                }
                hub.publish(e);
            }
        });
    }
}
