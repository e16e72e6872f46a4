//! Storage: buckets of objects.

use std::fmt::Debug;
use std::ops::Range;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

pub use crate::multipart::{MultipartUpload, UploadedPart};
use crate::{Error, Result, StorageCapability};

/// A stream of bytes going into or coming out of an object.
pub type ByteStream = BoxStream<'static, Result<Bytes>>;

/// Wraps bytes already in memory as a one-chunk stream.
pub fn byte_stream(bytes: impl Into<Bytes>) -> ByteStream {
    stream::once(futures::future::ready(Ok(bytes.into()))).boxed()
}

/// Reads a whole stream into memory.
pub async fn collect_bytes(stream: ByteStream) -> Result<Bytes> {
    let chunks: Vec<Bytes> = stream.try_collect().await?;
    Ok(chunks.concat().into())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Bucket {
    pub name: String,
    pub created_at: Option<DateTime<Utc>>,
}

impl Bucket {
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            created_at: None,
        }
    }
}

/// What is known of an object without reading it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[non_exhaustive]
pub struct ObjectMeta {
    pub key: String,
    pub size: u64,
    pub last_modified: Option<DateTime<Utc>>,
}

impl ObjectMeta {
    pub fn new(key: impl Into<String>, size: u64) -> Self {
        Self {
            key: key.into(),
            size,
            last_modified: None,
        }
    }
}

/// A byte range of an object: `start..end`, or from `start` to the end when `end` is `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ByteRange {
    pub start: u64,
    pub end: Option<u64>,
}

impl ByteRange {
    pub fn from(start: u64) -> Self {
        Self { start, end: None }
    }

    /// Resolves the range against an object of `size` bytes.
    pub fn resolve(&self, size: u64) -> Result<Range<u64>> {
        let end = self.end.unwrap_or(size).min(size);
        if self.start >= size || self.end.is_some_and(|e| e <= self.start) {
            return Err(Error::invalid_input(format!(
                "range {}..{} is not satisfiable for an object of {size} bytes",
                self.start,
                self.end.map(|e| e.to_string()).unwrap_or_default()
            )));
        }
        Ok(self.start..end)
    }
}

impl From<Range<u64>> for ByteRange {
    fn from(r: Range<u64>) -> Self {
        Self {
            start: r.start,
            end: Some(r.end),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GetOptions {
    pub range: Option<ByteRange>,
}

impl GetOptions {
    pub fn range(range: impl Into<ByteRange>) -> Self {
        Self {
            range: Some(range.into()),
        }
    }
}

/// An object being read: its metadata and its bytes (only the requested range).
#[derive(Debug)]
pub struct GetResult {
    pub meta: ObjectMeta,
    /// The byte range being returned.
    pub range: Range<u64>,
    pub body: DebugStream,
}

/// A [`ByteStream`] that implements `Debug`, so results holding one can too.
pub struct DebugStream(pub ByteStream);

impl Debug for DebugStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ByteStream")
    }
}

impl GetResult {
    pub async fn bytes(self) -> Result<Bytes> {
        collect_bytes(self.body.0).await
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ListObjectsOptions {
    pub prefix: Option<String>,
    /// At most this many keys per page.
    pub limit: Option<usize>,
    /// The token a previous page returned.
    pub continuation: Option<String>,
}

impl ListObjectsOptions {
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }

    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    pub fn continuation(mut self, token: impl Into<String>) -> Self {
        self.continuation = Some(token.into());
        self
    }
}

/// One page of a listing, in key order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[non_exhaustive]
pub struct ObjectPage {
    pub objects: Vec<ObjectMeta>,
    /// Pass back as `ListObjectsOptions::continuation` for the next page; `None` on the last.
    pub next: Option<String>,
}

impl ObjectPage {
    pub fn new(objects: Vec<ObjectMeta>, next: Option<String>) -> Self {
        Self { objects, next }
    }

