//! S3 against moto: the storage kit, objects crossing between Nubes and boto3 both ways, and
//! multipart uploads that complete or, when the stream fails, leave nothing behind.

mod common;

use futures::StreamExt;
use nubes_core::conformance::{self, Fixture};
use nubes_core::{ByteStream, Bytes, Error, ErrorKind, GetOptions};

#[tokio::test(flavor = "multi_thread")]
async fn s3_passes_the_storage_kit() {
    let cloud = common::cloud().await;
    let storage = cloud.storage().unwrap();
    let report = conformance::storage(storage.as_ref(), &Fixture::new("unused")).await;
    println!("{report}");
    assert_eq!(report.passed.len(), 7, "{report}");
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

fn fastrand_suffix() -> String {
    format!(
        "{:x}",
        std::process::id() ^ (std::time::UNIX_EPOCH.elapsed().unwrap().subsec_nanos())
    )
}
