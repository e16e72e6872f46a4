//! Buckets and objects: `Storage` (blocking; objects stream to and from binary files in pieces)
//! and `AsyncStorage` (asyncio).

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use nubes::{ByteStream, GetOptions, ListObjectsOptions};
use pyo3::exceptions::{PyStopAsyncIteration, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use tokio::sync::Mutex;

use crate::errors::to_py;
use crate::runtime::{awaitable, block};
use crate::types::{Bucket, ObjectMeta};

type Handle = Arc<dyn nubes::Storage>;

/// How much of a file is read, and held, at a time.
const PIECE: usize = 1 << 20;
/// Pieces read ahead of the upload.
const AHEAD: usize = 4;

/// `range=(start, end)` (end exclusive) or `(start, None)` for the rest.
fn get_options(range: Option<(u64, Option<u64>)>) -> nubes::Result<GetOptions> {
    Ok(match range {
        None => GetOptions::default(),
        Some((start, None)) => GetOptions::range(nubes::ByteRange::from(start)),
        Some((start, Some(end))) if end >= start => GetOptions::range(start..end),
        Some((start, Some(end))) => {
            return Err(nubes::Error::invalid_input(format!(
                "range ({start}, {end}) ends before it starts"
            )))
        }
    })
}

fn list_options(prefix: Option<String>, page_size: Option<usize>) -> ListObjectsOptions {
    let mut o = ListObjectsOptions::default();
    o.prefix = prefix;
    o.limit = page_size;
    o
}

mod ops {
    use super::*;

    pub async fn create_bucket(s: Handle, name: String) -> nubes::Result<Bucket> {
        Ok(s.create_bucket(&name).await?.into())
    }
    pub async fn list_buckets(s: Handle) -> nubes::Result<Vec<Bucket>> {
        Ok(s.list_buckets()
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }
    pub async fn delete_bucket(s: Handle, name: String) -> nubes::Result<()> {
        s.delete_bucket(&name).await
    }
    pub async fn put(
        s: Handle,
        b: String,
        k: String,
        body: ByteStream,
    ) -> nubes::Result<ObjectMeta> {
        Ok(s.put(&b, &k, body).await?.into())
    }
    pub async fn get(s: Handle, b: String, k: String, o: GetOptions) -> nubes::Result<Bytes> {
        let got = s.get(&b, &k, o).await?;
        let parts: Vec<Bytes> = got.body.0.try_collect().await?;
        Ok(parts.concat().into())
    }
    pub async fn open(s: Handle, b: String, k: String, o: GetOptions) -> nubes::Result<ByteStream> {
        Ok(s.get(&b, &k, o).await?.body.0)
    }
    pub async fn head(s: Handle, b: String, k: String) -> nubes::Result<ObjectMeta> {
        Ok(s.head(&b, &k).await?.into())
    }
    pub async fn delete(s: Handle, b: String, k: String) -> nubes::Result<()> {
        s.delete(&b, &k).await
    }

    /// The next object of a listing, fetching the next page when the one held is used up.
    pub async fn next(cursor: Arc<Mutex<Cursor>>) -> nubes::Result<Option<ObjectMeta>> {
        let mut c = cursor.lock().await;
        while c.held.is_empty() && !c.done {
            let page = c.storage.list(&c.bucket, c.options.clone()).await?;
            c.held.extend(page.objects.into_iter().map(Into::into));
            c.done = page.next.is_none();
            c.options.continuation = page.next;
        }
        Ok(c.held.pop_front())
    }
}

/// Where the thread reading a file object for an upload leaves the exception its `read()`
/// raised, so the caller sees that exception rather than the upload's failure it caused.
type ReadFailure = Arc<std::sync::Mutex<Option<PyErr>>>;

/// An object's body from `data`: `bytes`, or a binary file object read a piece at a time by a
/// blocking thread of the runtime (so neither the caller's thread nor an event loop waits on the
/// reads), at most [`AHEAD`] pieces ahead of the upload.
fn body(data: &Bound<'_, PyAny>) -> PyResult<(ByteStream, ReadFailure)> {
    let failure = ReadFailure::default();
    if let Ok(b) = data.cast::<PyBytes>() {
        let piece = Bytes::copy_from_slice(b.as_bytes());
        let body = futures::stream::once(futures::future::ready(Ok(piece))).boxed();
        return Ok((body, failure));
    }
    if !data.hasattr("read")? {
        return Err(PyTypeError::new_err(
            "data is bytes or a binary file object",
        ));
    }
    let file = data.clone().unbind();
    let (tx, rx) = tokio::sync::mpsc::channel::<nubes::Result<Bytes>>(AHEAD);
    let failed = failure.clone();
    pyo3_async_runtimes::tokio::get_runtime().spawn_blocking(move || {
        Python::attach(|py| {
            if let Err(e) = send_pieces(py, file.bind(py), &tx) {
                // The object must not be written from part of the file: the upload fails too.
                *failed.lock().expect("read failure lock") = Some(e);
                let stop = nubes::Error::invalid_input("reading the file failed: nothing written");
                let _ = py.detach(|| tx.blocking_send(Err(stop)));
            }
        })
    });
    let body = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|piece| (piece, rx))
    })
    .boxed();
    Ok((body, failure))
}

