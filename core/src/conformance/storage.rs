use bytes::Bytes;
use futures::stream::{self, StreamExt};

use super::{ensure, expect_kind, CaseResult, Fixture, Report, Runner};
use crate::multipart::{self, MultipartOptions, PART_MIN};
use crate::storage::*;
use crate::{ErrorKind, Result};

/// Runs the Storage suite.
pub async fn storage(s: &dyn Storage, fx: &Fixture) -> Report {
    let cap = s.capability();
    let mut r = Runner::new("storage", s.provider(), fx);
    r.case("buckets", buckets(s, fx)).await;
    r.case("objects", objects(s, fx)).await;
    r.case("invalid_keys", invalid_keys(s, fx)).await;
    r.case("large_streamed_object", large(s, fx)).await;
    if cap.range {
        r.case("range_get", range(s, fx)).await;
    } else {
        r.skip("range_get", "capability range is off");
    }
    if cap.presign {
        r.case("presign", presign(s, fx)).await;
    } else {
        r.case("presign_unsupported", presign_unsupported(s, fx))
            .await;
    }
    if cap.multipart {
        r.case("multipart_resume", multipart_resume(s, fx)).await;
        r.case("multipart_refusals", multipart_refusals(s, fx))
            .await;
        r.case("multipart_stream", multipart_stream(s, fx)).await;
    } else {
        r.case("multipart_unsupported", multipart_unsupported(s, fx))
            .await;
    }
    r.case("list_prefix", list_prefix(s, fx)).await;
    if cap.pagination {
        r.case("list_pagination", pagination(s, fx)).await;
    } else {
        r.skip("list_pagination", "capability pagination is off");
    }
    let cleanup = cleanup(s, fx).await;
    r.finish(cleanup)
}

async fn cleanup(s: &dyn Storage, fx: &Fixture) -> Result<()> {
    for bucket in s.list_buckets().await? {
        if !bucket.name.starts_with(fx.prefix()) {
            continue;
        }
        let page = s.list(&bucket.name, ListObjectsOptions::default()).await?;
        for o in page.objects {
            s.delete(&bucket.name, &o.key).await?;
        }
        s.delete_bucket(&bucket.name).await?;
    }
    Ok(())
}

/// Puts `data` as a stream of `chunk`-sized pieces.
fn chunked(data: &Bytes, chunk: usize) -> ByteStream {
    let pieces: Vec<Result<Bytes>> = data
        .chunks(chunk)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    stream::iter(pieces).boxed()
}

async fn read(s: &dyn Storage, bucket: &str, key: &str, options: GetOptions) -> Result<Bytes> {
    s.get(bucket, key, options).await?.bytes().await
}

async fn buckets(s: &dyn Storage, fx: &Fixture) -> CaseResult {
    let name = fx.name("bkt");
    let b = s.create_bucket(&name).await?;
    ensure!(b.name == name, "created {}", b.name);
    ensure!(
        s.list_buckets().await?.iter().any(|b| b.name == name),
        "bucket not listed"
    );
    expect_kind(
        s.create_bucket(&name).await,
        ErrorKind::AlreadyExists,
        "create twice",
    )?;
    for bad in ["ab", "Upper", "has_underscore", "-dash", "a..b", "../etc"] {
        expect_kind(s.create_bucket(bad).await, ErrorKind::InvalidInput, bad)?;
    }
    s.put(&name, "k", byte_stream("v")).await?;
    expect_kind(
        s.delete_bucket(&name).await,
        ErrorKind::Conflict,
        "delete a non-empty bucket",
    )?;
    ensure!(
        read(s, &name, "k", GetOptions::default()).await? == "v",
        "refused delete lost data"
    );
    s.delete(&name, "k").await?;
    s.delete_bucket(&name).await?;
    ensure!(
        !s.list_buckets().await?.iter().any(|b| b.name == name),
        "deleted bucket still listed"
    );
    expect_kind(
        s.delete_bucket(&name).await,
        ErrorKind::NotFound,
        "delete a missing bucket",
    )?;
    expect_kind(
        s.put(&name, "k", byte_stream("v")).await,
        ErrorKind::NotFound,
        "put into a missing bucket",
    )?;
    Ok(())
}

