//! Storage on S3 (or any S3-compatible store). Puts stream: an object of one part goes in one
//! `PutObject`; a larger one in a multipart upload of [`PART`]-sized parts, so memory stays
//! bounded whatever the object's size, and a failed upload is aborted rather than left to bill.

use async_trait::async_trait;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream as S3Body;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CompletedMultipartUpload, CompletedPart, CreateBucketConfiguration,
};
use aws_sdk_s3::Client;
use bytes::{Bytes, BytesMut};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use nubes_core::multipart::{put_multipart, MultipartOptions};
use nubes_core::storage::*;
use nubes_core::{ByteStream, Error, ErrorKind, Result, StorageCapability};

use crate::error::map;
use crate::SCHEME;

/// The size of each part of a multipart upload (S3 takes 5 MiB at least, but for the last).
pub const PART: usize = 8 * 1024 * 1024;

/// Buckets and objects on S3.
#[derive(Debug, Clone)]
pub struct S3Storage {
    client: Client,
    region: String,
}

fn time(t: Option<&aws_sdk_s3::primitives::DateTime>) -> Option<DateTime<Utc>> {
    t.and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
}

fn size(n: Option<i64>) -> u64 {
    n.and_then(|n| u64::try_from(n).ok()).unwrap_or(0)
}

/// `bytes START-END/TOTAL` from a `Content-Range` header: the range sent and the object's size.
fn content_range(header: &str) -> Option<(std::ops::Range<u64>, u64)> {
    let (span, total) = header.strip_prefix("bytes ")?.split_once('/')?;
    let (start, end) = span.split_once('-')?;
    let (start, end): (u64, u64) = (start.parse().ok()?, end.parse().ok()?);
    Some((start..end + 1, total.parse().ok()?))
}

/// The `Range` header for `range`, refused here when it is empty: S3 ignores a range it
/// cannot read and sends the whole object.
fn range_header(range: &ByteRange) -> Result<String> {
    match range.end {
        Some(end) if end <= range.start => Err(Error::invalid_input(format!(
            "range {}..{end} is empty",
            range.start
        ))),
        Some(end) => Ok(format!("bytes={}-{}", range.start, end - 1)),
        None => Ok(format!("bytes={}-", range.start)),
    }
}

impl S3Storage {
    pub fn new(client: Client, region: impl Into<String>) -> Self {
        Self {
            client,
            region: region.into(),
        }
    }
}

#[async_trait]
impl Storage for S3Storage {
    fn provider(&self) -> &str {
        SCHEME
    }

    fn capability(&self) -> StorageCapability {
        let mut cap = StorageCapability::ranges_and_pages();
        cap.presign = true;
        cap.presign_put = true;
        cap.multipart = true;
        cap
    }

