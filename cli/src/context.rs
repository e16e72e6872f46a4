//! Contexts, like kubeconfig's: which server to talk to, as whom. Kept in
//! `$NUBES_CONFIG` or `~/.config/nubes/config.yaml`, readable by its owner only.

use std::io::Write;
use std::path::PathBuf;

use nubes::remote::auth::MachineToken;
use nubes::{Error, ErrorKind, Result};
use serde::{Deserialize, Serialize};

#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Context {
    pub name: String,
    pub server: String,
    pub user: String,
    pub token: MachineToken,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("name", &self.name)
            .field("server", &self.server)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ConfigFile {
    #[serde(default)]
    pub current_context: Option<String>,
    #[serde(default)]
    pub contexts: Vec<Context>,
}

pub fn path() -> PathBuf {
    if let Some(p) = std::env::var_os("NUBES_CONFIG") {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".config/nubes/config.yaml")
}

fn io(e: std::io::Error, what: &str) -> Error {
    Error::new(
        ErrorKind::Unexpected,
        format!("{what} {}: {e}", path().display()),
    )
}

impl ConfigFile {
    pub fn load() -> Result<Self> {
        match std::fs::read_to_string(path()) {
            Ok(text) => serde_yaml::from_str(&text).map_err(|e| {
                Error::invalid_input(format!("cannot read {}: {e}", path().display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(io(e, "cannot read")),
        }
    }

    /// Writes the file atomically with mode 0600: it holds tokens.
    pub fn save(&self) -> Result<()> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = path();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io(e, "cannot create the directory of"))?;
        }
        let tmp = path.with_extension("yaml.tmp");
        let text = serde_yaml::to_string(self)
            .map_err(|e| Error::unexpected(format!("cannot write the config: {e}")))?;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| io(e, "cannot write"))?;
        f.write_all(text.as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(|e| io(e, "cannot write"))?;
        std::fs::rename(&tmp, &path).map_err(|e| io(e, "cannot write"))
    }

    pub fn current(&self) -> Option<&Context> {
        let name = self.current_context.as_deref()?;
        self.contexts.iter().find(|c| c.name == name)
    }

    /// Adds or replaces the context `ctx.name` and makes it current.
    pub fn upsert(&mut self, ctx: Context) {
        self.contexts.retain(|c| c.name != ctx.name);
        self.current_context = Some(ctx.name.clone());
        self.contexts.push(ctx);
        self.contexts.sort_by(|a, b| a.name.cmp(&b.name));
    }

    pub fn remove(&mut self, name: &str) -> Result<Context> {
        let i = self
            .contexts
            .iter()
            .position(|c| c.name == name)
            .ok_or_else(|| Error::not_found(format!("no context named {name}")))?;
        if self.current_context.as_deref() == Some(name) {
            self.current_context = None;
        }
        Ok(self.contexts.remove(i))
    }
}