async fn objects(s: &dyn Storage, fx: &Fixture) -> CaseResult {
    let b = fx.name("obj");
    s.create_bucket(&b).await?;
    let data = Bytes::from("hello, nubes\n".repeat(100));
    let meta = s.put(&b, "dir/greeting.txt", chunked(&data, 7)).await?;
    ensure!(
        meta.size == data.len() as u64 && meta.key == "dir/greeting.txt",
        "put returned {meta:?}"
    );
    ensure!(
        read(s, &b, "dir/greeting.txt", GetOptions::default()).await? == data,
        "read back differs"
    );
    let head = s.head(&b, "dir/greeting.txt").await?;
    ensure!(head.size == data.len() as u64, "head size {}", head.size);

    s.put(&b, "dir/greeting.txt", byte_stream("short")).await?;
    ensure!(
        read(s, &b, "dir/greeting.txt", GetOptions::default()).await? == "short",
        "overwrite did not replace"
    );

    s.put(&b, "empty", byte_stream(Bytes::new())).await?;
    ensure!(
        s.head(&b, "empty").await?.size == 0,
        "empty object has a size"
    );
    ensure!(
        read(s, &b, "empty", GetOptions::default())
            .await?
            .is_empty(),
        "empty object has bytes"
    );

    expect_kind(
        s.get(&b, "nope", GetOptions::default()).await.map(|_| ()),
        ErrorKind::NotFound,
        "get missing",
    )?;
    expect_kind(
        s.head(&b, "dir").await,
        ErrorKind::NotFound,
        "head of a key prefix",
    )?;
    s.delete(&b, "dir/greeting.txt").await?;
    expect_kind(
        s.head(&b, "dir/greeting.txt").await,
        ErrorKind::NotFound,
        "head after delete",
    )?;
    expect_kind(
        s.delete(&b, "dir/greeting.txt").await,
        ErrorKind::NotFound,
        "delete twice",
    )?;
    s.delete(&b, "empty").await?;
    s.delete_bucket(&b).await?;
    Ok(())
}

async fn invalid_keys(s: &dyn Storage, fx: &Fixture) -> CaseResult {
    let b = fx.name("keys");
    s.create_bucket(&b).await?;
    for bad in [
        "",
        "/etc/passwd",
        "../escape",
        "a/../../escape",
        "a/./b",
        "a//b",
        "trailing/",
        "nul\0byte",
        "back\\slash",
    ] {
        expect_kind(
            s.put(&b, bad, byte_stream("x")).await,
            ErrorKind::InvalidInput,
            &format!("put {bad:?}"),
        )?;
        expect_kind(
            s.get(&b, bad, GetOptions::default()).await.map(|_| ()),
            ErrorKind::InvalidInput,
            &format!("get {bad:?}"),
        )?;
        expect_kind(
            s.delete(&b, bad).await,
            ErrorKind::InvalidInput,
            &format!("delete {bad:?}"),
        )?;
    }
    let page = s.list(&b, ListObjectsOptions::default()).await?;
    ensure!(
        page.objects.is_empty(),
        "invalid keys left objects: {:?}",
        page.objects
    );
    s.delete_bucket(&b).await?;
    Ok(())
}

async fn large(s: &dyn Storage, fx: &Fixture) -> CaseResult {
    let b = fx.name("large");
    s.create_bucket(&b).await?;
    let data: Bytes = (0..5 * 1024 * 1024u32)
        .map(|i| (i % 251) as u8)
        .collect::<Vec<u8>>()
        .into();
    let meta = s.put(&b, "blob.bin", chunked(&data, 64 * 1024)).await?;
    ensure!(meta.size == data.len() as u64, "size {}", meta.size);
    let mut body = s.get(&b, "blob.bin", GetOptions::default()).await?.body.0;
    let mut got = Vec::with_capacity(data.len());
    let mut chunks = 0;
    while let Some(chunk) = body.next().await {
        got.extend_from_slice(&chunk?);
        chunks += 1;
    }
    ensure!(
        got == data,
        "5 MiB object came back different ({} bytes)",
        got.len()
    );
    ensure!(chunks >= 1, "no chunks");
    s.delete(&b, "blob.bin").await?;
    s.delete_bucket(&b).await?;
    Ok(())
}

