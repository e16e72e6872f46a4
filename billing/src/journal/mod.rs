//! A durable, append-only journal of usage events: what metering records first, before any
//! of it reaches a database.
//!
//! Events are keyed by instance and numbered per instance without gaps; an event whose number
//! the journal already holds is a duplicate and is dropped, so producers may retry freely. One
//! writer thread takes whatever appends are waiting, writes them together and syncs once (group
//! commit): an append returns only once its events are on disk, and thousands of them share one
//! `fdatasync`. Readers follow the durable end; a consumer that has applied everything before a
//! [`Cursor`] releases it, and whole segments behind it are deleted. Reopening after a crash
//! keeps every complete record and cuts a torn tail.

mod record;

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};

use nubes_core::{Error, Result};
use tokio::sync::{oneshot, watch};

use record::{decode, encode, Decoded};
pub use record::{Record, MAX_KEY};

use crate::meter::{Transition, UsageEvent};
use nubes_core::Resources;

/// A position in the journal: everything before it was written earlier.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cursor {
    pub segment: u64,
    pub offset: u64,
}

#[derive(Debug, Clone)]
pub struct Options {
    /// A segment this long is closed and a new one begun.
    pub segment_bytes: u64,
    /// At most this many appends share one write and sync.
    pub max_batch: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            segment_bytes: 64 << 20,
            max_batch: 4096,
        }
    }
}

/// One event to append. Without `seq` it gets the instance's next number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub instance: String,
    pub seq: Option<u64>,
    pub transition: Transition,
    pub at: i64,
    pub size: Resources,
}

/// What became of one appended entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// Now on disk; readers see it before `end`.
    Recorded { seq: u64, end: Cursor },
    /// The journal already had this number for this instance; nothing was written.
    Duplicate { seq: u64 },
}

impl Appended {
    pub fn seq(&self) -> u64 {
        match self {
            Appended::Recorded { seq, .. } | Appended::Duplicate { seq } => *seq,
        }
    }
}

type Reply = oneshot::Sender<Result<Vec<Appended>>>;

enum Request {
    Append(Vec<Entry>, Reply),
    Seed(Vec<(String, u64)>),
}

#[derive(Debug)]
struct Shared {
    dir: PathBuf,
    requests: Mutex<mpsc::Sender<Request>>,
    durable: watch::Receiver<Cursor>,
    released: Mutex<Cursor>,
}

/// A handle to an open journal; clones share it.
#[derive(Debug, Clone)]
pub struct Journal {
    shared: Arc<Shared>,
}

fn segment_path(dir: &Path, segment: u64) -> PathBuf {
    dir.join(format!("{segment:020}.log"))
}

fn io(what: &str, e: std::io::Error) -> Error {
    Error::unexpected(format!("usage journal: {what}: {e}"))
}

fn segments(dir: &Path) -> Result<Vec<u64>> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| io("cannot list its directory", e))? {
        let name = entry
            .map_err(|e| io("cannot list its directory", e))?
            .file_name();
        let name = name.to_string_lossy();
        if let Some(n) = name.strip_suffix(".log").and_then(|n| n.parse().ok()) {
            found.push(n);
        }
    }
    found.sort_unstable();
    Ok(found)
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io("cannot sync its directory", e))
}

/// Reads a segment's records from the start; a damaged tail is reported by where it begins.
fn scan(bytes: &[u8], mut each: impl FnMut(Record)) -> (usize, Option<Decoded>) {
    let mut at = 0;
    while at < bytes.len() {
        match decode(&bytes[at..]) {
            Decoded::Record(r, n) => {
                each(r);
                at += n;
            }
            damage => return (at, Some(damage)),
        }
    }
    (at, None)
}

fn read_released(dir: &Path) -> Option<Cursor> {
    let text = fs::read_to_string(dir.join("released")).ok()?;
    let (segment, offset) = text.trim().split_once(':')?;
    Some(Cursor {
        segment: segment.parse().ok()?,
        offset: offset.parse().ok()?,
    })
}

