use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};

use super::SCHEME;
use crate::storage::*;
use crate::{Error, Result, StorageCapability};

#[derive(Debug)]
struct StoredBucket {
    created_at: DateTime<Utc>,
    objects: BTreeMap<String, (Bytes, DateTime<Utc>)>,
}

/// Buckets and objects in a map.
#[derive(Debug, Default)]
pub struct MemoryStorage {
    buckets: Mutex<BTreeMap<String, StoredBucket>>,
}

impl MemoryStorage {
    pub fn new() -> Self {
        Self::default()
    }

    fn with_bucket<T>(
        &self,
        name: &str,
        f: impl FnOnce(&mut StoredBucket) -> Result<T>,
    ) -> Result<T> {
        let mut map = self.buckets.lock().expect("memory storage lock");
        let bucket = map
            .get_mut(name)
            .ok_or_else(|| Error::not_found(format!("bucket {name} not found")))?;
        f(bucket)
    }

    fn object(&self, bucket: &str, key: &str) -> Result<(Bytes, DateTime<Utc>)> {
        self.with_bucket(bucket, |b| {
            b.objects.get(key).cloned().ok_or_else(|| {
                Error::not_found(format!("object {key} not found in bucket {bucket}"))
            })
        })
    }
}

fn meta(key: &str, data: &Bytes, modified: DateTime<Utc>) -> ObjectMeta {
    let mut m = ObjectMeta::new(key, data.len() as u64);
    m.last_modified = Some(modified);
    m
}

#[async_trait]
impl Storage for MemoryStorage {
    fn provider(&self) -> &str {
        SCHEME
    }

    fn capability(&self) -> StorageCapability {
        StorageCapability::ranges_and_pages()
    }

    async fn create_bucket(&self, name: &str) -> Result<Bucket> {
        let mut map = self.buckets.lock().expect("memory storage lock");
        if map.contains_key(name) {
            return Err(Error::already_exists(format!(
                "bucket {name} already exists"
            )));
        }
        let created_at = Utc::now();
        map.insert(
            name.to_string(),
            StoredBucket {
                created_at,
                objects: BTreeMap::new(),
            },
        );
        let mut bucket = Bucket::new(name);
        bucket.created_at = Some(created_at);
        Ok(bucket)
    }

    async fn list_buckets(&self) -> Result<Vec<Bucket>> {
        let map = self.buckets.lock().expect("memory storage lock");
        Ok(map
            .iter()
            .map(|(name, b)| {
                let mut bucket = Bucket::new(name);
                bucket.created_at = Some(b.created_at);
                bucket
            })
            .collect())
    }

    async fn delete_bucket(&self, name: &str) -> Result<()> {
        self.with_bucket(name, |b| {
            if b.objects.is_empty() {
                Ok(())
            } else {
                Err(Error::conflict(format!("bucket {name} is not empty")))
            }
        })?;
        self.buckets
            .lock()
            .expect("memory storage lock")
            .remove(name);
        Ok(())
    }

    async fn put(&self, bucket: &str, key: &str, body: ByteStream) -> Result<ObjectMeta> {
        self.with_bucket(bucket, |_| Ok(()))?;
        let data = collect_bytes(body).await?;
        let now = Utc::now();
        self.with_bucket(bucket, |b| {
            b.objects.insert(key.to_string(), (data.clone(), now));
            Ok(meta(key, &data, now))
        })
    }

    async fn get(&self, bucket: &str, key: &str, options: GetOptions) -> Result<GetResult> {
        let (data, modified) = self.object(bucket, key)?;
        let size = data.len() as u64;
        let range = match options.range {
            Some(r) => r.resolve(size)?,
            None => 0..size,
        };
        let body = data.slice(range.start as usize..range.end as usize);
        Ok(GetResult {
            meta: meta(key, &data, modified),
            range,
            body: DebugStream(byte_stream(body)),
        })
    }

    async fn head(&self, bucket: &str, key: &str) -> Result<ObjectMeta> {
        let (data, modified) = self.object(bucket, key)?;
        Ok(meta(key, &data, modified))
    }

    async fn list(&self, bucket: &str, options: ListObjectsOptions) -> Result<ObjectPage> {
        let all = self.with_bucket(bucket, |b| {
            Ok(b.objects
                .iter()
                .filter(|(k, _)| options.prefix.as_deref().is_none_or(|p| k.starts_with(p)))
                .map(|(k, (d, m))| meta(k, d, *m))
                .collect::<Vec<_>>())
        })?;
        ObjectPage::paginate(all, &options)
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<()> {
        self.with_bucket(bucket, |b| {
            b.objects.remove(key).map(|_| ()).ok_or_else(|| {
                Error::not_found(format!("object {key} not found in bucket {bucket}"))
            })
        })
    }
}