async fn range(s: &dyn Storage, fx: &Fixture) -> CaseResult {
    let b = fx.name("range");
    s.create_bucket(&b).await?;
    s.put(&b, "abc", byte_stream("0123456789")).await?;
    let mid = s.get(&b, "abc", GetOptions::range(2..5)).await?;
    ensure!(
        mid.range == (2..5) && mid.meta.size == 10,
        "range {:?} meta {:?}",
        mid.range,
        mid.meta
    );
    ensure!(mid.bytes().await? == "234", "2..5");
    ensure!(
        read(s, &b, "abc", GetOptions::range(ByteRange::from(7))).await? == "789",
        "7.."
    );
    ensure!(
        read(s, &b, "abc", GetOptions::range(8..100)).await? == "89",
        "8..100 clamps"
    );
    expect_kind(
        s.get(&b, "abc", GetOptions::range(ByteRange::from(10)))
            .await
            .map(|_| ()),
        ErrorKind::InvalidInput,
        "start at size",
    )?;
    expect_kind(
        s.get(&b, "abc", GetOptions::range(5..5)).await.map(|_| ()),
        ErrorKind::InvalidInput,
        "empty range",
    )?;
    s.delete(&b, "abc").await?;
    s.delete_bucket(&b).await?;
    Ok(())
}

/// URLs for reading and writing one object, living as long as asked; expiries out of bounds
/// refused. (That a URL works is for the provider's own tests: the kit speaks no HTTP.)
async fn presign(s: &dyn Storage, fx: &Fixture) -> CaseResult {
    let b = fx.name("presign");
    s.create_bucket(&b).await?;
    s.put(&b, "shared.txt", byte_stream("for sharing")).await?;
    let hour = std::time::Duration::from_secs(3600);
    let before = chrono::Utc::now();
    let get = s
        .presign(&b, "shared.txt", PresignMethod::Get, hour)
        .await?;
    ensure!(get.method == PresignMethod::Get, "method {:?}", get.method);
    ensure!(get.url.contains("shared.txt"), "url {}", get.url);
    let lives = (get.expires_at - before).num_seconds();
    ensure!(
        (3590..=3610).contains(&lives),
        "lives {lives} s, asked 3600"
    );
    if s.capability().presign_put {
        let put = s
            .presign(&b, "upload.bin", PresignMethod::Put, hour)
            .await?;
        ensure!(put.method == PresignMethod::Put, "method {:?}", put.method);
    } else {
        expect_kind(
            s.presign(&b, "upload.bin", PresignMethod::Put, hour).await,
            ErrorKind::Unsupported,
            "a write URL without presign_put",
        )?;
    }
    for bad in [std::time::Duration::ZERO, PRESIGN_MAX * 2] {
        expect_kind(
            s.presign(&b, "shared.txt", PresignMethod::Get, bad).await,
            ErrorKind::InvalidInput,
            &format!("expiry {bad:?}"),
        )?;
    }
    s.delete(&b, "shared.txt").await?;
    s.delete_bucket(&b).await?;
    Ok(())
}

async fn presign_unsupported(s: &dyn Storage, fx: &Fixture) -> CaseResult {
    let hour = std::time::Duration::from_secs(3600);
    expect_kind(
        s.presign(&fx.name("nopresign"), "k", PresignMethod::Get, hour)
            .await,
        ErrorKind::Unsupported,
        "presign without the capability",
    )
}

async fn fill(s: &dyn Storage, b: &str, keys: &[&str]) -> Result<()> {
    s.create_bucket(b).await?;
    for k in keys {
        s.put(b, k, byte_stream(k.to_string())).await?;
    }
    Ok(())
}

