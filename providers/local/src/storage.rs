//! Buckets are directories under the root and keys are paths below them. Writes go to a temp
//! file under `<root>/.nubes-tmp`, are fsynced, then renamed into place, so a reader sees the old
//! object or the new one and a crash leaves no half-written object. Key rules from
//! `nubes_core::validate` keep every path inside the root.

use std::io::SeekFrom;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use nubes_core::storage::*;
use nubes_core::{validate, Error, Result, StorageCapability};
use tokio::fs;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio_util::io::ReaderStream;

use crate::{error, SCHEME};

const TMP_DIR: &str = ".nubes-tmp";
/// Multipart uploads in progress: a directory per upload id, holding `target` (bucket and key)
/// and one file per part, named `NNNNN-ETAG`.
const UPLOADS_DIR: &str = ".nubes-uploads";

#[derive(Debug, Clone)]
pub struct LocalStorage {
    root: PathBuf,
}

impl LocalStorage {
    /// Opens (creating if needed) storage rooted at `root`.
    pub async fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        for dir in [TMP_DIR, UPLOADS_DIR] {
            fs::create_dir_all(root.join(dir))
                .await
                .map_err(|e| error::io(e, &format!("storage root {}", root.display())))?;
        }
        Ok(Self { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    async fn bucket_dir(&self, bucket: &str) -> Result<PathBuf> {
        validate::bucket(bucket)?;
        let dir = self.root.join(bucket);
        match fs::metadata(&dir).await {
            Ok(m) if m.is_dir() => Ok(dir),
            _ => Err(Error::not_found(format!("bucket {bucket} not found")).with_provider(SCHEME)),
        }
    }

    async fn object_path(&self, bucket: &str, key: &str) -> Result<PathBuf> {
        validate::object_key(key)?;
        Ok(self.bucket_dir(bucket).await?.join(key))
    }

    fn tmp_file(&self) -> PathBuf {
        self.root
            .join(TMP_DIR)
            .join(format!("{:016x}", fastrand::u64(..)))
    }

    /// An upload's directory, if the upload exists and goes where `upload` says. Ids are ours
    /// (32 hex digits), so one from a caller can never name a path elsewhere.
    async fn upload_dir(&self, upload: &MultipartUpload) -> Result<PathBuf> {
        let missing =
            || Error::not_found(format!("upload {} not found", upload.id)).with_provider(SCHEME);
        if upload.id.len() != 32 || !upload.id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(missing());
        }
        let dir = self.root.join(UPLOADS_DIR).join(&upload.id);
        match fs::read_to_string(dir.join("target")).await {
            Ok(t) if t == format!("{}\n{}", upload.bucket, upload.key) => Ok(dir),
            _ => Err(missing()),
        }
    }

    /// Metadata of a regular file at `path`; directories and symlinks are not objects.
    async fn object_meta(&self, path: &Path, bucket: &str, key: &str) -> Result<ObjectMeta> {
        let missing = || {
            Error::not_found(format!("object {key} not found in bucket {bucket}"))
                .with_provider(SCHEME)
        };
        match fs::symlink_metadata(path).await {
            Ok(m) if m.is_file() => Ok(meta(key, &m)),
            Ok(_) => Err(missing()),
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound
                    || e.kind() == std::io::ErrorKind::NotADirectory =>
            {
                Err(missing())
            }
            Err(e) => Err(error::io(e, &format!("object {key}"))),
        }
    }
}

fn meta(key: &str, m: &std::fs::Metadata) -> ObjectMeta {
    let mut out = ObjectMeta::new(key, m.len());
    out.last_modified = m.modified().ok().map(DateTime::<Utc>::from);
    out
}

/// Every regular file below `dir` as (key, metadata), keys relative to `bucket_dir`.
fn walk(bucket_dir: &Path, dir: &Path, out: &mut Vec<ObjectMeta>) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e)
            if e.kind() == std::io::ErrorKind::NotFound
                || e.kind() == std::io::ErrorKind::NotADirectory =>
        {
            return Ok(())
        }
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let m = entry.metadata()?;
        let path = entry.path();
        if m.is_dir() {
            walk(bucket_dir, &path, out)?;
        } else if m.is_file() {
            let rel = path
                .strip_prefix(bucket_dir)
                .expect("walked below the bucket");
            let key = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            out.push(meta(&key, &m));
        }
    }
    Ok(())
}

