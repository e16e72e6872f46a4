//! Instances: `Compute` (blocking) and `AsyncCompute` (asyncio), each method a line over the
//! shared operations below.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::StreamExt;
use nubes::compute::{DeleteOptions, StopOptions};
use nubes::{ExecRequest, InstanceSpec, InstanceState, ListOptions, LogOptions, ResizeRequest};
use pyo3::exceptions::PyStopAsyncIteration;
use pyo3::prelude::*;
use tokio::sync::Mutex;

use crate::convert::{seconds, seconds_opt, Data, Size};
use crate::errors::to_py;
use crate::runtime::{awaitable, block};
use crate::types::{ExecOutput, Instance, InstanceStats, LogChunk};

type Handle = Arc<dyn nubes::Compute>;

#[allow(clippy::too_many_arguments)]
fn spec(
    name: String,
    image: String,
    cpus: Option<f64>,
    memory: Option<Size>,
    command: Option<Vec<String>>,
    env: Option<BTreeMap<String, String>>,
    labels: Option<BTreeMap<String, String>>,
    disk: Option<Size>,
) -> InstanceSpec {
    let mut s = InstanceSpec::new(name, image);
    s.cpus = cpus;
    s.memory = memory.map(|m| m.0);
    s.disk = disk.map(|d| d.0);
    s.command = command;
    s.env = env.unwrap_or_default();
    s.labels = labels.unwrap_or_default();
    s
}

fn list_options(labels: Option<BTreeMap<String, String>>, prefix: Option<String>) -> ListOptions {
    let mut o = ListOptions::default();
    o.labels = labels.unwrap_or_default();
    o.name_prefix = prefix;
    o
}

fn exec_request(
    command: Vec<String>,
    stdin: Option<Data>,
    env: Option<BTreeMap<String, String>>,
    workdir: Option<String>,
    timeout: Option<f64>,
    max_output: Option<u64>,
) -> PyResult<ExecRequest> {
    let mut r = ExecRequest::new(command);
    r.stdin = stdin.map(Data::into_bytes);
    r.env = env.unwrap_or_default();
    r.workdir = workdir;
    r.timeout = seconds_opt(timeout)?;
    r.max_output = max_output;
    Ok(r)
}

/// `running`, `stopped`, ... or `deleted`.
fn condition(state: &str) -> PyResult<nubes::WaitCondition> {
    use InstanceState::*;
    let s = match state {
        "deleted" => return Ok(nubes::WaitCondition::Deleted),
        "queued" => Queued,
        "creating" => Creating,
        "running" => Running,
        "paused" => Paused,
        "restarting" => Restarting,
        "stopping" => Stopping,
        "stopped" => Stopped,
        "failed" => Failed,
        other => {
            return Err(to_py(nubes::Error::invalid_input(format!(
                "`{other}` is not a state to wait for: running, stopped, deleted, ..."
            ))))
        }
    };
    Ok(nubes::WaitCondition::State(s))
}

/// The operations both front doors share.
mod ops {
    use super::*;

    pub async fn create(c: Handle, spec: InstanceSpec) -> nubes::Result<Instance> {
        Ok(c.create(spec).await?.into())
    }
    pub async fn get(c: Handle, id: String) -> nubes::Result<Instance> {
        Ok(c.get(&id).await?.into())
    }
    pub async fn list(c: Handle, o: ListOptions) -> nubes::Result<Vec<Instance>> {
        Ok(c.list(o).await?.into_iter().map(Into::into).collect())
    }
    pub async fn start(c: Handle, id: String) -> nubes::Result<Instance> {
        Ok(c.start(&id).await?.into())
    }
    pub async fn stop(c: Handle, id: String, o: StopOptions) -> nubes::Result<Instance> {
        Ok(c.stop(&id, o).await?.into())
    }
    pub async fn restart(c: Handle, id: String, o: StopOptions) -> nubes::Result<Instance> {
        Ok(c.restart(&id, o).await?.into())
    }
    pub async fn delete(c: Handle, id: String, o: DeleteOptions) -> nubes::Result<()> {
        c.delete(&id, o).await
    }
    pub async fn resize(c: Handle, id: String, r: ResizeRequest) -> nubes::Result<Instance> {
        Ok(c.resize(&id, r).await?.into())
    }
    pub async fn stats(c: Handle, id: String) -> nubes::Result<InstanceStats> {
        Ok(c.stats(&id).await?.into())
    }
    pub async fn exec(c: Handle, id: String, r: ExecRequest) -> nubes::Result<ExecOutput> {
        Ok(c.exec(&id, r).await?.into())
    }
    pub async fn logs(c: Handle, id: String, o: LogOptions) -> nubes::Result<nubes::LogStream> {
        c.logs(&id, o).await
    }
    pub async fn wait_for(
        c: Handle,
        id: String,
        condition: nubes::WaitCondition,
        timeout: std::time::Duration,
    ) -> nubes::Result<Option<Instance>> {
        Ok(nubes::wait_for(c.as_ref(), &id, condition, timeout)
            .await?
            .map(Into::into))
    }
    pub async fn next(stream: Arc<Mutex<nubes::LogStream>>) -> nubes::Result<Option<LogChunk>> {
        let mut s = stream.lock().await;
        Ok(s.next().await.transpose()?.map(Into::into))
    }
}

