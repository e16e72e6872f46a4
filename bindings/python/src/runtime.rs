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
    AWAITED.store(true, std::sync::atomic::Ordering::Relaxed);
    pyo3_async_runtimes::tokio::future_into_py(py, async move { fut.await.map_err(to_py) })
}

/// Whether an awaitable was ever made: only then has exit anything to wait for.
static AWAITED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// How long exit gives up the GIL when awaitables were made.
const DRAIN: std::time::Duration = std::time::Duration::from_millis(50);

/// Run at interpreter exit (registered with `atexit`). An awaitable's result is handed to the
/// event loop from one of tokio's blocking threads by `pyo3_async_runtimes`, whose
/// `call_soon_threadsafe` gives up the GIL and takes it back; if the interpreter is finalized in
/// between, CPython ends that thread there and the drops that follow touch freed objects (a
/// segfault at exit after `asyncio.run`, about one run in 25). Giving up the GIL here lets such
/// a delivery finish first. A bound, not a proof: the library does not say when its delivery
/// threads are done, and tokio counts blocking threads only in its unstable metrics.
#[pyfunction]
pub fn drain(py: Python<'_>) {
    if AWAITED.load(std::sync::atomic::Ordering::Relaxed) {
        py.detach(|| std::thread::sleep(DRAIN));
    }
}

/// Does nothing: what a call into the native module costs, for the benchmark.
#[pyfunction]
pub fn noop() {}