/// Removes now-empty directories from `dir` up to (not including) `stop`.
async fn prune_empty(mut dir: &Path, stop: &Path) {
    while dir != stop && dir.starts_with(stop) {
        if fs::remove_dir(dir).await.is_err() {
            break;
        }
        match dir.parent() {
            Some(p) => dir = p,
            None => break,
        }
    }
}

/// Moves a written temp file to `path`, making the key's directories; readers see the old
/// object or the new one.
async fn place(tmp: &Path, path: &Path, what: &str) -> Result<()> {
    let parent = path.parent().expect("object paths have a bucket parent");
    // EEXIST here means a path segment of the key is an object ("a" when putting "a/b").
    fs::create_dir_all(parent)
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => {
                error::io(std::io::ErrorKind::NotADirectory.into(), what)
            }
            _ => error::io(e, what),
        })?;
    if fs::symlink_metadata(path).await.is_ok_and(|m| m.is_dir()) {
        return Err(error::io(std::io::ErrorKind::IsADirectory.into(), what));
    }
    fs::rename(tmp, path)
        .await
        .map_err(|e| error::io(e, what))?;
    sync_dir(parent).await.map_err(|e| error::io(e, what))
}

/// The parts in an upload's directory, by number. A number sent more than once is listed as
/// its latest copy (earlier ones go with the upload); a completion may still name any copy.
async fn parts_in(dir: &Path) -> Result<Vec<UploadedPart>> {
    let mut all = copies_in(dir).await?;
    all.sort_by_key(|(p, at)| (p.number, std::cmp::Reverse(*at)));
    all.dedup_by_key(|(p, _)| p.number);
    Ok(all.into_iter().map(|(p, _)| p).collect())
}

/// Every copy of every part, with when it was written.
async fn copies_in(dir: &Path) -> Result<Vec<(UploadedPart, std::time::SystemTime)>> {
    let what = "an upload's parts";
    let mut entries = fs::read_dir(dir).await.map_err(|e| error::io(e, what))?;
    let mut out = Vec::new();
    while let Some(entry) = entries.next_entry().await.map_err(|e| error::io(e, what))? {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some((number, etag)) = name.split_once('-') else {
            continue;
        };
        let (Ok(number), Ok(m)) = (number.parse(), entry.metadata().await) else {
            continue;
        };
        let at = m.modified().unwrap_or(std::time::UNIX_EPOCH);
        out.push((UploadedPart::new(number, etag, m.len()), at));
    }
    Ok(out)
}

async fn sync_dir(dir: &Path) -> std::io::Result<()> {
    fs::File::open(dir).await?.sync_all().await
}

#[async_trait]
impl Storage for LocalStorage {
    fn provider(&self) -> &str {
        SCHEME
    }

    fn capability(&self) -> StorageCapability {
        let mut cap = StorageCapability::ranges_and_pages();
        cap.multipart = true;
        cap
    }