fn log_options(follow: bool, tail: Option<u64>) -> LogOptions {
    let mut o = LogOptions::default().follow(follow);
    o.tail = tail;
    o
}

fn stop_options(timeout: f64) -> PyResult<StopOptions> {
    Ok(StopOptions::timeout(seconds(timeout)?))
}

fn resize_request(cpus: Option<f64>, memory: Option<Size>) -> ResizeRequest {
    let mut r = ResizeRequest::default();
    r.cpus = cpus;
    r.memory = memory.map(|m| m.0);
    r
}

/// Instances (containers or VMs) of one provider; every call blocks with the GIL released.
#[pyclass(frozen, module = "nubes")]
#[derive(Debug, Clone)]
pub struct Compute {
    inner: Handle,
}

impl Compute {
    pub fn of(cloud: &nubes::Cloud) -> PyResult<Self> {
        Ok(Self {
            inner: cloud.compute().map_err(to_py)?,
        })
    }
}

#[pymethods]
impl Compute {
    /// Creates and starts an instance. `memory` and `disk` are bytes or sizes such as
    /// `"256Mi"`; `cpus` may be fractional.
    #[pyo3(signature = (name, image, *, cpus=None, memory=None, command=None, env=None, labels=None, disk=None))]
    #[allow(clippy::too_many_arguments)]
    fn create(
        &self,
        py: Python<'_>,
        name: String,
        image: String,
        cpus: Option<f64>,
        memory: Option<Size>,
        command: Option<Vec<String>>,
        env: Option<BTreeMap<String, String>>,
        labels: Option<BTreeMap<String, String>>,
        disk: Option<Size>,
    ) -> PyResult<Instance> {
        let s = spec(name, image, cpus, memory, command, env, labels, disk);
        block(py, ops::create(self.inner.clone(), s))
    }

    /// The instance with this id (or name), as it is now.
    fn get(&self, py: Python<'_>, id: String) -> PyResult<Instance> {
        block(py, ops::get(self.inner.clone(), id))
    }

    /// Instances with all of `labels` (and whose names start with `name_prefix`).
    #[pyo3(signature = (*, labels=None, name_prefix=None))]
    fn list(
        &self,
        py: Python<'_>,
        labels: Option<BTreeMap<String, String>>,
        name_prefix: Option<String>,
    ) -> PyResult<Vec<Instance>> {
        block(
            py,
            ops::list(self.inner.clone(), list_options(labels, name_prefix)),
        )
    }

    /// Starts the stopped instance.
    fn start(&self, py: Python<'_>, id: String) -> PyResult<Instance> {
        block(py, ops::start(self.inner.clone(), id))
    }

    /// Stops the instance, killing it after `timeout` seconds.
    #[pyo3(signature = (id, *, timeout=10.0))]
    fn stop(&self, py: Python<'_>, id: String, timeout: f64) -> PyResult<Instance> {
        block(
            py,
            ops::stop(self.inner.clone(), id, stop_options(timeout)?),
        )
    }

    /// Stops the instance (killing it after `timeout` seconds) and starts it again.
    #[pyo3(signature = (id, *, timeout=10.0))]
    fn restart(&self, py: Python<'_>, id: String, timeout: f64) -> PyResult<Instance> {
        block(
            py,
            ops::restart(self.inner.clone(), id, stop_options(timeout)?),
        )
    }

    /// Deletes the instance; a running one only with `force`.
    #[pyo3(signature = (id, *, force=false))]
    fn delete(&self, py: Python<'_>, id: String, force: bool) -> PyResult<()> {
        block(
            py,
            ops::delete(self.inner.clone(), id, DeleteOptions::new(force, false)),
        )
    }

