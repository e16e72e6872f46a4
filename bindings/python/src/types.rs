//! What the SDK returns, as immutable Python objects with useful `repr`s. One class per SDK
//! type, with the SDK's field names; times are `datetime`s, durations seconds, sizes bytes.

use std::collections::BTreeMap;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use pyo3::prelude::*;

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Instance>()?;
    m.add_class::<ExecOutput>()?;
    m.add_class::<InstanceStats>()?;
    m.add_class::<LogChunk>()?;
    m.add_class::<Bucket>()?;
    m.add_class::<ObjectMeta>()?;
    m.add_class::<DiskImage>()?;
    m.add_class::<FunctionInfo>()?;
    m.add_class::<InvokeResponse>()?;
    Ok(())
}

/// An instance (a container or a VM) as its backend reports it now.
#[pyclass(frozen, get_all, module = "nubes")]
#[derive(Debug, Clone)]
pub struct Instance {
    pub id: String,
    pub name: String,
    pub image: String,
    /// `running`, `stopped`, `creating`, ... (`nubes.InstanceState` names them all).
    pub state: String,
    pub exit_code: Option<i64>,
    pub cpus: Option<f64>,
    pub memory: Option<u64>,
    pub disk: Option<u64>,
    pub labels: BTreeMap<String, String>,
    pub created_at: Option<DateTime<Utc>>,
    pub provider: String,
}

#[pymethods]
impl Instance {
    fn __repr__(&self) -> String {
        format!(
            "Instance(name={:?}, state={:?}, image={:?}, id={:?}, provider={:?})",
            self.name, self.state, self.image, self.id, self.provider
        )
    }
}

impl From<nubes::Instance> for Instance {
    fn from(i: nubes::Instance) -> Self {
        Self {
            id: i.id,
            name: i.name,
            image: i.image,
            state: i.state.as_str().to_string(),
            exit_code: i.exit_code,
            cpus: i.cpus,
            memory: i.memory,
            disk: i.disk,
            labels: i.labels,
            created_at: i.created_at,
            provider: i.provider,
        }
    }
}

/// What a command run in an instance did.
#[pyclass(frozen, get_all, module = "nubes")]
#[derive(Debug, Clone)]
pub struct ExecOutput {
    pub exit_code: i64,
    pub stdout: Bytes,
    pub stderr: Bytes,
    /// Output past the request's `max_output` was dropped.
    pub truncated: bool,
}

#[pymethods]
impl ExecOutput {
    /// Whether the command exited with 0.
    #[getter]
    fn ok(&self) -> bool {
        self.exit_code == 0
    }

    fn __repr__(&self) -> String {
        format!(
            "ExecOutput(exit_code={}, stdout={} bytes, stderr={} bytes)",
            self.exit_code,
            self.stdout.len(),
            self.stderr.len()
        )
    }
}

impl From<nubes::ExecOutput> for ExecOutput {
    fn from(o: nubes::ExecOutput) -> Self {
        Self {
            exit_code: o.exit_code,
            stdout: o.stdout,
            stderr: o.stderr,
            truncated: o.truncated,
        }
    }
}

/// One sample of an instance's use of its resources.
#[pyclass(frozen, get_all, module = "nubes")]
#[derive(Debug, Clone)]
pub struct InstanceStats {
    pub cpu_percent: f64,
    pub memory_bytes: u64,
    pub memory_limit_bytes: Option<u64>,
    pub network_rx_bytes: u64,
    pub network_tx_bytes: u64,
    pub block_read_bytes: u64,
    pub block_write_bytes: u64,
    pub pids: Option<u64>,
}

#[pymethods]
impl InstanceStats {
    fn __repr__(&self) -> String {
        format!(
            "InstanceStats(cpu_percent={:.1}, memory_bytes={}, pids={:?})",
            self.cpu_percent, self.memory_bytes, self.pids
        )
    }
}

impl From<nubes::InstanceStats> for InstanceStats {
    fn from(s: nubes::InstanceStats) -> Self {
        Self {
            cpu_percent: s.cpu_percent,
            memory_bytes: s.memory_bytes,
            memory_limit_bytes: s.memory_limit_bytes,
            network_rx_bytes: s.network_rx_bytes,
            network_tx_bytes: s.network_tx_bytes,
            block_read_bytes: s.block_read_bytes,
            block_write_bytes: s.block_write_bytes,
            pids: s.pids,
        }
    }
}

/// A piece of an instance's output: `stream` is `stdout` or `stderr`.
#[pyclass(frozen, get_all, module = "nubes")]
#[derive(Debug, Clone)]
pub struct LogChunk {
    pub stream: String,
    pub data: Bytes,
}

#[pymethods]
impl LogChunk {
    fn __repr__(&self) -> String {
        format!("LogChunk(stream={:?}, data={:?})", self.stream, self.data)
    }
}