    async fn create_bucket(&self, name: &str) -> Result<Bucket> {
        // In us-east-1, S3 answers a create of a bucket one already owns with success; the
        // SDK's contract says AlreadyExists, as every other region does.
        if self.client.head_bucket().bucket(name).send().await.is_ok() {
            return Err(Error::new(
                nubes_core::ErrorKind::AlreadyExists,
                format!("bucket {name} already exists"),
            )
            .with_provider(SCHEME));
        }
        let mut req = self.client.create_bucket().bucket(name);
        // us-east-1 is the one region S3 refuses to be told.
        if self.region != "us-east-1" {
            let location = BucketLocationConstraint::from(self.region.as_str());
            req = req.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(location)
                    .build(),
            );
        }
        req.send()
            .await
            .map_err(|e| map(e, &format!("bucket {name}")))?;
        Ok(Bucket::new(name))
    }

    async fn list_buckets(&self) -> Result<Vec<Bucket>> {
        let mut all = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .client
                .list_buckets()
                .set_continuation_token(token)
                .send()
                .await
                .map_err(|e| map(e, "listing buckets"))?;
            for b in page.buckets() {
                let mut bucket = Bucket::new(b.name().unwrap_or_default());
                bucket.created_at = time(b.creation_date());
                all.push(bucket);
            }
            match page.continuation_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => return Ok(all),
            }
        }
    }

    async fn delete_bucket(&self, name: &str) -> Result<()> {
        self.client
            .delete_bucket()
            .bucket(name)
            .send()
            .await
            .map_err(|e| map(e, &format!("bucket {name}")))?;
        Ok(())
    }

    async fn put(&self, bucket: &str, key: &str, mut body: ByteStream) -> Result<ObjectMeta> {
        let mut first = BytesMut::new();
        while first.len() < PART {
            match body.next().await {
                Some(chunk) => first.extend_from_slice(&chunk?),
                None => {
                    let len = first.len();
                    self.client
                        .put_object()
                        .bucket(bucket)
                        .key(key)
                        .content_length(len as i64)
                        .body(S3Body::from(first.freeze()))
                        .send()
                        .await
                        .map_err(|e| map(e, &format!("object {bucket}/{key}")))?;
                    return Ok(ObjectMeta::new(key, len as u64));
                }
            }
        }
        // One part at a time: memory stays at one part whatever the object's size.
        let body = futures::stream::once(async move { Ok(first.freeze()) })
            .chain(body)
            .boxed();
        let options = MultipartOptions::default()
            .part_size(PART as u64)
            .concurrency(1);
        put_multipart(self, bucket, key, body, &options).await
    }

    async fn get(&self, bucket: &str, key: &str, options: GetOptions) -> Result<GetResult> {
        let range = options.range.as_ref().map(range_header).transpose()?;
        let out = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .set_range(range)
            .send()
            .await
            .map_err(|e| map(e, &format!("object {bucket}/{key}")))?;
        let length = size(out.content_length());
        let (range, total) = match out.content_range().and_then(content_range) {
            Some(r) => r,
            None => (0..length, length),
        };
        let mut meta = ObjectMeta::new(key, total);
        meta.last_modified = time(out.last_modified());
        let body = futures::stream::unfold(out.body, |mut body| async move {
            match body.try_next().await {
                Ok(Some(bytes)) => Some((Ok(bytes), body)),
                Ok(None) => None,
                Err(e) => Some((
                    Err(Error::new(
                        nubes_core::ErrorKind::Unavailable,
                        format!("reading an object from S3: {e}"),
                    )
                    .with_provider(SCHEME)),
                    body,
                )),
            }
        })
        .boxed();
        Ok(GetResult {
            meta,
            range,
            body: DebugStream(body),
        })
    }

    async fn head(&self, bucket: &str, key: &str) -> Result<ObjectMeta> {
        let out = self
            .client
            .head_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| map(e, &format!("object {bucket}/{key}")))?;
        let mut meta = ObjectMeta::new(key, size(out.content_length()));
        meta.last_modified = time(out.last_modified());
        Ok(meta)
    }

    async fn list(&self, bucket: &str, options: ListObjectsOptions) -> Result<ObjectPage> {
        // A limit of 0 never gets here: the `Validated` layer refuses it.
        let limit = options.limit.map(|n| i32::try_from(n).unwrap_or(i32::MAX));
        let out = self
            .client
            .list_objects_v2()
            .bucket(bucket)
            .set_prefix(options.prefix)
            .set_max_keys(limit)
            .set_continuation_token(options.continuation)
            .send()
            .await
            .map_err(|e| map(e, &format!("bucket {bucket}")))?;
        let objects = out
            .contents()
            .iter()
            .map(|o| {
                let mut meta = ObjectMeta::new(o.key().unwrap_or_default(), size(o.size()));
                meta.last_modified = time(o.last_modified());
                meta
            })
            .collect();
        let next = match out.is_truncated() {
            Some(true) => out.next_continuation_token().map(str::to_string),
            _ => None,
        };
        Ok(ObjectPage::new(objects, next))
    }

    /// Signed here with the connection's credentials (no request to S3): the URL carries
    /// the signature, never the secret.
    async fn presign(
        &self,
        bucket: &str,
        key: &str,
        method: PresignMethod,
        expires_in: std::time::Duration,
    ) -> Result<PresignedRequest> {
        let config = PresigningConfig::expires_in(expires_in)
            .map_err(|e| Error::invalid_input(format!("presigning: {e}")))?;
        let what = format!("presigning {bucket}/{key}");
        let signed = match method {
            PresignMethod::Get => self
                .client
                .get_object()
                .bucket(bucket)
                .key(key)
                .presigned(config)
                .await
                .map_err(|e| map(e, &what))?,
            // The content type is signed, so the holder sends the one S3 expects.
            PresignMethod::Put => self
                .client
                .put_object()
                .bucket(bucket)
                .key(key)
                .content_type("application/octet-stream")
                .presigned(config)
                .await
                .map_err(|e| map(e, &what))?,
        };
        let expires_at =
            Utc::now() + chrono::Duration::from_std(expires_in).unwrap_or(chrono::Duration::zero());
        let mut request = PresignedRequest::new(method, signed.uri(), expires_at);
        request.headers = signed
            .headers()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Ok(request)
    }

    async fn create_upload(&self, bucket: &str, key: &str) -> Result<MultipartUpload> {
        let out = self
            .client
            .create_multipart_upload()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| map(e, &format!("upload of {bucket}/{key}")))?;
        let id = out
            .upload_id()
            .ok_or_else(|| Error::unexpected("S3 began an upload without an id"))?;
        Ok(MultipartUpload::new(bucket, key, id))
    }

    async fn upload_part(
        &self,
        upload: &MultipartUpload,
        number: u32,
        body: Bytes,
    ) -> Result<UploadedPart> {
        let size = body.len() as u64;
        let out = self
            .client
            .upload_part()
            .bucket(&upload.bucket)
            .key(&upload.key)
            .upload_id(&upload.id)
            .part_number(number as i32)
            .content_length(size as i64)
            .body(S3Body::from(body))
            .send()
            .await;
        let out = match out {
            Ok(out) => out,
            Err(e) => {
                let e = map(e, &format!("part {number} of upload {}", upload.id));
                // Some S3-compatible stores (moto) answer a part for a finished upload with a
                // 500 instead of NoSuchUpload: ask whether the upload is still there.
                return Err(match self.list_parts(upload).await {
                    Err(gone) if gone.kind() == ErrorKind::NotFound => gone,
                    _ => e,
                });
            }
        };
        Ok(UploadedPart::new(
            number,
            out.e_tag().unwrap_or_default(),
            size,
        ))
    }

    async fn list_parts(&self, upload: &MultipartUpload) -> Result<Vec<UploadedPart>> {
        let mut all = Vec::new();
        let mut marker = None;
        loop {
            let page = self
                .client
                .list_parts()
                .bucket(&upload.bucket)
                .key(&upload.key)
                .upload_id(&upload.id)
                .set_part_number_marker(marker)
                .send()
                .await
                .map_err(|e| map(e, &format!("upload {}", upload.id)))?;
            all.extend(page.parts().iter().map(|p| {
                UploadedPart::new(
                    p.part_number().unwrap_or_default() as u32,
                    p.e_tag().unwrap_or_default(),
                    size(p.size()),
                )
            }));
            match (page.is_truncated(), page.next_part_number_marker()) {
                (Some(true), Some(m)) => marker = Some(m.to_string()),
                _ => return Ok(all),
            }
        }
    }

    async fn complete_upload(
        &self,
        upload: &MultipartUpload,
        parts: &[UploadedPart],
    ) -> Result<ObjectMeta> {
        let done = CompletedMultipartUpload::builder()
            .set_parts(Some(
                parts
                    .iter()
                    .map(|p| {
                        CompletedPart::builder()
                            .part_number(p.number as i32)
                            .e_tag(&p.etag)
                            .build()
                    })
                    .collect(),
            ))
            .build();
        self.client
            .complete_multipart_upload()
            .bucket(&upload.bucket)
            .key(&upload.key)
            .upload_id(&upload.id)
            .multipart_upload(done)
            .send()
            .await
            .map_err(|e| map(e, &format!("upload {}", upload.id)))?;
        Ok(ObjectMeta::new(
            &upload.key,
            parts.iter().map(|p| p.size).sum(),
        ))
    }

    /// S3 keeps (and bills) the parts of an upload nobody completes until it is aborted.
    async fn abort_upload(&self, upload: &MultipartUpload) -> Result<()> {
        // S3 answers an abort of an unknown upload with success; the contract says NotFound.
        self.list_parts(upload).await?;
        self.client
            .abort_multipart_upload()
            .bucket(&upload.bucket)
            .key(&upload.key)
            .upload_id(&upload.id)
            .send()
            .await
            .map_err(|e| map(e, &format!("upload {}", upload.id)))?;
        Ok(())
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<()> {
        // S3 deletes a missing key without a word; the SDK's contract says NotFound.
        self.head(bucket, key).await?;
        self.client
            .delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| map(e, &format!("object {bucket}/{key}")))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_go_out_and_come_back() {
        assert_eq!(range_header(&(2..5).into()).unwrap(), "bytes=2-4");
        assert_eq!(range_header(&ByteRange::from(7)).unwrap(), "bytes=7-");
        assert!(range_header(&(5..5).into()).is_err());
        assert_eq!(content_range("bytes 2-4/10"), Some((2..5, 10)));
        assert_eq!(content_range("bytes */10"), None);
    }
}
