use std::time::Duration;

use async_trait::async_trait;

use super::{Layer, Layered};
use crate::storage::*;
use crate::{Error, Operation, Result, StorageCapability};
use bytes::Bytes;

#[async_trait]
impl<L: Layer> Storage for Layered<L, dyn Storage> {
    fn provider(&self) -> &str {
        self.inner.provider()
    }

    fn capability(&self) -> StorageCapability {
        self.inner.capability()
    }

    async fn create_bucket(&self, name: &str) -> Result<Bucket> {
        self.run(Operation::StorageCreateBucket, || {
            self.inner.create_bucket(name)
        })
        .await
    }

    async fn list_buckets(&self) -> Result<Vec<Bucket>> {
        self.run(Operation::StorageListBuckets, || self.inner.list_buckets())
            .await
    }

    async fn delete_bucket(&self, name: &str) -> Result<()> {
        self.run(Operation::StorageDeleteBucket, || {
            self.inner.delete_bucket(name)
        })
        .await
    }

    async fn put(&self, bucket: &str, key: &str, body: ByteStream) -> Result<ObjectMeta> {
        // A stream can be consumed once; `StoragePut` is not idempotent, so no layer starts it twice.
        let mut body = Some(body);
        let inner = &self.inner;
        self.run(Operation::StoragePut, move || {
            let body = body.take();
            async move {
                match body {
                    Some(body) => inner.put(bucket, key, body).await,
                    None => Err(Error::unexpected(
                        "a streamed upload cannot be started twice",
                    )),
                }
            }
        })
        .await
    }

    async fn get(&self, bucket: &str, key: &str, options: GetOptions) -> Result<GetResult> {
        self.run(Operation::StorageGet, || {
            self.inner.get(bucket, key, options.clone())
        })
        .await
    }

    async fn head(&self, bucket: &str, key: &str) -> Result<ObjectMeta> {
        self.run(Operation::StorageHead, || self.inner.head(bucket, key))
            .await
    }

    async fn list(&self, bucket: &str, options: ListObjectsOptions) -> Result<ObjectPage> {
        self.run(Operation::StorageList, || {
            self.inner.list(bucket, options.clone())
        })
        .await
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<()> {
        self.run(Operation::StorageDelete, || self.inner.delete(bucket, key))
            .await
    }

    async fn presign(
        &self,
        bucket: &str,
        key: &str,
        method: PresignMethod,
        expires_in: Duration,
    ) -> Result<PresignedRequest> {
        self.run(Operation::StoragePresign, || {
            self.inner.presign(bucket, key, method, expires_in)
        })
        .await
    }

    async fn create_upload(&self, bucket: &str, key: &str) -> Result<MultipartUpload> {
        self.run(Operation::StorageUpload, || {
            self.inner.create_upload(bucket, key)
        })
        .await
    }

    async fn upload_part(
        &self,
        upload: &MultipartUpload,
        number: u32,
        body: Bytes,
    ) -> Result<UploadedPart> {
        self.run(Operation::StoragePart, || {
            self.inner.upload_part(upload, number, body.clone())
        })
        .await
    }

    async fn list_parts(&self, upload: &MultipartUpload) -> Result<Vec<UploadedPart>> {
        self.run(Operation::StoragePart, || self.inner.list_parts(upload))
            .await
    }

    async fn complete_upload(
        &self,
        upload: &MultipartUpload,
        parts: &[UploadedPart],
    ) -> Result<ObjectMeta> {
        self.run(Operation::StorageUpload, || {
            self.inner.complete_upload(upload, parts)
        })
        .await
    }

    async fn abort_upload(&self, upload: &MultipartUpload) -> Result<()> {
        self.run(Operation::StorageUpload, || self.inner.abort_upload(upload))
            .await
    }
}
