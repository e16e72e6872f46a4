//! Functions: `Function` (blocking) and `AsyncFunction` (asyncio). A handler reads the payload on
//! its stdin; its stdout is the result.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use nubes::FunctionSpec;
use pyo3::prelude::*;

use crate::convert::{seconds_opt, Data, Size};
use crate::errors::to_py;
use crate::runtime::{awaitable, block};
use crate::types::{FunctionInfo, InvokeResponse};

type Handle = Arc<dyn nubes::Function>;

#[allow(clippy::too_many_arguments)]
fn spec(
    name: String,
    image: String,
    handler: Vec<String>,
    env: Option<BTreeMap<String, String>>,
    cpus: Option<f64>,
    memory: Option<Size>,
    timeout: Option<f64>,
    code: Option<Bytes>,
) -> PyResult<FunctionSpec> {
    let mut s = FunctionSpec::new(name, image, handler);
    s.code = code;
    s.env = env.unwrap_or_default();
    s.cpus = cpus;
    s.memory = memory.map(|m| m.0);
    s.timeout = seconds_opt(timeout)?;
    Ok(s)
}

mod ops {
    use super::*;

    pub async fn deploy(f: Handle, s: FunctionSpec) -> nubes::Result<FunctionInfo> {
        Ok(f.deploy(s).await?.into())
    }
    pub async fn get(f: Handle, name: String) -> nubes::Result<FunctionInfo> {
        Ok(f.get(&name).await?.into())
    }
    pub async fn list(f: Handle) -> nubes::Result<Vec<FunctionInfo>> {
        Ok(f.list().await?.into_iter().map(Into::into).collect())
    }
    pub async fn invoke(f: Handle, name: String, p: Bytes) -> nubes::Result<InvokeResponse> {
        Ok(f.invoke(&name, p).await?.into())
    }
    pub async fn invoke_async(f: Handle, name: String, p: Bytes) -> nubes::Result<String> {
        Ok(f.invoke_async(&name, p).await?.id)
    }
    pub async fn delete(f: Handle, name: String) -> nubes::Result<()> {
        f.delete(&name).await
    }
}

/// Functions of one provider; every call blocks with the GIL released.
#[pyclass(frozen, module = "nubes")]
#[derive(Debug, Clone)]
pub struct Function {
    inner: Handle,
}

impl Function {
    pub fn of(cloud: &nubes::Cloud) -> PyResult<Self> {
        Ok(Self {
            inner: cloud.function().map_err(to_py)?,
        })
    }
}

#[pymethods]
impl Function {
    /// Deploys a function (`AlreadyExists` if the name is taken): `handler` runs in `image` once
    /// per invocation. `code` is a zip archive of the handler's files, for providers that take
    /// one (on Lambda, `image` is then the runtime, e.g. `provided.al2`).
    #[pyo3(signature = (name, image, handler, *, env=None, cpus=None, memory=None, timeout=None, code=None))]
    #[allow(clippy::too_many_arguments)]
    fn deploy(
        &self,
        py: Python<'_>,
        name: String,
        image: String,
        handler: Vec<String>,
        env: Option<BTreeMap<String, String>>,
        cpus: Option<f64>,
        memory: Option<Size>,
        timeout: Option<f64>,
        code: Option<Bytes>,
    ) -> PyResult<FunctionInfo> {
        let s = spec(name, image, handler, env, cpus, memory, timeout, code)?;
        block(py, ops::deploy(self.inner.clone(), s))
    }

    /// The one with this name (or id), as it is now.
    fn get(&self, py: Python<'_>, name: String) -> PyResult<FunctionInfo> {
        block(py, ops::get(self.inner.clone(), name))
    }

    /// All of them.
    fn list(&self, py: Python<'_>) -> PyResult<Vec<FunctionInfo>> {
        block(py, ops::list(self.inner.clone()))
    }

    /// Runs the function on `payload` (bytes or text) and waits for its result.
    #[pyo3(signature = (name, payload=None))]
    fn invoke(
        &self,
        py: Python<'_>,
        name: String,
        payload: Option<Data>,
    ) -> PyResult<InvokeResponse> {
        let p = payload.map(Data::into_bytes).unwrap_or_default();
        block(py, ops::invoke(self.inner.clone(), name, p))
    }

    /// Starts the function on `payload` and returns the invocation's id at once.
    #[pyo3(signature = (name, payload=None))]
    fn invoke_async(
        &self,
        py: Python<'_>,
        name: String,
        payload: Option<Data>,
    ) -> PyResult<String> {
        let p = payload.map(Data::into_bytes).unwrap_or_default();
        block(py, ops::invoke_async(self.inner.clone(), name, p))
    }

    /// Deletes it.
    fn delete(&self, py: Python<'_>, name: String) -> PyResult<()> {
        block(py, ops::delete(self.inner.clone(), name))
    }

    fn __repr__(&self) -> String {
        format!("Function(provider={:?})", self.inner.provider())
    }
}

/// As [`Function`], for asyncio.
#[pyclass(frozen, module = "nubes")]
#[derive(Debug, Clone)]
pub struct AsyncFunction {
    inner: Handle,
}

impl AsyncFunction {
    pub fn of(cloud: &nubes::Cloud) -> PyResult<Self> {
        Ok(Self {
            inner: cloud.function().map_err(to_py)?,
        })
    }
}

#[pymethods]
impl AsyncFunction {
    /// As `Function.deploy`, awaitable.
    #[pyo3(signature = (name, image, handler, *, env=None, cpus=None, memory=None, timeout=None, code=None))]
    #[allow(clippy::too_many_arguments)]
    fn deploy<'py>(
        &self,
        py: Python<'py>,
        name: String,
        image: String,
        handler: Vec<String>,
        env: Option<BTreeMap<String, String>>,
        cpus: Option<f64>,
        memory: Option<Size>,
        timeout: Option<f64>,
        code: Option<Bytes>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let s = spec(name, image, handler, env, cpus, memory, timeout, code)?;
        awaitable(py, ops::deploy(self.inner.clone(), s))
    }

    /// As `Function.get`, awaitable.
    fn get<'py>(&self, py: Python<'py>, name: String) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, ops::get(self.inner.clone(), name))
    }

    /// As `Function.list`, awaitable.
    fn list<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, ops::list(self.inner.clone()))
    }

    /// As `Function.invoke`, awaitable.
    #[pyo3(signature = (name, payload=None))]
    fn invoke<'py>(
        &self,
        py: Python<'py>,
        name: String,
        payload: Option<Data>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let p = payload.map(Data::into_bytes).unwrap_or_default();
        awaitable(py, ops::invoke(self.inner.clone(), name, p))
    }

    /// As `Function.invoke_async`, awaitable.
    #[pyo3(signature = (name, payload=None))]
    fn invoke_async<'py>(
        &self,
        py: Python<'py>,
        name: String,
        payload: Option<Data>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let p = payload.map(Data::into_bytes).unwrap_or_default();
        awaitable(py, ops::invoke_async(self.inner.clone(), name, p))
    }

    /// As `Function.delete`, awaitable.
    fn delete<'py>(&self, py: Python<'py>, name: String) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, ops::delete(self.inner.clone(), name))
    }

    fn __repr__(&self) -> String {
        format!("AsyncFunction(provider={:?})", self.inner.provider())
    }
}
