//! Multipart uploads (`StorageCapability::multipart`): an object sent as numbered parts that
//! each arrive whole, in any order, from any handle, and become the object only when the upload
//! is completed. An upload is known by its id, so work cut short resumes where it stopped:
//! [`Storage::list_parts`](crate::Storage::list_parts) says which parts are already there.
//! [`put_multipart`] drives one from a stream, with bounded memory and concurrency.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use crate::storage::{ByteStream, ObjectMeta, Storage};
use crate::{Error, Result};

/// The smallest a part may be, except the last (S3's rule, kept by every provider).
pub const PART_MIN: u64 = 5 << 20;
/// The largest a part may be.
pub const PART_MAX: u64 = 5 << 30;
/// Part numbers run from 1 to this.
pub const PARTS_MAX: u32 = 10_000;

/// An upload in progress: where it goes and the id its backend gave it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MultipartUpload {
    pub bucket: String,
    pub key: String,
    pub id: String,
}

impl MultipartUpload {
    /// An upload by its id, to resume it from another handle or process.
    pub fn new(bucket: impl Into<String>, key: impl Into<String>, id: impl Into<String>) -> Self {
        Self {
            bucket: bucket.into(),
            key: key.into(),
            id: id.into(),
        }
    }
}

/// A part the backend holds: completing an upload names each by number and tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UploadedPart {
    pub number: u32,
    /// What the backend calls this part's content; a part uploaded again gets a new one.
    pub etag: String,
    pub size: u64,
}

impl UploadedPart {
    pub fn new(number: u32, etag: impl Into<String>, size: u64) -> Self {
        Self {
            number,
            etag: etag.into(),
            size,
        }
    }
}

/// A part number and size every backend takes.
pub fn check_part(number: u32, size: u64) -> Result<()> {
    if !(1..=PARTS_MAX).contains(&number) {
        return Err(Error::invalid_input(format!(
            "part numbers run from 1 to {PARTS_MAX}, not {number}"
        )));
    }
    if size > PART_MAX {
        return Err(Error::invalid_input(format!(
            "a part is at most {PART_MAX} bytes, not {size}"
        )));
    }
    Ok(())
}

/// The parts a completion names: at least one, in ascending order without repeats, every one
/// but the last at least [`PART_MIN`].
pub fn check_parts(parts: &[UploadedPart]) -> Result<()> {
    let Some(last) = parts.last() else {
        return Err(Error::invalid_input(
            "an upload completes with at least one part",
        ));
    };
    for pair in parts.windows(2) {
        if pair[1].number <= pair[0].number {
            return Err(Error::invalid_input(format!(
                "parts are named in ascending order: {} came after {}",
                pair[1].number, pair[0].number
            )));
        }
    }
    for p in parts {
        check_part(p.number, p.size)?;
        if p.number != last.number && p.size < PART_MIN {
            return Err(Error::invalid_input(format!(
                "part {} is {} bytes; every part but the last is at least {PART_MIN}",
                p.number, p.size
            )));
        }
    }
    Ok(())
}

/// How [`put_multipart`] sends a stream.
#[derive(Clone)]
#[non_exhaustive]
pub struct MultipartOptions {
    /// Bytes per part (all but the last); at least [`PART_MIN`].
    pub part_size: u64,
    /// Parts in flight at once. Memory held is at most `(concurrency + 1) * part_size`.
    pub concurrency: usize,
    /// Told the bytes stored so far, after each part.
    pub progress: Option<Arc<dyn Fn(u64) + Send + Sync>>,
}

impl std::fmt::Debug for MultipartOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MultipartOptions")
            .field("part_size", &self.part_size)
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}

impl Default for MultipartOptions {
    fn default() -> Self {
        Self {
            part_size: 8 << 20,
            concurrency: 4,
            progress: None,
        }
    }
}

impl MultipartOptions {
    pub fn part_size(mut self, bytes: u64) -> Self {
        self.part_size = bytes;
        self
    }

    pub fn concurrency(mut self, parts: usize) -> Self {
        self.concurrency = parts;
        self
    }

    pub fn progress(mut self, f: impl Fn(u64) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(f));
        self
    }

    fn check(&self) -> Result<()> {
        if !(PART_MIN..=PART_MAX).contains(&self.part_size) {
            return Err(Error::invalid_input(format!(
                "a part size is {PART_MIN} to {PART_MAX} bytes, not {}",
                self.part_size
            )));
        }
        if !(1..=64).contains(&self.concurrency) {
            return Err(Error::invalid_input(format!(
                "1 to 64 parts go at once, not {}",
                self.concurrency
            )));
        }
        Ok(())
    }
}