async fn list_prefix(s: &dyn Storage, fx: &Fixture) -> CaseResult {
    let b = fx.name("list");
    fill(s, &b, &["a/2", "a/1", "b/1", "ab", "a/sub/3"]).await?;
    let keys = |p: ObjectPage| p.objects.into_iter().map(|o| o.key).collect::<Vec<_>>();
    let all = keys(s.list(&b, ListObjectsOptions::default()).await?);
    ensure!(
        all == ["a/1", "a/2", "a/sub/3", "ab", "b/1"],
        "all keys, sorted: {all:?}"
    );
    let a = keys(
        s.list(&b, ListObjectsOptions::default().prefix("a/"))
            .await?,
    );
    ensure!(a == ["a/1", "a/2", "a/sub/3"], "prefix a/: {a:?}");
    let none = keys(
        s.list(&b, ListObjectsOptions::default().prefix("zzz"))
            .await?,
    );
    ensure!(none.is_empty(), "prefix zzz: {none:?}");
    let sizes: Vec<u64> = s
        .list(&b, ListObjectsOptions::default())
        .await?
        .objects
        .iter()
        .map(|o| o.size)
        .collect();
    ensure!(sizes == [3, 3, 7, 2, 3], "sizes {sizes:?}");
    expect_kind(
        s.list(&fx.name("nolist"), ListObjectsOptions::default())
            .await,
        ErrorKind::NotFound,
        "list a missing bucket",
    )?;
    Ok(())
}

