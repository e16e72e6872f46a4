//! A connection: `Cloud.connect(uri)` for the blocking API, `AsyncCloud.connect(uri)` for
//! asyncio. Both hold the same SDK `Cloud` and hand out its services.

use pyo3::prelude::*;

use crate::runtime::{awaitable, block};
use crate::{compute, disk, function, storage};

async fn connect(
    uri: String,
    token: Option<String>,
    org: Option<String>,
) -> nubes::Result<nubes::Cloud> {
    use nubes::prelude::Connect;
    if token.is_none() && org.is_none() {
        return nubes::Cloud::connect(&uri).await;
    }
    if !(uri.starts_with("http://") || uri.starts_with("https://")) {
        return Err(nubes::Error::invalid_input(
            "token and org are for a Nubes server: its uri starts with http:// or https://",
        ));
    }
    let token = match token {
        Some(token) => token,
        None => std::env::var("NUBES_TOKEN").unwrap_or_default(),
    };
    nubes::remote::connect(nubes::remote::Client::new(&uri, &token)?.with_org(org)).await
}

/// A connection to one provider, its services used by blocking calls that release the GIL.
#[pyclass(frozen, module = "nubes")]
#[derive(Debug, Clone)]
pub struct Cloud {
    pub inner: nubes::Cloud,
}

#[pymethods]
impl Cloud {
    /// Connects to `uri`: `memory://`, `docker://`, `local:///srv/data`, `qemu://?pool=DIR`,
    /// `aws://us-east-1`, or a Nubes server's `https://...` with `token` (an access or API token;
    /// `NUBES_TOKEN` when omitted). On a server, `org` (an organization's id) is where what this
    /// connection creates goes and where names are looked up; the caller's personal one if
    /// omitted.
    #[staticmethod]
    #[pyo3(signature = (uri, token = None, org = None))]
    fn connect(
        py: Python<'_>,
        uri: String,
        token: Option<String>,
        org: Option<String>,
    ) -> PyResult<Self> {
        let inner = block(py, connect(uri, token, org))?;
        Ok(Self { inner })
    }

    /// The provider's name (`docker`, `memory`, ...).
    #[getter]
    fn provider(&self) -> String {
        self.inner.provider().to_string()
    }

    /// Instances; raises `Unsupported` where the provider has none.
    #[getter]
    fn compute(&self) -> PyResult<compute::Compute> {
        compute::Compute::of(&self.inner)
    }

    /// Buckets and objects; raises `Unsupported` where the provider has none.
    #[getter]
    fn storage(&self) -> PyResult<storage::Storage> {
        storage::Storage::of(&self.inner)
    }

    /// Disk images; raises `Unsupported` where the provider has none.
    #[getter]
    fn disk(&self) -> PyResult<disk::Disk> {
        disk::Disk::of(&self.inner)
    }

    /// Functions; raises `Unsupported` where the provider has none.
    #[getter]
    fn function(&self) -> PyResult<function::Function> {
        function::Function::of(&self.inner)
    }

    fn __repr__(&self) -> String {
        format!("Cloud(provider={:?})", self.inner.provider())
    }
}

/// As [`Cloud`], for asyncio: every call returns an awaitable and never blocks the event loop.
#[pyclass(frozen, module = "nubes")]
#[derive(Debug, Clone)]
pub struct AsyncCloud {
    pub inner: nubes::Cloud,
}

#[pymethods]
impl AsyncCloud {
    /// Connects to `uri` (see `Cloud.connect`); await it.
    #[staticmethod]
    #[pyo3(signature = (uri, token = None, org = None))]
    fn connect(
        py: Python<'_>,
        uri: String,
        token: Option<String>,
        org: Option<String>,
    ) -> PyResult<Bound<'_, PyAny>> {
        awaitable(py, async move {
            Ok(AsyncCloud {
                inner: connect(uri, token, org).await?,
            })
        })
    }

    /// The provider's name.
    #[getter]
    fn provider(&self) -> String {
        self.inner.provider().to_string()
    }

    /// Instances, for asyncio.
    #[getter]
    fn compute(&self) -> PyResult<compute::AsyncCompute> {
        compute::AsyncCompute::of(&self.inner)
    }

    /// Buckets and objects, for asyncio.
    #[getter]
    fn storage(&self) -> PyResult<storage::AsyncStorage> {
        storage::AsyncStorage::of(&self.inner)
    }

    /// Disk images, for asyncio.
    #[getter]
    fn disk(&self) -> PyResult<disk::AsyncDisk> {
        disk::AsyncDisk::of(&self.inner)
    }

    /// Functions, for asyncio.
    #[getter]
    fn function(&self) -> PyResult<function::AsyncFunction> {
        function::AsyncFunction::of(&self.inner)
    }

    fn __repr__(&self) -> String {
        format!("AsyncCloud(provider={:?})", self.inner.provider())
    }
}
