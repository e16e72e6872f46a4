//! Storage over `/v1/buckets`: objects travel as raw bytes, streamed both ways.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use nubes_api::buckets::{
    CreateBucket, ListQuery, PresignObject, TenantBucket, OBJECT_SIZE_HEADER,
};
use nubes_core::storage::*;
use nubes_core::{Error, Result, StorageCapability};
use reqwest::header::{self, HeaderMap};
use reqwest::Method;

use crate::client::{cut_off, path, read_json, Client};
use crate::SCHEME;

const NONE: Option<&()> = None;

/// Buckets on a Nubes server, as the token's user.
#[derive(Debug, Clone)]
pub struct RemoteStorage {
    client: Client,
    capability: StorageCapability,
}

impl RemoteStorage {
    /// `capability` is what the server says its storage can do.
    pub fn new(client: Client, capability: StorageCapability) -> Self {
        Self { client, capability }
    }
}

fn object_path(bucket: &str, key: &str) -> String {
    let mut segments = vec!["v1", "buckets", bucket, "objects"];
    segments.extend(key.split('/'));
    path(&segments)
}

/// The object's metadata from the headers the server sends with it.
fn meta(key: &str, headers: &HeaderMap) -> Result<ObjectMeta> {
    let size = headers
        .get(OBJECT_SIZE_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or_else(|| {
            Error::unexpected("the server's answer did not say the object's size")
                .with_provider(SCHEME)
        })?;
    let mut meta = ObjectMeta::new(key, size);
    meta.last_modified = headers
        .get(header::LAST_MODIFIED)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
        .map(|t| t.with_timezone(&Utc));
    Ok(meta)
}

#[async_trait]
impl Storage for RemoteStorage {
    fn provider(&self) -> &str {
        SCHEME
    }

    fn capability(&self) -> StorageCapability {
        self.capability.clone()
    }

    async fn create_bucket(&self, name: &str) -> Result<Bucket> {
        let r: TenantBucket = self
            .client
            .call(
                Method::POST,
                "/v1/buckets",
                Some(&CreateBucket {
                    org_id: self.client.org(),
                    name: name.to_string(),
                }),
            )
            .await?;
        Ok(r.into_bucket())
    }

    async fn list_buckets(&self) -> Result<Vec<Bucket>> {
        let all: Vec<TenantBucket> = self.client.call(Method::GET, "/v1/buckets", NONE).await?;
        Ok(all.into_iter().map(TenantBucket::into_bucket).collect())
    }

    async fn delete_bucket(&self, name: &str) -> Result<()> {
        self.client
            .raw(
                Method::DELETE,
                &self.client.in_org(path(&["v1", "buckets", name])),
                NONE,
            )
            .await?;
        Ok(())
    }

    async fn put(&self, bucket: &str, key: &str, body: ByteStream) -> Result<ObjectMeta> {
        let body = reqwest::Body::wrap_stream(body);
        let res = self
            .client
            .send(
                Method::PUT,
                &self.client.in_org(object_path(bucket, key)),
                |r| {
                    r.header(header::CONTENT_TYPE, "application/octet-stream")
                        .body(body)
                },
            )
            .await?;
        read_json(res).await
    }

    async fn get(&self, bucket: &str, key: &str, options: GetOptions) -> Result<GetResult> {
        let range = options.range;
        if let Some(ByteRange {
            start,
            end: Some(end),
        }) = range
        {
            if end <= start {
                return Err(Error::invalid_input(format!(
                    "range {start}..{end} is empty"
                )));
            }
        }
        let res = self
            .client
            .send(
                Method::GET,
                &self.client.in_org(object_path(bucket, key)),
                |r| match range {
                    Some(ByteRange {
                        start,
                        end: Some(end),
                    }) => r.header(header::RANGE, format!("bytes={start}-{}", end - 1)),
                    Some(ByteRange { start, end: None }) => {
                        r.header(header::RANGE, format!("bytes={start}-"))
                    }
                    None => r,
                },
            )
            .await?;
        let meta = meta(key, res.headers())?;
        let returned = match range {
            Some(r) => r.resolve(meta.size)?,
            None => 0..meta.size,
        };
        let body = res.bytes_stream().map_err(cut_off).boxed();
        Ok(GetResult {
            meta,
            range: returned,
            body: DebugStream(body),
        })
    }

    async fn head(&self, bucket: &str, key: &str) -> Result<ObjectMeta> {
        let res = self
            .client
            .send(
                Method::HEAD,
                &self.client.in_org(object_path(bucket, key)),
                |r| r,
            )
            .await?;
        meta(key, res.headers())
    }

    async fn list(&self, bucket: &str, options: ListObjectsOptions) -> Result<ObjectPage> {
        let query = ListQuery::of(&options, self.client.org());
        let res = self
            .client
            .send(
                Method::GET,
                &path(&["v1", "buckets", bucket, "objects"]),
                |r| r.query(&query),
            )
            .await?;
        read_json(res).await
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<()> {
        self.client
            .raw(
                Method::DELETE,
                &self.client.in_org(object_path(bucket, key)),
                NONE,
            )
            .await?;
        Ok(())
    }
    /// The server makes read URLs only (`presign_put` is off); its backend signs them.
    async fn presign(
        &self,
        bucket: &str,
        key: &str,
        method: PresignMethod,
        expires_in: std::time::Duration,
    ) -> Result<PresignedRequest> {
        let body = PresignObject {
            key: key.to_string(),
            method,
            expires_secs: expires_in.as_secs(),
        };
        self.client
            .call(
                Method::POST,
                &self
                    .client
                    .in_org(path(&["v1", "buckets", bucket, "presign"])),
                Some(&body),
            )
            .await
    }
}