impl From<nubes::LogChunk> for LogChunk {
    fn from(c: nubes::LogChunk) -> Self {
        let stream = match c.stream {
            nubes::LogStreamKind::Stderr => "stderr",
            _ => "stdout",
        };
        Self {
            stream: stream.to_string(),
            data: c.data,
        }
    }
}

#[pyclass(frozen, get_all, module = "nubes")]
#[derive(Debug, Clone)]
pub struct Bucket {
    pub name: String,
    pub created_at: Option<DateTime<Utc>>,
}

#[pymethods]
impl Bucket {
    fn __repr__(&self) -> String {
        format!("Bucket(name={:?})", self.name)
    }
}

impl From<nubes::Bucket> for Bucket {
    fn from(b: nubes::Bucket) -> Self {
        Self {
            name: b.name,
            created_at: b.created_at,
        }
    }
}

/// An object's key, size and when it was last written.
#[pyclass(frozen, get_all, module = "nubes")]
#[derive(Debug, Clone)]
pub struct ObjectMeta {
    pub key: String,
    pub size: u64,
    pub last_modified: Option<DateTime<Utc>>,
}

#[pymethods]
impl ObjectMeta {
    fn __repr__(&self) -> String {
        format!("ObjectMeta(key={:?}, size={})", self.key, self.size)
    }
}

impl From<nubes::ObjectMeta> for ObjectMeta {
    fn from(o: nubes::ObjectMeta) -> Self {
        Self {
            key: o.key,
            size: o.size,
            last_modified: o.last_modified,
        }
    }
}

/// A disk image: `format` is `qcow2`, `raw`, `vhdx`, `vmdk` or `vdi`.
#[pyclass(frozen, get_all, module = "nubes")]
#[derive(Debug, Clone)]
pub struct DiskImage {
    pub name: String,
    pub format: String,
    pub virtual_size: u64,
    pub actual_size: Option<u64>,
    pub created_at: Option<DateTime<Utc>>,
    pub backing: Option<String>,
}

#[pymethods]
impl DiskImage {
    fn __repr__(&self) -> String {
        format!(
            "DiskImage(name={:?}, format={:?}, virtual_size={})",
            self.name, self.format, self.virtual_size
        )
    }
}

impl From<nubes::DiskImage> for DiskImage {
    fn from(d: nubes::DiskImage) -> Self {
        Self {
            name: d.name,
            format: d.format.as_str().to_string(),
            virtual_size: d.virtual_size,
            actual_size: d.actual_size,
            created_at: d.created_at,
            backing: d.backing,
        }
    }
}

/// A deployed function.
#[pyclass(frozen, get_all, module = "nubes")]
#[derive(Debug, Clone)]
pub struct FunctionInfo {
    pub name: String,
    pub image: String,
    pub handler: Vec<String>,
    pub cpus: Option<f64>,
    pub memory: Option<u64>,
    /// Seconds.
    pub timeout: Option<f64>,
    pub created_at: Option<DateTime<Utc>>,
    pub provider: String,
}

#[pymethods]
impl FunctionInfo {
    fn __repr__(&self) -> String {
        format!(
            "FunctionInfo(name={:?}, image={:?}, handler={:?})",
            self.name, self.image, self.handler
        )
    }
}

impl From<nubes::FunctionInfo> for FunctionInfo {
    fn from(f: nubes::FunctionInfo) -> Self {
        Self {
            name: f.name,
            image: f.image,
            handler: f.handler,
            cpus: f.cpus,
            memory: f.memory,
            timeout: f.timeout.map(|t| t.as_secs_f64()),
            created_at: f.created_at,
            provider: f.provider,
        }
    }
}

/// One invocation: the handler's stdout as `payload`; a handler that failed has `error` (what
/// it wrote to stderr) and its `exit_code` where the backend reports one.
#[pyclass(frozen, get_all, module = "nubes")]
#[derive(Debug, Clone)]
pub struct InvokeResponse {
    pub payload: Bytes,
    pub error: Option<String>,
    pub exit_code: Option<i64>,
    pub logs: Bytes,
    /// Seconds.
    pub duration: f64,
}

#[pymethods]
impl InvokeResponse {
    /// Whether the handler succeeded.
    #[getter]
    fn ok(&self) -> bool {
        self.error.is_none()
    }

    fn __repr__(&self) -> String {
        match &self.error {
            None => format!("InvokeResponse(ok, payload={} bytes)", self.payload.len()),
            Some(e) => format!(
                "InvokeResponse(error={e:?}, exit_code={:?})",
                self.exit_code
            ),
        }
    }
}

impl From<nubes::InvokeResponse> for InvokeResponse {
    fn from(r: nubes::InvokeResponse) -> Self {
        let (error, exit_code) = match r.error {
            Some(e) => (Some(e.message), e.exit_code),
            None => (None, None),
        };
        Self {
            payload: r.payload,
            error,
            exit_code,
            logs: r.logs,
            duration: r.duration.as_secs_f64(),
        }
    }
}
