//! A 1 GiB object streamed to S3 (moto) in bounded memory: this process's peak resident set
//! grows by a few parts, not by the object. Alone in its binary, so no other test's memory
//! counts.

mod common;

use futures::StreamExt;
use nubes_core::{ByteStream, Bytes};

const GIB: u64 = 1 << 30;

/// The process's peak resident set so far (`VmHWM`), in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gib_goes_up_in_bounded_memory() {
    let storage = common::cloud().await.storage().unwrap();
    let bucket = format!("gib-{}", std::process::id());
    storage.create_bucket(&bucket).await.unwrap();
    let chunk = Bytes::from(common::pattern(1 << 20, 11));
    let body: ByteStream = futures::stream::repeat(chunk)
        .take((GIB >> 20) as usize)
        .map(Ok)
        .boxed();
    let before = peak_rss();
    let meta = storage.put(&bucket, "one-gib", body).await.unwrap();
    let grown = peak_rss().saturating_sub(before);
    assert_eq!(meta.size, GIB);
    assert_eq!(storage.head(&bucket, "one-gib").await.unwrap().size, GIB);
    println!(
        "1 GiB uploaded; peak RSS grew by {:.1} MiB",
        grown as f64 / f64::from(1 << 20)
    );
    // A part being filled, one being sent, and the HTTP client's buffers.
    assert!(
        grown < 8 * nubes_aws::PART as u64,
        "peak RSS grew by {grown} bytes for a 1 GiB upload"
    );
    storage.delete(&bucket, "one-gib").await.unwrap();
    storage.delete_bucket(&bucket).await.unwrap();
}
