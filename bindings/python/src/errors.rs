//! Errors as Python exceptions. The classes live in `nubes/errors.py` (so a kind can also be a
//! `LookupError`, `TimeoutError` or `ValueError`); which class each kind raises is this table.

use nubes::ErrorKind;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// The class in `nubes.errors` that each kind raises: the one table.
fn class_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::NotFound => "NotFound",
        ErrorKind::AlreadyExists => "AlreadyExists",
        ErrorKind::InvalidInput => "InvalidInput",
        ErrorKind::Unsupported => "Unsupported",
        ErrorKind::PermissionDenied => "PermissionDenied",
        ErrorKind::Unauthenticated => "Unauthenticated",
        ErrorKind::QuotaExceeded => "QuotaExceeded",
        ErrorKind::InsufficientCredits => "InsufficientCredits",
        ErrorKind::Conflict => "Conflict",
        ErrorKind::RateLimited => "RateLimited",
        ErrorKind::Timeout => "Timeout",
        ErrorKind::Unavailable => "Unavailable",
        _ => "Unexpected",
    }
}

/// Every kind (as the SDK spells it) with the class name it raises, for the package's own
/// check that each class exists and for documentation.
#[pyfunction]
pub fn error_classes(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    for kind in ErrorKind::ALL {
        d.set_item(kind.as_str(), class_name(kind))?;
    }
    Ok(d)
}

/// The SDK's error as the exception of its kind, carrying `kind`, `temporary`, `provider` and
/// `operation`.
pub fn to_py(e: nubes::Error) -> PyErr {
    Python::attach(|py| match raise(py, &e) {
        Ok(err) | Err(err) => err,
    })
}

fn raise(py: Python<'_>, e: &nubes::Error) -> PyResult<PyErr> {
    let class = py.import("nubes.errors")?.getattr(class_name(e.kind()))?;
    let exc = class.call1((e.message().to_string(),))?;
    exc.setattr("kind", e.kind().as_str())?;
    exc.setattr("temporary", e.is_temporary())?;
    exc.setattr("provider", e.provider())?;
    exc.setattr("operation", e.operation().map(|o| o.as_str()))?;
    Ok(PyErr::from_value(exc))
}