impl Journal {
    /// Opens (or creates) the journal in `dir`, recovering what an earlier process wrote.
    pub fn open(dir: &Path, options: Options) -> Result<Journal> {
        fs::create_dir_all(dir).map_err(|e| io("cannot create its directory", e))?;
        let mut found = segments(dir)?;
        if found.is_empty() {
            File::create(segment_path(dir, 0)).map_err(|e| io("cannot create a segment", e))?;
            sync_dir(dir)?;
            found.push(0);
        }
        let mut high: HashMap<String, u64> = HashMap::new();
        let last = *found.last().expect("at least one segment");
        let mut end = 0;
        for &segment in &found {
            let path = segment_path(dir, segment);
            let bytes = fs::read(&path).map_err(|e| io("cannot read a segment", e))?;
            let (good, damage) = scan(&bytes, |r| {
                let seq = high.entry(r.instance).or_default();
                *seq = (*seq).max(r.event.seq);
            });
            if damage.is_some() {
                if segment != last {
                    return Err(Error::unexpected(format!(
                        "usage journal: segment {} is damaged at byte {good}, before the last segment",
                        path.display()
                    )));
                }
                // A write that a crash cut short: it was never acknowledged, so dropping it
                // loses nothing a producer was told is kept.
                tracing::warn!(
                    segment = %path.display(),
                    bytes = bytes.len() - good,
                    "usage journal: cutting an unfinished write from the end"
                );
                let f = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(|e| io("cannot open a segment", e))?;
                f.set_len(good as u64)
                    .and_then(|_| f.sync_all())
                    .map_err(|e| io("cannot cut a torn tail", e))?;
            }
            end = good as u64;
        }
        let file = OpenOptions::new()
            .append(true)
            .open(segment_path(dir, last))
            .map_err(|e| io("cannot open a segment", e))?;
        let at = Cursor {
            segment: last,
            offset: end,
        };
        let first = Cursor {
            segment: found[0],
            offset: 0,
        };
        let released = read_released(dir).unwrap_or_default().max(first).min(at);
        let (durable_tx, durable) = watch::channel(at);
        let (requests, rx) = mpsc::channel();
        let writer = Writer {
            dir: dir.to_path_buf(),
            file,
            at,
            high,
            options,
            durable: durable_tx,
            failed: None,
        };
        std::thread::Builder::new()
            .name("usage-journal".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| io("cannot start its writer", e))?;
        Ok(Journal {
            shared: Arc::new(Shared {
                dir: dir.to_path_buf(),
                requests: Mutex::new(requests),
                durable,
                released: Mutex::new(released),
            }),
        })
    }

    fn send(&self, request: Request) -> Result<()> {
        self.shared
            .requests
            .lock()
            .expect("journal sender")
            .send(request)
            .map_err(|_| Error::unexpected("usage journal: its writer stopped"))
    }

    /// Appends `entries` and returns once they are on disk. A request with a bad entry (a gap
    /// in an instance's numbers, an oversized key) is refused whole.
    pub async fn append(&self, entries: Vec<Entry>) -> Result<Vec<Appended>> {
        let (reply, done) = oneshot::channel();
        self.send(Request::Append(entries, reply))?;
        done.await
            .map_err(|_| Error::unexpected("usage journal: its writer stopped"))?
    }

    /// Raises instances' last numbers to at least these: numbers a database already holds
    /// for events whose segments were released.
    pub fn seed(&self, numbers: Vec<(String, u64)>) -> Result<()> {
        self.send(Request::Seed(numbers))
    }

    /// Where everything written so far ends; changes as appends land.
    pub fn durable(&self) -> watch::Receiver<Cursor> {
        self.shared.durable.clone()
    }

    /// Where a consumer resumes: everything before it was released.
    pub fn released(&self) -> Cursor {
        *self.shared.released.lock().expect("journal released")
    }

