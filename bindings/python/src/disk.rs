//! Disk images: `Disk` (blocking) and `AsyncDisk` (asyncio).

use std::sync::Arc;

use nubes::{DiskFormat, DiskResizeRequest, DiskSpec};
use pyo3::prelude::*;

use crate::convert::Size;
use crate::errors::to_py;
use crate::runtime::{awaitable, block};
use crate::types::DiskImage;

type Handle = Arc<dyn nubes::Disk>;

fn format(f: &str) -> PyResult<DiskFormat> {
    f.parse().map_err(to_py)
}

fn spec(name: String, fmt: &str, size: Size, backing: Option<String>) -> PyResult<DiskSpec> {
    let mut s = DiskSpec::new(name, format(fmt)?, size.0);
    s.backing = backing;
    Ok(s)
}

fn resize_request(size: Size, allow_shrink: bool) -> DiskResizeRequest {
    let r = DiskResizeRequest::new(size.0);
    if allow_shrink {
        r.allow_shrink()
    } else {
        r
    }
}

/// A Python callable as the SDK's progress callback: called with the percentage done, from a
/// worker thread. What it raises is reported as unraisable and does not stop the conversion.
fn progress(callback: Option<Py<PyAny>>) -> nubes::Progress {
    Box::new(move |done: f32| {
        if let Some(cb) = &callback {
            Python::attach(|py| {
                if let Err(e) = cb.call1(py, (done,)) {
                    e.write_unraisable(py, Some(cb.bind(py)));
                }
            });
        }
    })
}

mod ops {
    use super::*;

    pub async fn create(d: Handle, s: DiskSpec) -> nubes::Result<DiskImage> {
        Ok(d.create(s).await?.into())
    }
    pub async fn get(d: Handle, name: String) -> nubes::Result<DiskImage> {
        Ok(d.get(&name).await?.into())
    }
    pub async fn list(d: Handle) -> nubes::Result<Vec<DiskImage>> {
        Ok(d.list().await?.into_iter().map(Into::into).collect())
    }
    pub async fn resize(d: Handle, name: String, r: DiskResizeRequest) -> nubes::Result<DiskImage> {
        Ok(d.resize(&name, r).await?.into())
    }
    pub async fn convert(
        d: Handle,
        name: String,
        f: DiskFormat,
        target: String,
        p: nubes::Progress,
    ) -> nubes::Result<DiskImage> {
        Ok(d.convert_with_progress(&name, f, &target, p).await?.into())
    }
    pub async fn rename(d: Handle, name: String, new_name: String) -> nubes::Result<DiskImage> {
        Ok(d.rename(&name, &new_name).await?.into())
    }
    pub async fn delete(d: Handle, name: String) -> nubes::Result<()> {
        d.delete(&name).await
    }
}

/// Disk images of one provider; every call blocks with the GIL released.
#[pyclass(frozen, module = "nubes")]
#[derive(Debug, Clone)]
pub struct Disk {
    inner: Handle,
}

impl Disk {
    pub fn of(cloud: &nubes::Cloud) -> PyResult<Self> {
        Ok(Self {
            inner: cloud.disk().map_err(to_py)?,
        })
    }
}

#[pymethods]
impl Disk {
    /// Creates an empty image (`format`: qcow2, raw, vhdx, vmdk or vdi) of `size` (bytes or
    /// `"10Gi"`), or a qcow2 overlay on `backing`.
    #[pyo3(signature = (name, format, size, *, backing=None))]
    fn create(
        &self,
        py: Python<'_>,
        name: String,
        format: &str,
        size: Size,
        backing: Option<String>,
    ) -> PyResult<DiskImage> {
        let s = spec(name, format, size, backing)?;
        block(py, ops::create(self.inner.clone(), s))
    }

    /// The one with this name (or id), as it is now.
    fn get(&self, py: Python<'_>, name: String) -> PyResult<DiskImage> {
        block(py, ops::get(self.inner.clone(), name))
    }

