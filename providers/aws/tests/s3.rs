//! S3 against moto: the storage kit, objects crossing between Nubes and boto3 both ways, and
//! multipart uploads that complete or, when the stream fails, leave nothing behind.

mod common;

use futures::StreamExt;
use nubes_core::conformance::{self, Fixture};
use nubes_core::{ByteStream, Bytes, Error, ErrorKind, GetOptions, PresignMethod};

#[tokio::test(flavor = "multi_thread")]
async fn s3_passes_the_storage_kit() {
    let cloud = common::cloud().await;
    let storage = cloud.storage().unwrap();
    let report = conformance::storage(storage.as_ref(), &Fixture::new("unused")).await;
    println!("{report}");
    assert_eq!(report.passed.len(), 11, "{report}");
    for case in ["multipart_resume", "multipart_refusals", "multipart_stream"] {
        assert!(
            report.passed.contains(&case),
            "{case} did not run: {report}"
        );
    }
    assert!(report.skipped.is_empty(), "{report}");
}

/// What Nubes writes, boto3 reads byte for byte, and the reverse; one object in one part and
/// one in three.
#[tokio::test(flavor = "multi_thread")]
async fn objects_cross_between_nubes_and_boto3() {
    let storage = common::cloud().await.storage().unwrap();
    let bucket = format!("cross-{}", fastrand_suffix());
    storage.create_bucket(&bucket).await.unwrap();
    for (key, len) in [
        ("small.bin", 100_000),
        ("big.bin", 2 * nubes_aws::PART + 12_345),
    ] {
        let data = common::pattern(len, len as u32);
        let body = futures::stream::iter(
            data.chunks(64 * 1024)
                .map(|c| Ok(Bytes::copy_from_slice(c)))
                .collect::<Vec<_>>(),
        )
        .boxed();
        let meta = storage.put(&bucket, key, body).await.unwrap();
        assert_eq!(meta.size, len as u64);
        let read = common::boto3(
            "sys.stdout.buffer.write(s3.get_object(Bucket=sys.argv[1], Key=sys.argv[2])['Body'].read())",
            &[&bucket, key],
        );
        assert!(
            read == data,
            "boto3 read {key} differently ({} bytes)",
            read.len()
        );
    }
    common::boto3(
        "s3.put_object(Bucket=sys.argv[1], Key='from-boto3', Body=bytes(range(256)) * 1000)",
        &[&bucket],
    );
    let got = storage
        .get(&bucket, "from-boto3", GetOptions::default())
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let want: Vec<u8> = (0..=255u8).cycle().take(256_000).collect();
    assert!(got == want, "Nubes read boto3's object differently");
    for key in ["small.bin", "big.bin", "from-boto3"] {
        storage.delete(&bucket, key).await.unwrap();
    }
    storage.delete_bucket(&bucket).await.unwrap();
}

/// A stream that fails after two parts: the put fails with the stream's error, and the upload
/// is aborted, so no parts stay behind to be billed.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_upload_leaves_no_parts() {
    let storage = common::cloud().await.storage().unwrap();
    let bucket = format!("abort-{}", fastrand_suffix());
    storage.create_bucket(&bucket).await.unwrap();
    let part = Bytes::from(common::pattern(nubes_aws::PART, 7));
    let failing: ByteStream = futures::stream::iter(vec![
        Ok(part.clone()),
        Ok(part.clone()),
        Ok(part),
        Err(Error::new(ErrorKind::Unavailable, "the client went away")),
    ])
    .boxed();
    let e = storage.put(&bucket, "torn", failing).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    let uploads = common::boto3(
        "print(len(s3.list_multipart_uploads(Bucket=sys.argv[1]).get('Uploads', [])))",
        &[&bucket],
    );
    assert_eq!(
        String::from_utf8_lossy(&uploads).trim(),
        "0",
        "parts left behind"
    );
    let head = storage.head(&bucket, "torn").await.unwrap_err();
    assert_eq!(
        head.kind(),
        ErrorKind::NotFound,
        "a torn object became visible"
    );
    storage.delete_bucket(&bucket).await.unwrap();
}

/// AWS's own refusals come back as the right kinds with AWS's reason.
#[tokio::test(flavor = "multi_thread")]
async fn aws_refusals_keep_their_reason() {
    let storage = common::cloud().await.storage().unwrap();
    let bucket = format!("refuse-{}", fastrand_suffix());
    storage.create_bucket(&bucket).await.unwrap();
    let again = storage.create_bucket(&bucket).await.unwrap_err();
    assert_eq!(again.kind(), ErrorKind::AlreadyExists, "{again}");
    assert_eq!(again.provider(), Some("aws"));
    storage
        .put(&bucket, "k", nubes_core::byte_stream("v"))
        .await
        .unwrap();
    let full = storage.delete_bucket(&bucket).await.unwrap_err();
    assert_eq!(full.kind(), ErrorKind::Conflict, "{full}");
    assert!(!full.message().is_empty());
    storage.delete(&bucket, "k").await.unwrap();
    storage.delete_bucket(&bucket).await.unwrap();
}

/// A presigned URL needs nothing but itself: plain curl reads and writes with it.
#[tokio::test(flavor = "multi_thread")]
async fn presigned_urls_work_with_curl() {
    let storage = common::cloud().await.storage().unwrap();
    let bucket = format!("presign-{}", fastrand_suffix());
    storage.create_bucket(&bucket).await.unwrap();
    storage
        .put(
            &bucket,
            "notes.txt",
            nubes_core::byte_stream("shared by URL\n"),
        )
        .await
        .unwrap();
    let hour = std::time::Duration::from_secs(3600);
    let get = storage
        .presign(&bucket, "notes.txt", PresignMethod::Get, hour)
        .await
        .unwrap();
    let out = curl(&[&get.url], &get.headers, None);
    assert_eq!(out, b"shared by URL\n");

    let put = storage
        .presign(&bucket, "dropped.bin", PresignMethod::Put, hour)
        .await
        .unwrap();
    let data = common::pattern(300_000, 3);
    curl(&["-X", "PUT", &put.url], &put.headers, Some(&data));
    let got = storage
        .get(&bucket, "dropped.bin", GetOptions::default())
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(got == data, "the object written by URL differs");
    for key in ["notes.txt", "dropped.bin"] {
        storage.delete(&bucket, key).await.unwrap();
    }
    storage.delete_bucket(&bucket).await.unwrap();
}

/// `curl` with `headers`, sending `body` if any; its output, after it succeeded.
fn curl(
    args: &[&str],
    headers: &std::collections::BTreeMap<String, String>,
    body: Option<&[u8]>,
) -> Vec<u8> {
    use std::io::Write;
    let mut cmd = std::process::Command::new("curl");
    cmd.args(["-fsS"]).args(args);
    for (k, v) in headers {
        cmd.args(["-H", &format!("{k}: {v}")]);
    }
    if body.is_some() {
        cmd.args(["--data-binary", "@-"]);
    }
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.unwrap_or_default())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "curl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn fastrand_suffix() -> String {
    format!(
        "{:x}",
        std::process::id() ^ (std::time::UNIX_EPOCH.elapsed().unwrap().subsec_nanos())
    )
}