/// Uploads `body`; a failed read of its file is raised as the exception `read()` raised.
async fn upload(
    s: Handle,
    bucket: String,
    key: String,
    (body, failure): (ByteStream, ReadFailure),
) -> PyResult<ObjectMeta> {
    let put = ops::put(s, bucket, key, body).await;
    if let Some(e) = failure.lock().expect("read failure lock").take() {
        return Err(e);
    }
    put.map_err(to_py)
}

/// Reads `file` a piece at a time into the upload's channel until its end, or until the upload
/// stops taking pieces (it failed: its error is the answer).
fn send_pieces(
    py: Python<'_>,
    file: &Bound<'_, PyAny>,
    tx: &tokio::sync::mpsc::Sender<nubes::Result<Bytes>>,
) -> PyResult<()> {
    loop {
        let piece = file.call_method1("read", (PIECE,))?;
        let piece = piece.cast::<PyBytes>().map_err(|_| {
            PyTypeError::new_err("the file's read() returned no bytes: open it in binary mode")
        })?;
        if piece.as_bytes().is_empty() {
            return Ok(());
        }
        let piece = Bytes::copy_from_slice(piece.as_bytes());
        if py.detach(|| tx.blocking_send(Ok(piece))).is_err() {
            return Ok(());
        }
    }
}

/// Where a listing is: the page held and the token of the next.
#[derive(Debug)]
pub struct Cursor {
    storage: Handle,
    bucket: String,
    options: ListObjectsOptions,
    held: VecDeque<ObjectMeta>,
    done: bool,
}

fn cursor(storage: Handle, bucket: String, options: ListObjectsOptions) -> Arc<Mutex<Cursor>> {
    Arc::new(Mutex::new(Cursor {
        storage,
        bucket,
        options,
        held: VecDeque::new(),
        done: false,
    }))
}

/// Buckets and objects of one provider; every call blocks with the GIL released.
#[pyclass(frozen, module = "nubes")]
#[derive(Debug, Clone)]
pub struct Storage {
    inner: Handle,
}

impl Storage {
    pub fn of(cloud: &nubes::Cloud) -> PyResult<Self> {
        Ok(Self {
            inner: cloud.storage().map_err(to_py)?,
        })
    }
}

#[pymethods]
impl Storage {
    /// Creates an empty bucket.
    fn create_bucket(&self, py: Python<'_>, name: String) -> PyResult<Bucket> {
        block(py, ops::create_bucket(self.inner.clone(), name))
    }

    /// Every bucket.
    fn list_buckets(&self, py: Python<'_>) -> PyResult<Vec<Bucket>> {
        block(py, ops::list_buckets(self.inner.clone()))
    }

    /// Deletes an empty bucket (`Conflict` while it holds objects).
    fn delete_bucket(&self, py: Python<'_>, name: String) -> PyResult<()> {
        block(py, ops::delete_bucket(self.inner.clone(), name))
    }

    /// Writes an object from `bytes`, or from a binary file object read a piece (1 MiB) at a
    /// time while earlier pieces upload. A failed read writes nothing (`InvalidInput`).
    fn put(
        &self,
        py: Python<'_>,
        bucket: String,
        key: String,
        data: &Bound<'_, PyAny>,
    ) -> PyResult<ObjectMeta> {
        let body = body(data)?;
        let upload = upload(self.inner.clone(), bucket, key, body);
        py.detach(|| pyo3_async_runtimes::tokio::get_runtime().block_on(upload))
    }

    /// The object's bytes, or those of `range=(start, end)` (end exclusive; `None` for the rest).
    #[pyo3(signature = (bucket, key, *, range=None))]
    fn get(
        &self,
        py: Python<'_>,
        bucket: String,
        key: String,
        range: Option<(u64, Option<u64>)>,
    ) -> PyResult<Bytes> {
        let o = get_options(range).map_err(to_py)?;
        block(py, ops::get(self.inner.clone(), bucket, key, o))
    }

    /// Writes the object into a binary file object a piece at a time; returns the bytes written.
    #[pyo3(signature = (bucket, key, file, *, range=None))]
    fn get_into(
        &self,
        py: Python<'_>,
        bucket: String,
        key: String,
        file: &Bound<'_, PyAny>,
        range: Option<(u64, Option<u64>)>,
    ) -> PyResult<u64> {
        let o = get_options(range).map_err(to_py)?;
        let stream = block(py, ops::open(self.inner.clone(), bucket, key, o))?;
        let stream = Arc::new(Mutex::new(stream));
        let mut written = 0u64;
        loop {
            let s = stream.clone();
            let piece = block(py, async move { s.lock().await.next().await.transpose() })?;
            let Some(piece) = piece else {
                return Ok(written);
            };
            written += piece.len() as u64;
            file.call_method1("write", (PyBytes::new(py, &piece),))?;
        }
    }

