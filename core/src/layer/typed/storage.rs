use std::time::Duration;

use async_trait::async_trait;

use crate::storage::*;
use crate::{ByteStream, Result, StorageCapability};
use bytes::Bytes;

/// A layer around a [`Storage`]: each method forwards to [`StorageLayer::inner`] unless the
/// layer overrides it.
#[async_trait]
pub trait StorageLayer: std::fmt::Debug + Send + Sync + 'static {
    fn inner(&self) -> &dyn Storage;

    async fn create_bucket(&self, name: &str) -> Result<Bucket> {
        self.inner().create_bucket(name).await
    }
    async fn list_buckets(&self) -> Result<Vec<Bucket>> {
        self.inner().list_buckets().await
    }
    async fn delete_bucket(&self, name: &str) -> Result<()> {
        self.inner().delete_bucket(name).await
    }
    async fn put(&self, bucket: &str, key: &str, body: ByteStream) -> Result<ObjectMeta> {
        self.inner().put(bucket, key, body).await
    }
    async fn get(&self, bucket: &str, key: &str, options: GetOptions) -> Result<GetResult> {
        self.inner().get(bucket, key, options).await
    }
    async fn head(&self, bucket: &str, key: &str) -> Result<ObjectMeta> {
        self.inner().head(bucket, key).await
    }
    async fn list(&self, bucket: &str, options: ListObjectsOptions) -> Result<ObjectPage> {
        self.inner().list(bucket, options).await
    }
    async fn delete(&self, bucket: &str, key: &str) -> Result<()> {
        self.inner().delete(bucket, key).await
    }
    async fn presign(
        &self,
        bucket: &str,
        key: &str,
        method: PresignMethod,
        expires_in: Duration,
    ) -> Result<PresignedRequest> {
        self.inner().presign(bucket, key, method, expires_in).await
    }
    async fn create_upload(&self, bucket: &str, key: &str) -> Result<MultipartUpload> {
        self.inner().create_upload(bucket, key).await
    }
    async fn upload_part(
        &self,
        upload: &MultipartUpload,
        number: u32,
        body: Bytes,
    ) -> Result<UploadedPart> {
        self.inner().upload_part(upload, number, body).await
    }
    async fn list_parts(&self, upload: &MultipartUpload) -> Result<Vec<UploadedPart>> {
        self.inner().list_parts(upload).await
    }
    async fn complete_upload(
        &self,
        upload: &MultipartUpload,
        parts: &[UploadedPart],
    ) -> Result<ObjectMeta> {
        self.inner().complete_upload(upload, parts).await
    }
    async fn abort_upload(&self, upload: &MultipartUpload) -> Result<()> {
        self.inner().abort_upload(upload).await
    }
}

#[async_trait]
impl<L: StorageLayer> Storage for L {
    fn provider(&self) -> &str {
        self.inner().provider()
    }
    fn capability(&self) -> StorageCapability {
        self.inner().capability()
    }
    async fn create_bucket(&self, name: &str) -> Result<Bucket> {
        StorageLayer::create_bucket(self, name).await
    }
    async fn list_buckets(&self) -> Result<Vec<Bucket>> {
        StorageLayer::list_buckets(self).await
    }
    async fn delete_bucket(&self, name: &str) -> Result<()> {
        StorageLayer::delete_bucket(self, name).await
    }
    async fn put(&self, bucket: &str, key: &str, body: ByteStream) -> Result<ObjectMeta> {
        StorageLayer::put(self, bucket, key, body).await
    }
    async fn get(&self, bucket: &str, key: &str, options: GetOptions) -> Result<GetResult> {
        StorageLayer::get(self, bucket, key, options).await
    }
    async fn head(&self, bucket: &str, key: &str) -> Result<ObjectMeta> {
        StorageLayer::head(self, bucket, key).await
    }
    async fn list(&self, bucket: &str, options: ListObjectsOptions) -> Result<ObjectPage> {
        StorageLayer::list(self, bucket, options).await
    }
    async fn delete(&self, bucket: &str, key: &str) -> Result<()> {
        StorageLayer::delete(self, bucket, key).await
    }
    async fn presign(
        &self,
        bucket: &str,
        key: &str,
        method: PresignMethod,
        expires_in: Duration,
    ) -> Result<PresignedRequest> {
        StorageLayer::presign(self, bucket, key, method, expires_in).await
    }
    async fn create_upload(&self, bucket: &str, key: &str) -> Result<MultipartUpload> {
        StorageLayer::create_upload(self, bucket, key).await
    }
    async fn upload_part(
        &self,
        upload: &MultipartUpload,
        number: u32,
        body: Bytes,
    ) -> Result<UploadedPart> {
        StorageLayer::upload_part(self, upload, number, body).await
    }
    async fn list_parts(&self, upload: &MultipartUpload) -> Result<Vec<UploadedPart>> {
        StorageLayer::list_parts(self, upload).await
    }
    async fn complete_upload(
        &self,
        upload: &MultipartUpload,
        parts: &[UploadedPart],
    ) -> Result<ObjectMeta> {
        StorageLayer::complete_upload(self, upload, parts).await
    }
    async fn abort_upload(&self, upload: &MultipartUpload) -> Result<()> {
        StorageLayer::abort_upload(self, upload).await
    }
}