    /// All of them.
    fn list(&self, py: Python<'_>) -> PyResult<Vec<DiskImage>> {
        block(py, ops::list(self.inner.clone()))
    }

    /// Grows the image to `size` (a shrink only with `allow_shrink`).
    #[pyo3(signature = (name, size, *, allow_shrink=false))]
    fn resize(
        &self,
        py: Python<'_>,
        name: String,
        size: Size,
        allow_shrink: bool,
    ) -> PyResult<DiskImage> {
        block(
            py,
            ops::resize(self.inner.clone(), name, resize_request(size, allow_shrink)),
        )
    }

    /// Converts the image into a new one, `target`, in `format`; `progress` is called with the
    /// percentage done (from a worker thread).
    #[pyo3(signature = (name, format, target, *, progress=None))]
    fn convert(
        &self,
        py: Python<'_>,
        name: String,
        format: &str,
        target: String,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<DiskImage> {
        let f = self::format(format)?;
        let p = self::progress(progress);
        block(py, ops::convert(self.inner.clone(), name, f, target, p))
    }

    /// Renames the image.
    fn rename(&self, py: Python<'_>, name: String, new_name: String) -> PyResult<DiskImage> {
        block(py, ops::rename(self.inner.clone(), name, new_name))
    }

    /// Deletes it.
    fn delete(&self, py: Python<'_>, name: String) -> PyResult<()> {
        block(py, ops::delete(self.inner.clone(), name))
    }

    fn __repr__(&self) -> String {
        format!("Disk(provider={:?})", self.inner.provider())
    }
}

/// As [`Disk`], for asyncio.
#[pyclass(frozen, module = "nubes")]
#[derive(Debug, Clone)]
pub struct AsyncDisk {
    inner: Handle,
}

impl AsyncDisk {
    pub fn of(cloud: &nubes::Cloud) -> PyResult<Self> {
        Ok(Self {
            inner: cloud.disk().map_err(to_py)?,
        })
    }
}

#[pymethods]
impl AsyncDisk {
    /// As `Disk.create`, awaitable.
    #[pyo3(signature = (name, format, size, *, backing=None))]
    fn create<'py>(
        &self,
        py: Python<'py>,
        name: String,
        format: &str,
        size: Size,
        backing: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let s = spec(name, format, size, backing)?;
        awaitable(py, ops::create(self.inner.clone(), s))
    }

    /// As `Disk.get`, awaitable.
    fn get<'py>(&self, py: Python<'py>, name: String) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, ops::get(self.inner.clone(), name))
    }

    /// As `Disk.list`, awaitable.
    fn list<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, ops::list(self.inner.clone()))
    }

    /// As `Disk.resize`, awaitable.
    #[pyo3(signature = (name, size, *, allow_shrink=false))]
    fn resize<'py>(
        &self,
        py: Python<'py>,
        name: String,
        size: Size,
        allow_shrink: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(
            py,
            ops::resize(self.inner.clone(), name, resize_request(size, allow_shrink)),
        )
    }

    /// As `Disk.convert`, awaitable.
    #[pyo3(signature = (name, format, target, *, progress=None))]
    fn convert<'py>(
        &self,
        py: Python<'py>,
        name: String,
        format: &str,
        target: String,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let f = self::format(format)?;
        let p = self::progress(progress);
        awaitable(py, ops::convert(self.inner.clone(), name, f, target, p))
    }

    /// As `Disk.rename`, awaitable.
    fn rename<'py>(
        &self,
        py: Python<'py>,
        name: String,
        new_name: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, ops::rename(self.inner.clone(), name, new_name))
    }

    /// As `Disk.delete`, awaitable.
    fn delete<'py>(&self, py: Python<'py>, name: String) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, ops::delete(self.inner.clone(), name))
    }

    fn __repr__(&self) -> String {
        format!("AsyncDisk(provider={:?})", self.inner.provider())
    }
}
