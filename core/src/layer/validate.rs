//! Input checks, run once for every backend: [`Cloud`](crate::Cloud) wraps each service it holds
//! in [`Validated`], so a provider receives only specs and requests that passed
//! [`crate::validate`]'s rules and need not check them again. What only the backend can judge
//! (a shrink below the current size, an image that does not exist) stays with the backend.

use std::sync::Arc;

use async_trait::async_trait;

use super::{ComputeLayer, DiskLayer, FunctionLayer, StorageLayer};
use crate::compute::*;
use crate::disk::*;
use crate::function::*;
use crate::storage::*;
use crate::{multipart, validate, ByteStream, Error, Result};
use bytes::Bytes;

/// A service whose calls are checked before they reach it.
#[derive(Debug)]
pub struct Validated<S: ?Sized> {
    inner: Arc<S>,
}

impl<S: ?Sized> Validated<S> {
    pub fn new(inner: Arc<S>) -> Self {
        Self { inner }
    }
}

#[async_trait]
impl ComputeLayer for Validated<dyn Compute> {
    fn inner(&self) -> &dyn Compute {
        &*self.inner
    }
    async fn create(&self, spec: InstanceSpec) -> Result<Instance> {
        spec.validate()?;
        self.inner.create(spec).await
    }
    async fn exec(&self, id: &str, request: ExecRequest) -> Result<ExecOutput> {
        request.validate()?;
        self.inner.exec(id, request).await
    }
    async fn exec_stream(
        &self,
        id: &str,
        request: ExecRequest,
        stdin: Option<ByteStream>,
    ) -> Result<ExecStream> {
        request.validate()?;
        self.inner.exec_stream(id, request, stdin).await
    }
    async fn resize(&self, id: &str, request: ResizeRequest) -> Result<Instance> {
        request.validate()?;
        self.inner.resize(id, request).await
    }
    async fn console(&self, id: &str, kind: ConsoleKind, input: ByteStream) -> Result<ByteStream> {
        // Which consoles a backend has is known before it is asked.
        if !self.inner.capability().has_console(kind) {
            return Err(Error::unsupported(format!(
                "the {} provider has no {kind} console",
                self.inner.provider()
            ))
            .with_provider(self.inner.provider().to_string()));
        }
        self.inner.console(id, kind, input).await
    }
}

#[async_trait]
impl DiskLayer for Validated<dyn Disk> {
    fn inner(&self) -> &dyn Disk {
        &*self.inner
    }
    async fn create(&self, spec: DiskSpec) -> Result<DiskImage> {
        spec.validate()?;
        self.inner.create(spec).await
    }
    async fn convert(&self, name: &str, format: DiskFormat, target: &str) -> Result<DiskImage> {
        validate::name("disk", target)?;
        self.inner.convert(name, format, target).await
    }
    async fn convert_with_progress(
        &self,
        name: &str,
        format: DiskFormat,
        target: &str,
        progress: Progress,
    ) -> Result<DiskImage> {
        validate::name("disk", target)?;
        self.inner
            .convert_with_progress(name, format, target, progress)
            .await
    }
    async fn rename(&self, name: &str, new_name: &str) -> Result<DiskImage> {
        validate::name("disk", new_name)?;
        self.inner.rename(name, new_name).await
    }
}