    async fn create_bucket(&self, name: &str) -> Result<Bucket> {
        validate::bucket(name)?;
        let dir = self.root.join(name);
        fs::create_dir(&dir).await.map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => {
                Error::already_exists(format!("bucket {name} already exists")).with_provider(SCHEME)
            }
            _ => error::io(e, &format!("bucket {name}")),
        })?;
        let mut bucket = Bucket::new(name);
        bucket.created_at = Some(Utc::now());
        Ok(bucket)
    }

    async fn list_buckets(&self) -> Result<Vec<Bucket>> {
        let mut entries = fs::read_dir(&self.root)
            .await
            .map_err(|e| error::io(e, "storage root"))?;
        let mut out = Vec::new();
        while let Some(entry) = entries
            .next_entry()
            .await
            .map_err(|e| error::io(e, "storage root"))?
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(m) = entry.metadata().await else {
                continue;
            };
            if !m.is_dir() || validate::bucket(&name).is_err() {
                continue;
            }
            let mut bucket = Bucket::new(name);
            bucket.created_at = m
                .created()
                .or_else(|_| m.modified())
                .ok()
                .map(DateTime::<Utc>::from);
            out.push(bucket);
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    async fn delete_bucket(&self, name: &str) -> Result<()> {
        let dir = self.bucket_dir(name).await?;
        let page = self
            .list(name, ListObjectsOptions::default().limit(1))
            .await?;
        if !page.objects.is_empty() {
            return Err(
                Error::conflict(format!("bucket {name} is not empty")).with_provider(SCHEME)
            );
        }
        // Only empty directories remain below it.
        fs::remove_dir_all(&dir)
            .await
            .map_err(|e| error::io(e, &format!("bucket {name}")))
    }

    async fn put(&self, bucket: &str, key: &str, mut body: ByteStream) -> Result<ObjectMeta> {
        let path = self.object_path(bucket, key).await?;
        let what = format!("object {key}");
        let tmp = self.tmp_file();
        let written = async {
            let mut file = fs::File::create(&tmp)
                .await
                .map_err(|e| error::io(e, "a temporary file"))?;
            while let Some(chunk) = body.next().await {
                file.write_all(&chunk?)
                    .await
                    .map_err(|e| error::io(e, &what))?;
            }
            file.sync_all().await.map_err(|e| error::io(e, &what))?;
            place(&tmp, &path, &what).await
        }
        .await;
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp).await;
            return Err(e);
        }
        self.object_meta(&path, bucket, key).await
    }

    async fn create_upload(&self, bucket: &str, key: &str) -> Result<MultipartUpload> {
        self.object_path(bucket, key).await?;
        let id = format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
        let dir = self.root.join(UPLOADS_DIR).join(&id);
        let what = format!("upload {id}");
        fs::create_dir(&dir)
            .await
            .map_err(|e| error::io(e, &what))?;
        fs::write(dir.join("target"), format!("{bucket}\n{key}"))
            .await
            .map_err(|e| error::io(e, &what))?;
        Ok(MultipartUpload::new(bucket, key, id))
    }

    async fn upload_part(
        &self,
        upload: &MultipartUpload,
        number: u32,
        body: Bytes,
    ) -> Result<UploadedPart> {
        let dir = self.upload_dir(upload).await?;
        let what = format!("part {number} of upload {}", upload.id);
        let etag = format!("{:016x}", fastrand::u64(..));
        let tmp = self.tmp_file();
        let written = async {
            let mut file = fs::File::create(&tmp)
                .await
                .map_err(|e| error::io(e, "a temporary file"))?;
            file.write_all(&body)
                .await
                .map_err(|e| error::io(e, &what))?;
            file.sync_all().await.map_err(|e| error::io(e, &what))?;
            fs::rename(&tmp, dir.join(format!("{number:05}-{etag}")))
                .await
                .map_err(|e| error::io(e, &what))
        }
        .await;
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp).await;
            return Err(e);
        }
        Ok(UploadedPart::new(number, etag, body.len() as u64))
    }

    async fn list_parts(&self, upload: &MultipartUpload) -> Result<Vec<UploadedPart>> {
        parts_in(&self.upload_dir(upload).await?).await
    }

    async fn complete_upload(
        &self,
        upload: &MultipartUpload,
        parts: &[UploadedPart],
    ) -> Result<ObjectMeta> {
        let dir = self.upload_dir(upload).await?;
        let path = self.object_path(&upload.bucket, &upload.key).await?;
        let held = copies_in(&dir).await?;
        for p in parts {
            if !held
                .iter()
                .any(|(h, _)| h.number == p.number && h.etag == p.etag && h.size == p.size)
            {
                return Err(Error::invalid_input(format!(
                    "part {} ({}) of upload {} was never uploaded",
                    p.number, p.etag, upload.id
                ))
                .with_provider(SCHEME));
            }
        }
        let what = format!("object {}", upload.key);
        let tmp = self.tmp_file();
        let joined = async {
            let mut out = fs::File::create(&tmp)
                .await
                .map_err(|e| error::io(e, "a temporary file"))?;
            for p in parts {
                let mut part = fs::File::open(dir.join(format!("{:05}-{}", p.number, p.etag)))
                    .await
                    .map_err(|e| error::io(e, &what))?;
                tokio::io::copy(&mut part, &mut out)
                    .await
                    .map_err(|e| error::io(e, &what))?;
            }
            out.sync_all().await.map_err(|e| error::io(e, &what))?;
            place(&tmp, &path, &what).await
        }
        .await;
        if let Err(e) = joined {
            let _ = fs::remove_file(&tmp).await;
            return Err(e);
        }
        let _ = fs::remove_dir_all(&dir).await;
        self.object_meta(&path, &upload.bucket, &upload.key).await
    }

    async fn abort_upload(&self, upload: &MultipartUpload) -> Result<()> {
        let dir = self.upload_dir(upload).await?;
        fs::remove_dir_all(&dir)
            .await
            .map_err(|e| error::io(e, &format!("upload {}", upload.id)))
    }

    async fn get(&self, bucket: &str, key: &str, options: GetOptions) -> Result<GetResult> {
        let path = self.object_path(bucket, key).await?;
        let meta = self.object_meta(&path, bucket, key).await?;
        let range = match options.range {
            Some(r) => r.resolve(meta.size)?,
            None => 0..meta.size,
        };
        let mut file = fs::File::open(&path)
            .await
            .map_err(|e| error::io(e, &format!("object {key}")))?;
        if range.start > 0 {
            file.seek(SeekFrom::Start(range.start))
                .await
                .map_err(|e| error::io(e, &format!("object {key}")))?;
        }
        let what = format!("object {key}");
        let reader = file.take(range.end - range.start);
        let body = ReaderStream::with_capacity(reader, 64 * 1024)
            .map_err(move |e| error::io(e, &what))
            .boxed();
        Ok(GetResult {
            meta,
            range,
            body: DebugStream(body),
        })
    }

    async fn head(&self, bucket: &str, key: &str) -> Result<ObjectMeta> {
        let path = self.object_path(bucket, key).await?;
        self.object_meta(&path, bucket, key).await
    }

    async fn list(&self, bucket: &str, options: ListObjectsOptions) -> Result<ObjectPage> {
        let dir = self.bucket_dir(bucket).await?;
        // Walk only below the prefix's directory part ("logs/2026/" walks logs/2026).
        let start = match options.prefix.as_deref().and_then(|p| p.rsplit_once('/')) {
            Some((d, _)) if validate::object_key(d).is_ok() => dir.join(d),
            _ => dir.clone(),
        };
        let mut all = tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            walk(&dir, &start, &mut out).map(|()| out)
        })
        .await
        .map_err(|e| Error::unexpected(format!("listing was interrupted: {e}")))?
        .map_err(|e| error::io(e, &format!("bucket {bucket}")))?;
        if let Some(p) = &options.prefix {
            all.retain(|o| o.key.starts_with(p.as_str()));
        }
        all.sort_by(|a, b| a.key.cmp(&b.key));
        ObjectPage::paginate(all, &options)
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<()> {
        let path = self.object_path(bucket, key).await?;
        self.object_meta(&path, bucket, key).await?;
        fs::remove_file(&path)
            .await
            .map_err(|e| error::io(e, &format!("object {key}")))?;
        let bucket_dir = self.root.join(bucket);
        if let Some(parent) = path.parent() {
            prune_empty(parent, &bucket_dir).await;
        }
        Ok(())
    }
}
