//! The platform in one process, as `cloudctl up` runs it on one machine: a data directory that
//! one server holds at a time, and a local agent that leases this machine's engine to the
//! server's own fleet. The binary chooses the engine (the library forces no provider on those
//! who embed it) and says what it does; this module does it.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nubes::{Compute, Error, ErrorKind, Resources, Result};

use crate::AppState;

/// A data directory held by this process: its SQLite database, objects, usage journal and the
/// local agent's token. Two servers on one directory would write one database and one journal
/// at once, so the second is refused; the lock is the kernel's and goes with the process however
/// that ends, and the lock file names the holder's pid.
#[derive(Debug)]
pub struct DataDir {
    path: PathBuf,
    _lock: File,
}

fn io(e: std::io::Error, path: &Path) -> Error {
    Error::io(e, &path.display().to_string())
}

impl DataDir {
    pub fn lock(path: &Path) -> Result<Self> {
        use std::io::{Read, Seek, Write};
        std::fs::create_dir_all(path).map_err(|e| io(e, path))?;
        let lock = path.join("lock");
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock)
            .map_err(|e| io(e, &lock))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = match holder.trim() {
                    "" => String::new(),
                    pid => format!(" (pid {pid})"),
                };
                return Err(Error::new(
                    ErrorKind::Conflict,
                    format!(
                        "{} is in use by another cloudctl serve or up{holder}: stop it, or pass another --data-dir",
                        path.display()
                    ),
                ));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e, &lock)),
        }
        file.set_len(0)
            .and_then(|_| file.rewind())
            .and_then(|_| writeln!(file, "{}", std::process::id()))
            .map_err(|e| io(e, &lock))?;
        Ok(Self {
            path: path.to_path_buf(),
            _lock: file,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The SQLite database in it.
    pub fn database_url(&self) -> String {
        format!("sqlite://{}", self.path.join("nubes.db").display())
    }

    /// `local://` storage in its `objects`.
    pub fn objects(&self) -> Result<String> {
        let objects = self.path.join("objects");
        std::fs::create_dir_all(&objects).map_err(|e| io(e, &objects))?;
        Ok(format!("local://{}", objects.display()))
    }

    pub fn usage_journal(&self) -> PathBuf {
        self.path.join("usage-journal")
    }

    /// The token of this machine's own agent: issued on first start and kept here (readable by
    /// its owner only), so the agent stays the same agent across restarts and adopts what it ran.
    async fn agent_token(&self, state: &AppState) -> Result<String> {
        let file = self.path.join("agent-token");
        match std::fs::read_to_string(&file) {
            Ok(token) if !token.trim().is_empty() => return Ok(token.trim().to_string()),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e, &file)),
        }
        let token = state.agents.issue_own("local").await?;
        write_secret(&file, &token)?;
        Ok(token)
    }
}

/// Writes a secret to a new file only its owner may read.
pub fn write_secret(file: &Path, secret: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(file)
        .map_err(|e| io(e, file))?;
    f.write_all(secret.as_bytes()).map_err(|e| io(e, file))
}

/// The agent leasing this machine to the server's fleet.
#[derive(Debug)]
pub struct LocalAgent {
    /// What it leases: all of this machine's cpus and memory.
    pub capacity: Resources,
    /// Whether it said hello within the wait; if not, instances wait in the queue until it does.
    pub online: bool,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for LocalAgent {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts this machine's agent for the server at `url` (running with `state`), leasing
/// `compute`, and waits up to `wait` for it to come online, so that instances created next are
/// placed rather than queued.
pub async fn local_agent(
    state: &AppState,
    data_dir: &DataDir,
    url: &str,
    compute: Arc<dyn Compute>,
    wait: Duration,
) -> Result<LocalAgent> {
    let fleet = state.agents.fleet()?.clone();
    let token = data_dir.agent_token(state).await?;
    let mut config = nubes_agent::AgentConfig::detect(url, token)?;
    config.name = "local".into();
    let capacity = config.capacity;
    let task = tokio::spawn(async move {
        if let Err(e) = nubes_agent::run(config, compute).await {
            tracing::error!(error = %e, "the local agent stopped");
        }
    });
    let deadline = Instant::now() + wait;
    let online = loop {
        if fleet.agents().iter().any(|a| a.online) {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    Ok(LocalAgent {
        capacity,
        online,
        task,
    })
}