    /// Changes the instance's cpus and memory.
    #[pyo3(signature = (id, *, cpus=None, memory=None))]
    fn resize(
        &self,
        py: Python<'_>,
        id: String,
        cpus: Option<f64>,
        memory: Option<Size>,
    ) -> PyResult<Instance> {
        block(
            py,
            ops::resize(self.inner.clone(), id, resize_request(cpus, memory)),
        )
    }

    /// A sample of the instance's cpu, memory, network and block use.
    fn stats(&self, py: Python<'_>, id: String) -> PyResult<InstanceStats> {
        block(py, ops::stats(self.inner.clone(), id))
    }

    /// Runs `command` in the instance and waits for it: `stdin` as bytes or text, `timeout` in
    /// seconds (the command is killed past it and `Timeout` raised).
    #[pyo3(signature = (id, command, *, stdin=None, env=None, workdir=None, timeout=None, max_output=None))]
    #[allow(clippy::too_many_arguments)]
    fn exec(
        &self,
        py: Python<'_>,
        id: String,
        command: Vec<String>,
        stdin: Option<Data>,
        env: Option<BTreeMap<String, String>>,
        workdir: Option<String>,
        timeout: Option<f64>,
        max_output: Option<u64>,
    ) -> PyResult<ExecOutput> {
        let r = exec_request(command, stdin, env, workdir, timeout, max_output)?;
        block(py, ops::exec(self.inner.clone(), id, r))
    }

    /// The instance's output as an iterator of `LogChunk`s; with `follow`, it goes on until the
    /// instance stops.
    #[pyo3(signature = (id, *, follow=false, tail=None))]
    fn logs(&self, py: Python<'_>, id: String, follow: bool, tail: Option<u64>) -> PyResult<Logs> {
        let stream = block(
            py,
            ops::logs(self.inner.clone(), id, log_options(follow, tail)),
        )?;
        Ok(Logs {
            stream: Arc::new(Mutex::new(stream)),
        })
    }

    /// Waits until the instance is in `state` (`running`, `stopped`, ...) or, with `deleted`,
    /// gone (then `None`); raises `Timeout` after `timeout` seconds.
    #[pyo3(signature = (id, state, *, timeout=60.0))]
    fn wait_for(
        &self,
        py: Python<'_>,
        id: String,
        state: &str,
        timeout: f64,
    ) -> PyResult<Option<Instance>> {
        let (cond, limit) = (condition(state)?, seconds(timeout)?);
        block(py, ops::wait_for(self.inner.clone(), id, cond, limit))
    }

    fn __repr__(&self) -> String {
        format!("Compute(provider={:?})", self.inner.provider())
    }
}

/// An instance's output, chunk by chunk.
#[pyclass(frozen, module = "nubes")]
pub struct Logs {
    stream: Arc<Mutex<nubes::LogStream>>,
}

impl std::fmt::Debug for Logs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Logs").finish_non_exhaustive()
    }
}

#[pymethods]
impl Logs {
    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<LogChunk>> {
        block(py, ops::next(self.stream.clone()))
    }
}

/// As [`Compute`], for asyncio.
#[pyclass(frozen, module = "nubes")]
#[derive(Debug, Clone)]
pub struct AsyncCompute {
    inner: Handle,
}

impl AsyncCompute {
    pub fn of(cloud: &nubes::Cloud) -> PyResult<Self> {
        Ok(Self {
            inner: cloud.compute().map_err(to_py)?,
        })
    }
}