async fn pagination(s: &dyn Storage, fx: &Fixture) -> CaseResult {
    let b = fx.name("pages");
    let keys: Vec<String> = (0..7).map(|i| format!("k{i:02}")).collect();
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    fill(s, &b, &refs).await?;
    let mut seen = Vec::new();
    let mut token = None;
    let mut pages = 0;
    loop {
        let mut opts = ListObjectsOptions::default().limit(3);
        opts.continuation = token.take();
        let page = s.list(&b, opts).await?;
        ensure!(page.objects.len() <= 3, "page of {}", page.objects.len());
        seen.extend(page.objects.into_iter().map(|o| o.key));
        pages += 1;
        ensure!(pages <= 10, "pagination does not end");
        match page.next {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    ensure!(seen == keys, "pages joined: {seen:?}");
    ensure!(pages == 3, "{pages} pages for 7 keys at 3 a page");
    expect_kind(
        s.list(&b, ListObjectsOptions::default().limit(0)).await,
        ErrorKind::InvalidInput,
        "limit 0",
    )?;
    Ok(())
}

fn pattern(len: usize, seed: u8) -> Bytes {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect::<Vec<u8>>()
        .into()
}

/// Parts sent out of order, the upload picked up again by id from a fresh handle, its parts
/// listed, completed into one object; the upload is then gone.
async fn multipart_resume(s: &dyn Storage, fx: &Fixture) -> CaseResult {
    let b = fx.name("mpart");
    s.create_bucket(&b).await?;
    let first = pattern(PART_MIN as usize, 1);
    let last = pattern(1000, 2);
    let upload = s.create_upload(&b, "joined.bin").await?;
    ensure!(!upload.id.is_empty(), "an upload without an id");
    let second = s.upload_part(&upload, 2, last.clone()).await?;
    ensure!(second.size == 1000, "part 2 is {} bytes", second.size);
    expect_kind(
        s.head(&b, "joined.bin").await,
        ErrorKind::NotFound,
        "an object before its upload completed",
    )?;
    // Resumed as a process that only kept the id would.
    let again = MultipartUpload::new(&b, "joined.bin", upload.id.clone());
    let one = s.upload_part(&again, 1, first.clone()).await?;
    let mut listed = s.list_parts(&again).await?;
    listed.sort_by_key(|p| p.number);
    ensure!(
        listed == vec![one.clone(), second.clone()],
        "listed parts {listed:?}"
    );
    let meta = s.complete_upload(&again, &listed).await?;
    ensure!(
        meta.size == PART_MIN + 1000,
        "completed object is {} bytes",
        meta.size
    );
    let mut want = first.to_vec();
    want.extend_from_slice(&last);
    let got = read(s, &b, "joined.bin", GetOptions::default()).await?;
    ensure!(got == want, "the object is not its parts in order");
    expect_kind(
        s.list_parts(&again).await,
        ErrorKind::NotFound,
        "a completed upload's parts",
    )?;
    s.delete(&b, "joined.bin").await?;
    Ok(())
}

/// Bad parts and completions are refused and change nothing; an aborted upload leaves no object
/// and cannot be used again.
async fn multipart_refusals(s: &dyn Storage, fx: &Fixture) -> CaseResult {
    let b = fx.name("mbad");
    s.create_bucket(&b).await?;
    expect_kind(
        s.create_upload(&fx.name("nobucket"), "k").await,
        ErrorKind::NotFound,
        "an upload to a missing bucket",
    )?;
    let upload = s.create_upload(&b, "k").await?;
    expect_kind(
        s.upload_part(&upload, 0, Bytes::from("x")).await,
        ErrorKind::InvalidInput,
        "part number 0",
    )?;
    let small = s.upload_part(&upload, 1, Bytes::from("too small")).await?;
    let tail = s.upload_part(&upload, 2, Bytes::from("tail")).await?;
    expect_kind(
        s.complete_upload(&upload, &[small.clone(), tail.clone()])
            .await,
        ErrorKind::InvalidInput,
        "a small part before the last",
    )?;
    let never = multipart::UploadedPart::new(3, "never-uploaded", PART_MIN);
    expect_kind(
        s.complete_upload(&upload, &[never]).await,
        ErrorKind::InvalidInput,
        "a part that was never uploaded",
    )?;
    expect_kind(
        s.head(&b, "k").await,
        ErrorKind::NotFound,
        "an object from a refused completion",
    )?;
    s.abort_upload(&upload).await?;
    expect_kind(
        s.list_parts(&upload).await,
        ErrorKind::NotFound,
        "an aborted upload's parts",
    )?;
    expect_kind(
        s.upload_part(&upload, 1, Bytes::from("late")).await,
        ErrorKind::NotFound,
        "a part for an aborted upload",
    )?;
    let ghost = MultipartUpload::new(&b, "k", "0123456789abcdef0123456789abcdef");
    expect_kind(
        s.list_parts(&ghost).await,
        ErrorKind::NotFound,
        "an upload id nobody made",
    )?;
    expect_kind(
        s.head(&b, "k").await,
        ErrorKind::NotFound,
        "an object from an aborted upload",
    )
}

/// A stream sent through `put_multipart` in parts, a few at once, comes back whole; progress
/// rises to the total; a stream that fails midway leaves no object.
async fn multipart_stream(s: &dyn Storage, fx: &Fixture) -> CaseResult {
    let b = fx.name("mstream");
    s.create_bucket(&b).await?;
    let data = pattern(2 * PART_MIN as usize + 12_345, 7);
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let options = MultipartOptions::default()
        .part_size(PART_MIN)
        .concurrency(2)
        .progress(move |n| log.lock().expect("progress log").push(n));
    let meta =
        multipart::put_multipart(s, &b, "streamed", chunked(&data, 100_000), &options).await?;
    ensure!(meta.size == data.len() as u64, "stored {} bytes", meta.size);
    let got = read(s, &b, "streamed", GetOptions::default()).await?;
    ensure!(got == data, "the streamed object changed");
    let seen = seen.lock().expect("progress log").clone();
    ensure!(
        seen.len() == 3 && seen.last() == Some(&(data.len() as u64)),
        "progress {seen:?}"
    );
    s.delete(&b, "streamed").await?;

    let broken = chunked(&data, 1 << 20)
        .take(7)
        .chain(stream::once(async {
            Err(crate::Error::unexpected("the source broke"))
        }))
        .boxed();
    let failed = multipart::put_multipart(s, &b, "broken", broken, &options).await;
    ensure!(failed.is_err(), "a broken stream was stored");
    expect_kind(
        s.head(&b, "broken").await,
        ErrorKind::NotFound,
        "an object from a broken stream",
    )
}

async fn multipart_unsupported(s: &dyn Storage, fx: &Fixture) -> CaseResult {
    let b = fx.name("mnone");
    s.create_bucket(&b).await?;
    expect_kind(
        s.create_upload(&b, "k").await,
        ErrorKind::Unsupported,
        "a multipart upload without the capability",
    )
}
