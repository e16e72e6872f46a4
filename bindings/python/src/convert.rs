//! Python arguments as SDK values: sizes as bytes or `"256Mi"`, durations as seconds.

use std::time::Duration;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

use crate::errors::to_py;

/// A size in bytes: an `int`, or a string such as `"256Mi"` or `"1G"`.
#[derive(Debug, Clone, Copy)]
pub struct Size(pub u64);

impl<'a, 'py> FromPyObject<'a, 'py> for Size {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if let Ok(n) = obj.extract::<u64>() {
            return Ok(Size(n));
        }
        if let Ok(s) = obj.extract::<String>() {
            return nubes::units::parse_bytes(&s).map(Size).map_err(to_py);
        }
        Err(PyTypeError::new_err(
            "a size is a number of bytes or a string such as \"256Mi\"",
        ))
    }
}

/// Seconds, as a `Duration`; a negative or non-finite number is refused.
pub fn seconds(s: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(s).map_err(|_| {
        to_py(nubes::Error::invalid_input(format!(
            "{s} is not a number of seconds"
        )))
    })
}

pub fn seconds_opt(s: Option<f64>) -> PyResult<Option<Duration>> {
    s.map(seconds).transpose()
}

/// Bytes to send (a command's stdin, a function's payload): `bytes`, or text sent as UTF-8.
#[derive(Debug, FromPyObject)]
pub enum Data {
    Bytes(Vec<u8>),
    Text(String),
}

impl Data {
    pub fn into_bytes(self) -> bytes::Bytes {
        match self {
            Data::Bytes(b) => b.into(),
            Data::Text(s) => s.into(),
        }
    }
}
