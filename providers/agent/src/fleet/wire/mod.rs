//! Requests over the agents' connections: each agent's outgoing channel, the requests in
//! flight, and where their answers go. It knows nothing of placement; what comes back is routed
//! to the request that asked, and only from the agent the request went to.

use tokio::sync::Semaphore;

use super::*;

mod live;

pub(super) struct Link {
    pub tx: mpsc::Sender<ServerMessage>,
    pub conn: u64,
}

pub(super) struct Pending {
    pub agent: String,
    pub reply: Reply,
    /// Room for more stdin pieces, when the request takes input (see `live`).
    pub window: Option<Arc<Semaphore>>,
}

pub(super) enum Reply {
    /// One outcome, awaited whole.
    Once(oneshot::Sender<Result<Outcome>>),
    /// Output as it arrives, then how it ended: exec and logs.
    Live(mpsc::Sender<Result<ExecEvent>>),
}

impl Reply {
    pub fn fail(self, e: Error) {
        match self {
            Reply::Once(done) => {
                let _ = done.send(Err(e));
            }
            // The last slot of a live queue is kept for its end (see `live`).
            Reply::Live(tx) => {
                let _ = tx.try_send(Err(e));
            }
        }
    }
}

/// Withdraws a request when dropped: one whose caller stopped waiting, or never sent.
struct Withdraw<'a> {
    wire: &'a Wire,
    id: u64,
}

impl Drop for Withdraw<'_> {
    fn drop(&mut self) {
        self.wire.withdraw(self.id);
    }
}

/// The connections and the requests in flight on them, each under its own lock.
pub(super) struct Wire {
    links: Mutex<HashMap<String, Link>>,
    pending: Mutex<HashMap<u64, Pending>>,
    next_conn: AtomicU64,
    request_timeout: Duration,
}

impl Wire {
    pub fn new(request_timeout: Duration) -> Self {
        Self {
            links: Mutex::default(),
            pending: Mutex::default(),
            next_conn: AtomicU64::new(1),
            request_timeout,
        }
    }

    /// A new connection of `agent`, replacing an older one; returns its number. What was sent
    /// over the older one fails: its answers would come over that connection, which the agent
    /// has left (it ends the streams of a connection that closes).
    pub fn attach(&self, agent: &str, tx: mpsc::Sender<ServerMessage>) -> u64 {
        let conn = self.next_conn.fetch_add(1, Ordering::Relaxed);
        let mut links = lock(&self.links);
        // Under the links lock, so no request sent over the new connection is among them.
        if links.insert(agent.to_string(), Link { tx, conn }).is_some() {
            self.fail_pending(agent, "reconnected");
        }
        conn
    }

    /// Whether `conn` is `agent`'s current connection (not an older one's last words).
    pub fn is_current(&self, agent: &str, conn: u64) -> bool {
        lock(&self.links).get(agent).is_some_and(|l| l.conn == conn)
    }

    /// Drops `agent`'s connection; requests in flight to it fail, as they will get no answer.
    pub fn detach(&self, agent: &str) {
        lock(&self.links).remove(agent);
        self.fail_pending(agent, "went away");
    }

    /// Fails the requests in flight to `agent`, which `went` (away, or reconnected).
    fn fail_pending(&self, agent: &str, went: &str) {
        let mut pending = lock(&self.pending);
        let ids: Vec<u64> = pending
            .iter()
            .filter(|(_, p)| p.agent == agent)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            if let Some(p) = pending.remove(&id) {
                p.reply.fail(unavailable(format!("agent {agent} {went}")));
            }
        }
    }

    /// The channel to an agent's connection.
    pub fn link(&self, agent: &str) -> Result<mpsc::Sender<ServerMessage>> {
        lock(&self.links)
            .get(agent)
            .map(|l| l.tx.clone())
            .ok_or_else(|| unavailable(format!("agent {agent} is offline")))
    }

    /// Sends `op` to `agent` and waits for its outcome.
    pub async fn call(&self, agent: &str, op: Op) -> Result<Outcome> {
        let (done, wait) = oneshot::channel();
        let id = self.send(agent, op, Reply::Once(done), None).await?;
        // A caller that gives up (its client went away) leaves nothing behind.
        let _forget = Withdraw { wire: self, id };
        match tokio::time::timeout(self.request_timeout, wait).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(unavailable(format!("agent {agent} went away"))),
            Err(_) => Err(Error::new(
                ErrorKind::Timeout,
                format!("agent {agent} did not answer in time"),
            )),
        }
    }

    /// Sends `op` to `agent`, its answer to go to `reply`; returns the request's id.
    pub async fn send(
        &self,
        agent: &str,
        op: Op,
        reply: Reply,
        window: Option<Arc<Semaphore>>,
    ) -> Result<u64> {
        let tx = self.link(agent)?;
        // Random, so that no agent can guess the ids of requests sent to others.
        let id = {
            let mut pending = lock(&self.pending);
            let mut id = rand::random::<u64>();
            while pending.contains_key(&id) {
                id = rand::random();
            }
            pending.insert(
                id,
                Pending {
                    agent: agent.to_string(),
                    reply,
                    window,
                },
            );
            id
        };
        let unsent = Withdraw { wire: self, id };
        // An agent that stops reading its connection fills its outbox; its callers wait no
        // longer than for an answer.
        match tokio::time::timeout(
            self.request_timeout,
            tx.send(ServerMessage::Request { id, op }),
        )
        .await
        {
            Ok(Ok(())) => {
                std::mem::forget(unsent);
                Ok(id)
            }
            Ok(Err(_)) => Err(unavailable(format!("agent {agent} is offline"))),
            Err(_) => Err(Error::new(
                ErrorKind::Timeout,
                format!("agent {agent} is not reading its requests"),
            )),
        }
    }

    /// Forgets request `id`: its answer, if one comes, goes nowhere. Whether it was in flight.
    pub fn withdraw(&self, id: u64) -> bool {
        lock(&self.pending).remove(&id).is_some()
    }

    /// Takes the request `id` off the pending ones if it went to `agent`. An agent answering
    /// a request it was not sent (another agent's, or one that ended) is told so and logged;
    /// the request stays for the agent it went to.
    pub fn answered(&self, agent: &str, id: u64) -> Option<Pending> {
        let mut pending = lock(&self.pending);
        if pending.get(&id).is_some_and(|p| p.agent == agent) {
            return pending.remove(&id);
        }
        drop(pending);
        tracing::warn!(%agent, request = id, "an agent answered a request it was not sent");
        self.send_error(agent, Some(id), "no such request");
        None
    }

    pub fn send_error(&self, agent: &str, id: Option<u64>, message: &str) {
        if let Some(l) = lock(&self.links).get(agent) {
            let _ = l.tx.try_send(ServerMessage::Error {
                id,
                kind: ErrorKind::InvalidInput.as_str().to_string(),
                message: message.to_string(),
            });
        }
    }

    /// Tells `agent` to stop request `id`.
    pub fn cancel(&self, agent: &str, id: u64) {
        if let Some(l) = lock(&self.links).get(agent) {
            let _ = l.tx.try_send(ServerMessage::Cancel { id });
        }
    }
}