    /// Up to `max` durable records from `from`, each with the position after it, and where the
    /// next read starts.
    pub fn read(&self, from: Cursor, max: usize) -> Result<(Vec<(Record, Cursor)>, Cursor)> {
        let durable = *self.shared.durable.borrow();
        let mut at = from;
        let mut out = Vec::new();
        while at < durable && out.len() < max {
            let limit = if at.segment == durable.segment {
                durable.offset
            } else {
                u64::MAX
            };
            let mut file = File::open(segment_path(&self.shared.dir, at.segment))
                .map_err(|e| io("cannot open a segment", e))?;
            file.seek(SeekFrom::Start(at.offset))
                .map_err(|e| io("cannot read a segment", e))?;
            let mut bytes = Vec::new();
            file.take((limit - at.offset).min(1 << 20))
                .read_to_end(&mut bytes)
                .map_err(|e| io("cannot read a segment", e))?;
            if bytes.is_empty() {
                // The end of a closed segment: the next one follows.
                at = Cursor {
                    segment: at.segment + 1,
                    offset: 0,
                };
                continue;
            }
            let mut used = 0;
            while out.len() < max {
                match decode(&bytes[used..]) {
                    Decoded::Record(r, n) => {
                        used += n;
                        out.push((
                            r,
                            Cursor {
                                segment: at.segment,
                                offset: at.offset + used as u64,
                            },
                        ));
                    }
                    Decoded::Torn if used > 0 => break,
                    _ => {
                        return Err(Error::unexpected(format!(
                            "usage journal: segment {} is damaged at byte {}",
                            at.segment,
                            at.offset + used as u64
                        )))
                    }
                }
                if used == bytes.len() {
                    break;
                }
            }
            at.offset += used as u64;
        }
        Ok((out, at))
    }

    /// Everything before `upto` was applied: a restart resumes there, and segments wholly
    /// before it are deleted.
    pub fn release(&self, upto: Cursor) -> Result<()> {
        let mut released = self.shared.released.lock().expect("journal released");
        if upto <= *released {
            return Ok(());
        }
        let dir = &self.shared.dir;
        let tmp = dir.join("released.tmp");
        fs::write(&tmp, format!("{}:{}\n", upto.segment, upto.offset))
            .and_then(|_| fs::rename(&tmp, dir.join("released")))
            .map_err(|e| io("cannot store how far it was applied", e))?;
        for segment in segments(dir)?.into_iter().filter(|s| *s < upto.segment) {
            fs::remove_file(segment_path(dir, segment))
                .map_err(|e| io("cannot delete an applied segment", e))?;
        }
        *released = upto;
        Ok(())
    }
}

struct Writer {
    dir: PathBuf,
    file: File,
    at: Cursor,
    /// Each instance's last number on disk.
    high: HashMap<String, u64>,
    options: Options,
    durable: watch::Sender<Cursor>,
    /// After a write failed and the file could not be brought back to its last durable end,
    /// nothing more is accepted: what is on disk is no longer known.
    failed: Option<String>,
}

impl Writer {
    fn run(mut self, rx: mpsc::Receiver<Request>) {
        let mut buf = Vec::new();
        while let Ok(first) = rx.recv() {
            let mut batch = vec![first];
            while batch.len() < self.options.max_batch {
                match rx.try_recv() {
                    Ok(r) => batch.push(r),
                    Err(_) => break,
                }
            }
            buf.clear();
            let mut replies = Vec::new();
            let mut undo = Vec::new();
            for request in batch {
                match request {
                    Request::Seed(numbers) => {
                        for (instance, seq) in numbers {
                            let high = self.high.entry(instance).or_default();
                            *high = (*high).max(seq);
                        }
                    }
                    Request::Append(entries, reply) => {
                        let result = self.admit(entries, &mut buf, &mut undo);
                        replies.push((reply, result));
                    }
                }
            }
            let written = self.write(&buf);
            if written.is_err() && self.failed.is_none() {
                // Nothing of this batch counts (a full disk, say): its numbers are given back
                // and the file cut back to its last durable end, so the next batch, once there
                // is room, goes on as if this one had never been.
                for (instance, old) in undo.drain(..).rev() {
                    match old {
                        Some(seq) => self.high.insert(instance, seq),
                        None => self.high.remove(&instance),
                    };
                }
                if let Err(e) = self.rewind() {
                    self.failed = Some(e.message().to_string());
                }
            }
            for (reply, result) in replies {
                let result = match (&written, &self.failed) {
                    (_, Some(why)) => Err(Error::unexpected(format!(
                        "usage journal: a write failed and the file cannot be repaired: {why}"
                    ))),
                    (Err(e), None) => Err(Error::new(
                        nubes_core::ErrorKind::Unavailable,
                        format!("{} (nothing was recorded; try again)", e.message()),
                    )
                    .set_temporary()),
                    (Ok(()), None) => result,
                };
                let _ = reply.send(result);
            }
        }
    }

