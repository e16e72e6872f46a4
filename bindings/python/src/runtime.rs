//! One tokio runtime for both front doors: the blocking API runs its futures on it with the GIL
//! released, the asyncio API hands them to it and awaits them from the event loop.

use std::future::Future;

use pyo3::prelude::*;

use crate::errors::to_py;

/// Runs `fut` to completion on the shared runtime, letting other Python threads run meanwhile.
pub fn block<T, F>(py: Python<'_>, fut: F) -> PyResult<T>
where
    F: Future<Output = nubes::Result<T>> + Send,
    T: Send,
{
    py.detach(|| pyo3_async_runtimes::tokio::get_runtime().block_on(fut))
        .map_err(to_py)
}

/// `fut` as an asyncio awaitable, run on the shared runtime.
pub fn awaitable<'py, T, F>(py: Python<'py>, fut: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = nubes::Result<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    pyo3_async_runtimes::tokio::future_into_py(py, async move { fut.await.map_err(to_py) })
}

/// Does nothing: what a call into the native module costs, for the benchmark.
#[pyfunction]
pub fn noop() {}
