//! The native half of the `nubes` Python package (`nubes._nubes`): the Rust SDK's four services
//! as Python classes, each in a blocking form (`Cloud`) and an asyncio form (`AsyncCloud`) over
//! one tokio runtime. Every method is a few lines that call the SDK; what Python users see of
//! errors, sizes and results is decided once, in `errors.rs`, `convert.rs` and `types.rs`.

use pyo3::prelude::*;

mod cloud;
mod compute;
mod convert;
mod disk;
mod errors;
mod function;
mod runtime;
mod storage;
mod types;

#[pymodule]
fn _nubes(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<cloud::Cloud>()?;
    m.add_class::<cloud::AsyncCloud>()?;
    m.add_class::<compute::Compute>()?;
    m.add_class::<compute::AsyncCompute>()?;
    m.add_class::<compute::Logs>()?;
    m.add_class::<compute::AsyncLogs>()?;
    m.add_class::<storage::Storage>()?;
    m.add_class::<storage::AsyncStorage>()?;
    m.add_class::<storage::Objects>()?;
    m.add_class::<storage::AsyncObjects>()?;
    m.add_class::<disk::Disk>()?;
    m.add_class::<disk::AsyncDisk>()?;
    m.add_class::<function::Function>()?;
    m.add_class::<function::AsyncFunction>()?;
    types::register(m)?;
    m.add_function(wrap_pyfunction!(errors::error_classes, m)?)?;
    m.add_function(wrap_pyfunction!(runtime::noop, m)?)?;
    let drain = wrap_pyfunction!(runtime::drain, m)?;
    m.py()
        .import("atexit")?
        .call_method1("register", (drain,))?;
    Ok(())
}