    /// Numbers and encodes one request's entries into `buf`, or refuses them all.
    /// `undo` gets each instance's number as it was before, for a batch that is not written.
    fn admit(
        &mut self,
        entries: Vec<Entry>,
        buf: &mut Vec<u8>,
        undo: &mut Vec<(String, Option<u64>)>,
    ) -> Result<Vec<Appended>> {
        let mut next: HashMap<&str, u64> = HashMap::new();
        let mut plan = Vec::with_capacity(entries.len());
        for e in &entries {
            if e.instance.len() > MAX_KEY {
                return Err(Error::invalid_input(format!(
                    "a usage event's instance key is longer than {MAX_KEY} bytes"
                )));
            }
            let last = *next
                .entry(e.instance.as_str())
                .or_insert_with(|| self.high.get(&e.instance).copied().unwrap_or(0));
            let seq = e.seq.unwrap_or(last + 1);
            if seq == 0 || seq > last + 1 {
                return Err(Error::invalid_input(format!(
                    "usage event {seq} of {} does not follow {last}: events are numbered from 1 without gaps",
                    e.instance
                )));
            }
            if seq == last + 1 {
                next.insert(e.instance.as_str(), seq);
            }
            plan.push((seq, seq == last + 1));
        }
        let mut out = Vec::with_capacity(entries.len());
        let mut offset = self.at.offset + buf.len() as u64;
        for (e, (seq, new)) in entries.iter().zip(plan) {
            if !new {
                out.push(Appended::Duplicate { seq });
                continue;
            }
            let event = UsageEvent {
                seq,
                transition: e.transition,
                at: e.at,
                size: e.size,
            };
            let before = buf.len();
            encode(&e.instance, &event, buf);
            offset += (buf.len() - before) as u64;
            out.push(Appended::Recorded {
                seq,
                end: Cursor {
                    segment: self.at.segment,
                    offset,
                },
            });
        }
        for (instance, seq) in next {
            undo.push((instance.to_string(), self.high.get(instance).copied()));
            match self.high.get_mut(instance) {
                Some(high) => *high = seq,
                None => {
                    self.high.insert(instance.to_string(), seq);
                }
            }
        }
        Ok(out)
    }

    /// Cuts the current segment back to its last durable end, dropping a partial write.
    fn rewind(&mut self) -> Result<()> {
        self.file
            .set_len(self.at.offset)
            .and_then(|_| self.file.seek(SeekFrom::Start(self.at.offset)).map(|_| ()))
            .and_then(|_| self.file.sync_data())
            .map_err(|e| io("cannot cut a failed write off", e))
    }

    fn write(&mut self, buf: &[u8]) -> Result<()> {
        if let Some(why) = &self.failed {
            return Err(Error::unexpected(why.clone()));
        }
        if buf.is_empty() {
            return Ok(());
        }
        self.file
            .write_all(buf)
            .and_then(|_| self.file.sync_data())
            .map_err(|e| io("cannot write", e))?;
        self.at.offset += buf.len() as u64;
        if self.at.offset >= self.options.segment_bytes {
            let next = self.at.segment + 1;
            self.file = File::create(segment_path(&self.dir, next))
                .map_err(|e| io("cannot create a segment", e))?;
            sync_dir(&self.dir)?;
            self.at = Cursor {
                segment: next,
                offset: 0,
            };
        }
        self.durable.send_replace(self.at);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