#[pymethods]
impl AsyncCompute {
    /// As `Compute.create`, awaitable.
    #[pyo3(signature = (name, image, *, cpus=None, memory=None, command=None, env=None, labels=None, disk=None))]
    #[allow(clippy::too_many_arguments)]
    fn create<'py>(
        &self,
        py: Python<'py>,
        name: String,
        image: String,
        cpus: Option<f64>,
        memory: Option<Size>,
        command: Option<Vec<String>>,
        env: Option<BTreeMap<String, String>>,
        labels: Option<BTreeMap<String, String>>,
        disk: Option<Size>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let s = spec(name, image, cpus, memory, command, env, labels, disk);
        awaitable(py, ops::create(self.inner.clone(), s))
    }

    /// As `Compute.get`, awaitable.
    fn get<'py>(&self, py: Python<'py>, id: String) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, ops::get(self.inner.clone(), id))
    }

    /// As `Compute.list`, awaitable.
    #[pyo3(signature = (*, labels=None, name_prefix=None))]
    fn list<'py>(
        &self,
        py: Python<'py>,
        labels: Option<BTreeMap<String, String>>,
        name_prefix: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(
            py,
            ops::list(self.inner.clone(), list_options(labels, name_prefix)),
        )
    }

    /// As `Compute.start`, awaitable.
    fn start<'py>(&self, py: Python<'py>, id: String) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, ops::start(self.inner.clone(), id))
    }

    /// As `Compute.stop`, awaitable.
    #[pyo3(signature = (id, *, timeout=10.0))]
    fn stop<'py>(&self, py: Python<'py>, id: String, timeout: f64) -> PyResult<Bound<'py, PyAny>> {
        awaitable(
            py,
            ops::stop(self.inner.clone(), id, stop_options(timeout)?),
        )
    }

    /// As `Compute.restart`, awaitable.
    #[pyo3(signature = (id, *, timeout=10.0))]
    fn restart<'py>(
        &self,
        py: Python<'py>,
        id: String,
        timeout: f64,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(
            py,
            ops::restart(self.inner.clone(), id, stop_options(timeout)?),
        )
    }

    /// As `Compute.delete`, awaitable.
    #[pyo3(signature = (id, *, force=false))]
    fn delete<'py>(&self, py: Python<'py>, id: String, force: bool) -> PyResult<Bound<'py, PyAny>> {
        awaitable(
            py,
            ops::delete(self.inner.clone(), id, DeleteOptions::new(force, false)),
        )
    }

    /// As `Compute.resize`, awaitable.
    #[pyo3(signature = (id, *, cpus=None, memory=None))]
    fn resize<'py>(
        &self,
        py: Python<'py>,
        id: String,
        cpus: Option<f64>,
        memory: Option<Size>,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(
            py,
            ops::resize(self.inner.clone(), id, resize_request(cpus, memory)),
        )
    }

    /// As `Compute.stats`, awaitable.
    fn stats<'py>(&self, py: Python<'py>, id: String) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, ops::stats(self.inner.clone(), id))
    }

    /// As `Compute.exec`, awaitable.
    #[pyo3(signature = (id, command, *, stdin=None, env=None, workdir=None, timeout=None, max_output=None))]
    #[allow(clippy::too_many_arguments)]
    fn exec<'py>(
        &self,
        py: Python<'py>,
        id: String,
        command: Vec<String>,
        stdin: Option<Data>,
        env: Option<BTreeMap<String, String>>,
        workdir: Option<String>,
        timeout: Option<f64>,
        max_output: Option<u64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let r = exec_request(command, stdin, env, workdir, timeout, max_output)?;
        awaitable(py, ops::exec(self.inner.clone(), id, r))
    }

    /// Awaits to an async iterator of `LogChunk`s.
    #[pyo3(signature = (id, *, follow=false, tail=None))]
    fn logs<'py>(
        &self,
        py: Python<'py>,
        id: String,
        follow: bool,
        tail: Option<u64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let c = self.inner.clone();
        awaitable(py, async move {
            let stream = ops::logs(c, id, log_options(follow, tail)).await?;
            Ok(AsyncLogs {
                stream: Arc::new(Mutex::new(stream)),
            })
        })
    }

    /// As `Compute.wait_for`, awaitable.
    #[pyo3(signature = (id, state, *, timeout=60.0))]
    fn wait_for<'py>(
        &self,
        py: Python<'py>,
        id: String,
        state: &str,
        timeout: f64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (cond, limit) = (condition(state)?, seconds(timeout)?);
        awaitable(py, ops::wait_for(self.inner.clone(), id, cond, limit))
    }

    fn __repr__(&self) -> String {
        format!("AsyncCompute(provider={:?})", self.inner.provider())
    }
}

/// An instance's output, chunk by chunk, for `async for`.
#[pyclass(frozen, module = "nubes")]
pub struct AsyncLogs {
    stream: Arc<Mutex<nubes::LogStream>>,
}

impl std::fmt::Debug for AsyncLogs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncLogs").finish_non_exhaustive()
    }
}

#[pymethods]
impl AsyncLogs {
    fn __aiter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __anext__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let stream = self.stream.clone();
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            match ops::next(stream).await.map_err(to_py)? {
                Some(chunk) => Ok(chunk),
                None => Err(PyStopAsyncIteration::new_err(())),
            }
        })
    }
}