    /// The object's size and when it was written, without its bytes.
    fn head(&self, py: Python<'_>, bucket: String, key: String) -> PyResult<ObjectMeta> {
        block(py, ops::head(self.inner.clone(), bucket, key))
    }

    /// The bucket's objects (with keys starting with `prefix`), in key order, fetched a page
    /// at a time as the iterator goes.
    #[pyo3(signature = (bucket, *, prefix=None, page_size=None))]
    fn list(&self, bucket: String, prefix: Option<String>, page_size: Option<usize>) -> Objects {
        Objects {
            cursor: cursor(self.inner.clone(), bucket, list_options(prefix, page_size)),
        }
    }

    /// Deletes it.
    fn delete(&self, py: Python<'_>, bucket: String, key: String) -> PyResult<()> {
        block(py, ops::delete(self.inner.clone(), bucket, key))
    }

    fn __repr__(&self) -> String {
        format!("Storage(provider={:?})", self.inner.provider())
    }
}

/// A bucket's objects, page by page.
#[pyclass(frozen, module = "nubes")]
#[derive(Debug)]
pub struct Objects {
    cursor: Arc<Mutex<Cursor>>,
}

#[pymethods]
impl Objects {
    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<ObjectMeta>> {
        block(py, ops::next(self.cursor.clone()))
    }
}

/// As [`Storage`], for asyncio.
#[pyclass(frozen, module = "nubes")]
#[derive(Debug, Clone)]
pub struct AsyncStorage {
    inner: Handle,
}

impl AsyncStorage {
    pub fn of(cloud: &nubes::Cloud) -> PyResult<Self> {
        Ok(Self {
            inner: cloud.storage().map_err(to_py)?,
        })
    }
}

#[pymethods]
impl AsyncStorage {
    /// As `Storage.create_bucket`, awaitable.
    fn create_bucket<'py>(&self, py: Python<'py>, name: String) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, ops::create_bucket(self.inner.clone(), name))
    }

    /// As `Storage.list_buckets`, awaitable.
    fn list_buckets<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, ops::list_buckets(self.inner.clone()))
    }

    /// As `Storage.delete_bucket`, awaitable.
    fn delete_bucket<'py>(&self, py: Python<'py>, name: String) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, ops::delete_bucket(self.inner.clone(), name))
    }

    /// As `Storage.put`, awaitable: a file object is read on a worker thread, never on the
    /// event loop.
    fn put<'py>(
        &self,
        py: Python<'py>,
        bucket: String,
        key: String,
        data: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let body = body(data)?;
        let upload = upload(self.inner.clone(), bucket, key, body);
        pyo3_async_runtimes::tokio::future_into_py(py, upload)
    }

    /// As `Storage.get`, awaitable.
    #[pyo3(signature = (bucket, key, *, range=None))]
    fn get<'py>(
        &self,
        py: Python<'py>,
        bucket: String,
        key: String,
        range: Option<(u64, Option<u64>)>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let o = get_options(range).map_err(to_py)?;
        awaitable(py, ops::get(self.inner.clone(), bucket, key, o))
    }

    /// As `Storage.head`, awaitable.
    fn head<'py>(
        &self,
        py: Python<'py>,
        bucket: String,
        key: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, ops::head(self.inner.clone(), bucket, key))
    }

    /// An async iterator of the bucket's objects, a page at a time.
    #[pyo3(signature = (bucket, *, prefix=None, page_size=None))]
    fn list(
        &self,
        bucket: String,
        prefix: Option<String>,
        page_size: Option<usize>,
    ) -> AsyncObjects {
        AsyncObjects {
            cursor: cursor(self.inner.clone(), bucket, list_options(prefix, page_size)),
        }
    }

    /// As `Storage.delete`, awaitable.
    fn delete<'py>(
        &self,
        py: Python<'py>,
        bucket: String,
        key: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, ops::delete(self.inner.clone(), bucket, key))
    }

    fn __repr__(&self) -> String {
        format!("AsyncStorage(provider={:?})", self.inner.provider())
    }
}

/// A bucket's objects, page by page, for `async for`.
#[pyclass(frozen, module = "nubes")]
#[derive(Debug)]
pub struct AsyncObjects {
    cursor: Arc<Mutex<Cursor>>,
}

#[pymethods]
impl AsyncObjects {
    fn __aiter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __anext__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let cursor = self.cursor.clone();
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            match ops::next(cursor).await.map_err(to_py)? {
                Some(o) => Ok(o),
                None => Err(PyStopAsyncIteration::new_err(())),
            }
        })
    }
}