/// Cuts a stream into parts of `size` bytes (the last may be shorter, never empty unless the
/// whole stream is).
fn parts(body: ByteStream, size: usize) -> impl futures::Stream<Item = Result<Bytes>> {
    futures::stream::unfold(
        (body, BytesMut::with_capacity(size), false),
        move |(mut body, mut buf, done)| async move {
            if done {
                return None;
            }
            while buf.len() < size {
                match body.next().await {
                    Some(Ok(chunk)) => buf.extend_from_slice(&chunk),
                    Some(Err(e)) => return Some((Err(e), (body, BytesMut::new(), true))),
                    None => {
                        let last = buf.split().freeze();
                        return Some((Ok(last), (body, buf, true)));
                    }
                }
            }
            let part = buf.split_to(size).freeze();
            // The next part gets a buffer of its own, sized once: growing the rest of this one
            // would copy each part several times over.
            let mut next = BytesMut::with_capacity(size);
            next.extend_from_slice(&buf);
            Some((Ok(part), (body, next, false)))
        },
    )
}

/// Sends `body` as a multipart upload of `upload`, skipping the parts `done` already holds
/// (their bytes are read from `body` and dropped), then completes it. On failure the upload is
/// left as it is, to be resumed or aborted.
pub async fn resume_multipart(
    storage: &dyn Storage,
    upload: &MultipartUpload,
    done: Vec<UploadedPart>,
    body: ByteStream,
    options: &MultipartOptions,
) -> Result<ObjectMeta> {
    options.check()?;
    let size = usize::try_from(options.part_size)
        .map_err(|_| Error::invalid_input("the part size does not fit in memory"))?;
    let stored = std::sync::atomic::AtomicU64::new(0);
    let uploaded: Vec<UploadedPart> = parts(body, size)
        .enumerate()
        .map(|(i, part)| {
            let number = u32::try_from(i + 1).unwrap_or(u32::MAX);
            let kept = done
                .iter()
                .find(|p| {
                    p.number == number && part.as_ref().is_ok_and(|b| p.size == b.len() as u64)
                })
                .cloned();
            let stored = &stored;
            async move {
                let part = part?;
                if part.is_empty() && number > 1 {
                    return Ok(None);
                }
                if number > PARTS_MAX {
                    return Err(Error::invalid_input(format!(
                        "the body needs more than {PARTS_MAX} parts of {size} bytes: use larger parts"
                    )));
                }
                let len = part.len() as u64;
                let part = match kept {
                    Some(p) => p,
                    None => storage.upload_part(upload, number, part).await?,
                };
                let total = stored.fetch_add(len, std::sync::atomic::Ordering::Relaxed) + len;
                if let Some(progress) = &options.progress {
                    progress(total);
                }
                Ok(Some(part))
            }
        })
        .buffered(options.concurrency)
        .try_filter_map(|p| async move { Ok(p) })
        .try_collect()
        .await?;
    storage.complete_upload(upload, &uploaded).await
}

/// Sends `body` as a new multipart upload to `bucket`/`key`: parts of `options.part_size`, up
/// to `options.concurrency` at once, so memory stays bounded whatever the size. On failure the
/// upload is aborted and no object appears.
pub async fn put_multipart(
    storage: &dyn Storage,
    bucket: &str,
    key: &str,
    body: ByteStream,
    options: &MultipartOptions,
) -> Result<ObjectMeta> {
    options.check()?;
    let upload = storage.create_upload(bucket, key).await?;
    match resume_multipart(storage, &upload, Vec::new(), body, options).await {
        Ok(meta) => Ok(meta),
        Err(e) => {
            if let Err(abort) = storage.abort_upload(&upload).await {
                tracing::warn!(upload = %upload.id, error = %abort, "a failed upload was not aborted");
            }
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn streams_cut_into_whole_parts() {
        let body: ByteStream =
            futures::stream::iter([3usize, 4, 1, 5].map(|n| Ok(Bytes::from(vec![b'x'; n]))))
                .boxed();
        let sizes: Vec<usize> = parts(body, 4).map(|p| p.unwrap().len()).collect().await;
        assert_eq!(sizes, [4, 4, 4, 1]);
        let empty: ByteStream = futures::stream::empty().boxed();
        let sizes: Vec<usize> = parts(empty, 4).map(|p| p.unwrap().len()).collect().await;
        assert_eq!(sizes, [0]);
    }

    #[test]
    fn completions_name_ordered_full_parts() {
        let p = |n, size| UploadedPart::new(n, "e", size);
        assert!(check_parts(&[p(1, PART_MIN), p(2, 1)]).is_ok());
        for bad in [
            vec![],
            vec![p(2, PART_MIN), p(1, 1)],
            vec![p(1, PART_MIN), p(1, 1)],
            vec![p(1, 1), p(2, 1)],
            vec![p(0, 1)],
            vec![p(PARTS_MAX + 1, 1)],
        ] {
            assert!(check_parts(&bad).is_err(), "{bad:?}");
        }
    }
}