/// Bucket names are checked on every call, not only at creation: a backend may map them onto
/// paths or URLs.
#[async_trait]
impl StorageLayer for Validated<dyn Storage> {
    fn inner(&self) -> &dyn Storage {
        &*self.inner
    }
    async fn create_bucket(&self, name: &str) -> Result<Bucket> {
        validate::bucket(name)?;
        self.inner.create_bucket(name).await
    }
    async fn delete_bucket(&self, name: &str) -> Result<()> {
        validate::bucket(name)?;
        self.inner.delete_bucket(name).await
    }
    async fn put(&self, bucket: &str, key: &str, body: ByteStream) -> Result<ObjectMeta> {
        object(bucket, key)?;
        self.inner.put(bucket, key, body).await
    }
    async fn get(&self, bucket: &str, key: &str, options: GetOptions) -> Result<GetResult> {
        object(bucket, key)?;
        self.inner.get(bucket, key, options).await
    }
    async fn head(&self, bucket: &str, key: &str) -> Result<ObjectMeta> {
        object(bucket, key)?;
        self.inner.head(bucket, key).await
    }
    async fn list(&self, bucket: &str, options: ListObjectsOptions) -> Result<ObjectPage> {
        validate::bucket(bucket)?;
        if options.limit == Some(0) {
            return Err(crate::Error::invalid_input(
                "list limit must be greater than zero",
            ));
        }
        self.inner.list(bucket, options).await
    }
    async fn delete(&self, bucket: &str, key: &str) -> Result<()> {
        object(bucket, key)?;
        self.inner.delete(bucket, key).await
    }
    async fn presign(
        &self,
        bucket: &str,
        key: &str,
        method: PresignMethod,
        expires_in: std::time::Duration,
    ) -> Result<PresignedRequest> {
        object(bucket, key)?;
        check_presign_expiry(expires_in)?;
        if method == PresignMethod::Put && !self.inner.capability().presign_put {
            return Err(Error::unsupported(format!(
                "{} storage makes no presigned URLs to write with",
                self.inner.provider()
            )));
        }
        self.inner.presign(bucket, key, method, expires_in).await
    }
    async fn create_upload(&self, bucket: &str, key: &str) -> Result<MultipartUpload> {
        object(bucket, key)?;
        self.inner.create_upload(bucket, key).await
    }
    async fn upload_part(
        &self,
        upload: &MultipartUpload,
        number: u32,
        body: Bytes,
    ) -> Result<UploadedPart> {
        upload_of(upload)?;
        multipart::check_part(number, body.len() as u64)?;
        self.inner.upload_part(upload, number, body).await
    }
    async fn list_parts(&self, upload: &MultipartUpload) -> Result<Vec<UploadedPart>> {
        upload_of(upload)?;
        self.inner.list_parts(upload).await
    }
    async fn complete_upload(
        &self,
        upload: &MultipartUpload,
        parts: &[UploadedPart],
    ) -> Result<ObjectMeta> {
        upload_of(upload)?;
        multipart::check_parts(parts)?;
        self.inner.complete_upload(upload, parts).await
    }
    async fn abort_upload(&self, upload: &MultipartUpload) -> Result<()> {
        upload_of(upload)?;
        self.inner.abort_upload(upload).await
    }
}

/// An upload names a valid object and has an id.
fn upload_of(upload: &MultipartUpload) -> Result<()> {
    object(&upload.bucket, &upload.key)?;
    if upload.id.is_empty() || upload.id.len() > 1024 {
        return Err(Error::invalid_input("an upload id is 1 to 1024 characters"));
    }
    Ok(())
}

fn object(bucket: &str, key: &str) -> Result<()> {
    validate::bucket(bucket)?;
    validate::object_key(key)
}

#[async_trait]
impl FunctionLayer for Validated<dyn Function> {
    fn inner(&self) -> &dyn Function {
        &*self.inner
    }
    async fn deploy(&self, spec: FunctionSpec) -> Result<FunctionInfo> {
        spec.validate()?;
        let takes_code = self.inner.capability().code;
        match (&spec.code, takes_code) {
            (Some(_), false) => {
                return Err(Error::unsupported(format!(
                    "the {} provider runs images, not code archives",
                    self.inner.provider()
                )))
            }
            (None, true) => {
                return Err(Error::invalid_input(format!(
                    "the {} provider runs code: give the function a zip archive",
                    self.inner.provider()
                )))
            }
            _ => {}
        }
        self.inner.deploy(spec).await
    }
}