    /// Cuts a sorted, already prefix-filtered list into the page `options` asks for. Tokens are
    /// the last key of the previous page, so pages stay stable while objects come and go.
    pub fn paginate(sorted: Vec<ObjectMeta>, options: &ListObjectsOptions) -> Result<Self> {
        if options.limit == Some(0) {
            return Err(Error::invalid_input("list limit must be greater than zero"));
        }
        let after = options.continuation.as_deref();
        let mut rest = sorted
            .into_iter()
            .filter(|o| after.is_none_or(|a| o.key.as_str() > a));
        let limit = options.limit.unwrap_or(usize::MAX);
        let objects: Vec<ObjectMeta> = rest.by_ref().take(limit).collect();
        let next = match rest.next() {
            Some(_) => objects.last().map(|o| o.key.clone()),
            None => None,
        };
        Ok(Self { objects, next })
    }
}

/// What a presigned URL lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum PresignMethod {
    /// Read the object.
    Get,
    /// Write the object (replacing it).
    Put,
}

/// The longest a presigned URL may live: S3's own limit (seven days).
pub const PRESIGN_MAX: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

/// A request anyone can make until it expires: the URL, and the headers that must go with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[non_exhaustive]
pub struct PresignedRequest {
    pub method: PresignMethod,
    pub url: String,
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    pub expires_at: DateTime<Utc>,
}

impl PresignedRequest {
    pub fn new(method: PresignMethod, url: impl Into<String>, expires_at: DateTime<Utc>) -> Self {
        Self {
            method,
            url: url.into(),
            headers: Default::default(),
            expires_at,
        }
    }
}

/// Checks how long a presigned URL is asked to live: at least a second, at most [`PRESIGN_MAX`].
pub fn check_presign_expiry(expires_in: std::time::Duration) -> Result<()> {
    if expires_in.as_secs() == 0 || expires_in > PRESIGN_MAX {
        return Err(Error::invalid_input(format!(
            "a presigned URL lives 1 second to {} days",
            PRESIGN_MAX.as_secs() / 86_400
        )));
    }
    Ok(())
}

/// Buckets and objects.
#[async_trait]
pub trait Storage: Debug + Send + Sync + 'static {
    fn provider(&self) -> &str;
    fn capability(&self) -> StorageCapability;

    async fn create_bucket(&self, name: &str) -> Result<Bucket>;
    async fn list_buckets(&self) -> Result<Vec<Bucket>>;
    /// Deletes an empty bucket; a bucket with objects is a `Conflict`.
    async fn delete_bucket(&self, name: &str) -> Result<()>;
    /// Writes the object from a stream. Readers see the old object or the new one, never a part.
    async fn put(&self, bucket: &str, key: &str, body: ByteStream) -> Result<ObjectMeta>;
    async fn get(&self, bucket: &str, key: &str, options: GetOptions) -> Result<GetResult>;
    async fn head(&self, bucket: &str, key: &str) -> Result<ObjectMeta>;
    async fn list(&self, bucket: &str, options: ListObjectsOptions) -> Result<ObjectPage>;
    async fn delete(&self, bucket: &str, key: &str) -> Result<()>;
    /// A URL for one object that anyone holding it may `method` until `expires_in` has passed
    /// (`StorageCapability::presign`).
    async fn presign(
        &self,
        bucket: &str,
        key: &str,
        method: PresignMethod,
        expires_in: std::time::Duration,
    ) -> Result<PresignedRequest> {
        let _ = (bucket, key, method, expires_in);
        Err(Error::unsupported(format!(
            "{} storage makes no presigned URLs",
            self.provider()
        )))
    }
    /// Starts a multipart upload to `bucket`/`key` (`StorageCapability::multipart`).
    async fn create_upload(&self, bucket: &str, key: &str) -> Result<MultipartUpload> {
        let _ = (bucket, key);
        Err(Error::unsupported(format!(
            "{} storage takes no multipart uploads",
            self.provider()
        )))
    }
    /// Stores part `number` (1 to 10000) of an upload; the same number again replaces it.
    async fn upload_part(
        &self,
        upload: &MultipartUpload,
        number: u32,
        body: Bytes,
    ) -> Result<UploadedPart> {
        let _ = (number, body);
        Err(Error::unsupported(format!(
            "{} storage takes no multipart uploads (upload {})",
            self.provider(),
            upload.id
        )))
    }
    /// The parts an upload holds, by number: what a resumed upload need not send again.
    async fn list_parts(&self, upload: &MultipartUpload) -> Result<Vec<UploadedPart>> {
        Err(Error::unsupported(format!(
            "{} storage takes no multipart uploads (upload {})",
            self.provider(),
            upload.id
        )))
    }
    /// Makes the named parts, in order, the object; the upload is then gone. Readers see the
    /// old object or the new one.
    async fn complete_upload(
        &self,
        upload: &MultipartUpload,
        parts: &[UploadedPart],
    ) -> Result<ObjectMeta> {
        let _ = parts;
        Err(Error::unsupported(format!(
            "{} storage takes no multipart uploads (upload {})",
            self.provider(),
            upload.id
        )))
    }
    /// Drops an upload and every part it holds; no object appears.
    async fn abort_upload(&self, upload: &MultipartUpload) -> Result<()> {
        Err(Error::unsupported(format!(
            "{} storage takes no multipart uploads (upload {})",
            self.provider(),
            upload.id
        )))
    }
}
