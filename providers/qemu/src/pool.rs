//! The image pool: one directory, each image a file named by an id the provider makes up
//! (`<id>.<format>`) beside a small record (`<id>.json`) holding its name. No user string ever
//! becomes a path.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use nubes_core::{DiskFormat, Error, Result};
use serde::{Deserialize, Serialize};

use crate::SCHEME;

/// What the pool knows of an image beyond the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    pub name: String,
    pub format: DiskFormat,
    pub created_at: DateTime<Utc>,
    /// The id of the image this one is an overlay on.
    #[serde(default)]
    pub backing: Option<String>,
}

#[derive(Debug)]
pub struct Pool {
    dir: PathBuf,
    /// Name-changing operations one at a time, so two creates cannot both take a name.
    changes: tokio::sync::Mutex<()>,
    /// Names taken by operations still writing their image (conversions, which take long and
    /// so do not hold `changes`).
    reserved: Arc<std::sync::Mutex<HashSet<String>>>,
}

/// A name held for an image being written; released when dropped.
#[derive(Debug)]
pub struct Reservation {
    name: String,
    reserved: Arc<std::sync::Mutex<HashSet<String>>>,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.reserved.lock().expect("reserved").remove(&self.name);
    }
}

fn io(e: std::io::Error, what: &str) -> Error {
    Error::io(e, what).with_provider(SCHEME)
}

pub fn missing(name: &str) -> Error {
    Error::not_found(format!("disk {name} not found")).with_provider(SCHEME)
}

impl Pool {
    /// Opens (creating) the pool, and removes what an interrupted operation left: image files
    /// without a record, and temporary files.
    pub async fn open(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| io(e, &format!("cannot create the pool {}", dir.display())))?;
        let pool = Self {
            dir,
            changes: tokio::sync::Mutex::new(()),
            reserved: Arc::default(),
        };
        pool.sweep().await?;
        Ok(pool)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    async fn sweep(&self) -> Result<()> {
        let mut entries = tokio::fs::read_dir(&self.dir)
            .await
            .map_err(|e| io(e, "cannot read the pool"))?;
        while let Some(entry) = entries
            .next_entry()
            .await
            .map_err(|e| io(e, "cannot read the pool"))?
        {
            let path = entry.path();
            let Some(file) = path.file_name().and_then(|f| f.to_str()) else {
                continue;
            };
            let orphan = match file.split_once('.') {
                _ if file.ends_with(".tmp") => true,
                Some((id, ext)) if ext != "json" && is_id(id) => {
                    !self.dir.join(format!("{id}.json")).exists()
                }
                _ => false,
            };
            if orphan {
                tracing::info!(file = %path.display(), "removing what an interrupted operation left");
                let _ = tokio::fs::remove_file(&path).await;
            }
        }
        Ok(())
    }

    pub fn new_id() -> String {
        format!("{:016x}", fastrand::u64(..))
    }

    /// The image file of a record.
    pub fn file(&self, id: &str, format: DiskFormat) -> PathBuf {
        self.dir.join(format!("{id}.{format}"))
    }

    /// A scratch file, swept away at the next open if left behind.
    pub fn scratch(&self, format: DiskFormat) -> PathBuf {
        self.dir.join(format!("{}.{format}.tmp", Self::new_id()))
    }

    fn record_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    pub async fn lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.changes.lock().await
    }

    pub async fn records(&self) -> Result<Vec<Record>> {
        let mut entries = tokio::fs::read_dir(&self.dir)
            .await
            .map_err(|e| io(e, "cannot read the pool"))?;
        let mut out = Vec::new();
        while let Some(entry) = entries
            .next_entry()
            .await
            .map_err(|e| io(e, "cannot read the pool"))?
        {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let bytes = match tokio::fs::read(&path).await {
                Ok(b) => b,
                // Deleted between the listing and the read.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io(e, "cannot read an image record")),
            };
            match serde_json::from_slice::<Record>(&bytes) {
                Ok(r) => out.push(r),
                Err(e) => {
                    tracing::warn!(file = %path.display(), error = %e, "skipping an unreadable image record")
                }
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    pub async fn find(&self, name: &str) -> Result<Record> {
        self.records()
            .await?
            .into_iter()
            .find(|r| r.name == name)
            .ok_or_else(|| missing(name))
    }

    pub async fn by_id(&self, id: &str) -> Result<Option<Record>> {
        Ok(self.records().await?.into_iter().find(|r| r.id == id))
    }

    /// Holds `name` for an image about to be written. Call with the lock held.
    pub async fn reserve(&self, name: &str) -> Result<Reservation> {
        self.ensure_free(name).await?;
        self.reserved
            .lock()
            .expect("reserved")
            .insert(name.to_string());
        Ok(Reservation {
            name: name.to_string(),
            reserved: self.reserved.clone(),
        })
    }

    pub async fn ensure_free(&self, name: &str) -> Result<()> {
        let held = self.reserved.lock().expect("reserved").contains(name);
        if held || self.records().await?.iter().any(|r| r.name == name) {
            return Err(
                Error::already_exists(format!("a disk named {name} already exists"))
                    .with_provider(SCHEME),
            );
        }
        Ok(())
    }

    /// Writes a record whole or not at all.
    pub async fn save(&self, record: &Record) -> Result<()> {
        let tmp = self.dir.join(format!("{}.json.tmp", record.id));
        let json = serde_json::to_vec_pretty(record).expect("records serialize");
        tokio::fs::write(&tmp, json)
            .await
            .map_err(|e| io(e, "cannot write an image record"))?;
        tokio::fs::rename(&tmp, self.record_path(&record.id))
            .await
            .map_err(|e| io(e, "cannot write an image record"))
    }

    /// Removes the record first: an image without one is swept, never listed.
    pub async fn remove(&self, record: &Record) -> Result<()> {
        tokio::fs::remove_file(self.record_path(&record.id))
            .await
            .map_err(|e| io(e, "cannot remove an image record"))?;
        match tokio::fs::remove_file(self.file(&record.id, record.format)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(io(e, "cannot remove an image"))
            }
            _ => Ok(()),
        }
    }
}

fn is_id(s: &str) -> bool {
    s.len() == 16 && s.bytes().all(|b| b.is_ascii_hexdigit())
}
