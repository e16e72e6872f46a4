use std::sync::Arc;

use futures::stream::{self, StreamExt};
use nubes_core::conformance::{self, Fixture};
use nubes_core::{
    byte_stream, Bytes, Cloud, Error, ErrorKind, GetOptions, ListObjectsOptions, Storage,
};
use nubes_local::LocalStorage;

#[tokio::test(flavor = "multi_thread")]
async fn passes_the_storage_kit() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = nubes_local::connect(&format!("local://{}", dir.path().display()))
        .await
        .unwrap();
    let report =
        conformance::storage(cloud.storage().unwrap().as_ref(), &Fixture::new("unused")).await;
    println!("{report}");
    assert!(report.skipped.is_empty(), "{report}");
}

#[tokio::test]
async fn keys_never_escape_the_root() {
    let parent = tempfile::tempdir().unwrap();
    let root = parent.path().join("root");
    let s = LocalStorage::open(&root).await.unwrap();
    s.create_bucket("bkt").await.unwrap();
    for key in ["../../outside", "/etc/passwd", "a/../../../outside"] {
        let e = s.put("bkt", key, byte_stream("x")).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{key}");
    }
    let e = s.create_bucket("..").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let outside: Vec<_> = std::fs::read_dir(parent.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(outside, vec![std::ffi::OsString::from("root")]);
}

#[tokio::test]
async fn a_failed_upload_leaves_the_old_object_and_no_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    let s = LocalStorage::open(dir.path()).await.unwrap();
    s.create_bucket("bkt").await.unwrap();
    s.put("bkt", "k", byte_stream("old")).await.unwrap();
    let failing = stream::iter(vec![
        Ok(Bytes::from("new-partial")),
        Err(Error::new(ErrorKind::Unavailable, "client went away")),
    ])
    .boxed();
    let e = s.put("bkt", "k", failing).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    let body = s
        .get("bkt", "k", GetOptions::default())
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(body, "old");
    let tmp: Vec<_> = std::fs::read_dir(dir.path().join(".nubes-tmp"))
        .unwrap()
        .collect();
    assert!(tmp.is_empty(), "temp files left: {tmp:?}");
}

#[tokio::test]
async fn objects_survive_reopening_and_empty_prefixes_disappear() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = LocalStorage::open(dir.path()).await.unwrap();
        s.create_bucket("bkt").await.unwrap();
        s.put("bkt", "deep/er/key", byte_stream("v")).await.unwrap();
        s.put("bkt", "top", byte_stream("t")).await.unwrap();
    }
    let s: Arc<dyn Storage> = Arc::new(LocalStorage::open(dir.path()).await.unwrap());
    let cloud = Cloud::new("local").with_storage(s);
    let s = cloud.storage().unwrap();
    let keys: Vec<String> = s
        .list("bkt", ListObjectsOptions::default())
        .await
        .unwrap()
        .objects
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert_eq!(keys, ["deep/er/key", "top"]);
    s.delete("bkt", "deep/er/key").await.unwrap();
    assert!(
        !dir.path().join("bkt/deep").exists(),
        "empty prefix directories were left"
    );
    let e = s
        .put("bkt", "top/child", byte_stream("x"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict);
}

/// An upload id comes from the caller on resume: one that names a path is no upload at all,
/// and a broken stream leaves neither an upload nor a temp file behind.
#[tokio::test]
async fn uploads_stay_inside_the_root_and_leave_nothing_when_they_fail() {
    use nubes_core::multipart::{put_multipart, MultipartOptions, MultipartUpload};
    let parent = tempfile::tempdir().unwrap();
    let root = parent.path().join("root");
    let s = LocalStorage::open(&root).await.unwrap();
    s.create_bucket("bkt").await.unwrap();
    std::fs::create_dir_all(parent.path().join("victim")).unwrap();
    std::fs::write(parent.path().join("victim/target"), "bkt\nk").unwrap();
    for id in [
        "../../victim",
        "../victim",
        "/tmp",
        "0123456789abcdef0123456789abcdeg",
    ] {
        let forged = MultipartUpload::new("bkt", "k", id);
        assert_eq!(
            s.list_parts(&forged).await.unwrap_err().kind(),
            ErrorKind::NotFound,
            "{id}"
        );
        assert_eq!(
            s.abort_upload(&forged).await.unwrap_err().kind(),
            ErrorKind::NotFound,
            "{id}"
        );
    }
    assert!(parent.path().join("victim/target").exists());
    // Another upload's id, with a different key, is not this key's upload.
    let real = s.create_upload("bkt", "a").await.unwrap();
    let other = MultipartUpload::new("bkt", "b", real.id.clone());
    assert_eq!(
        s.list_parts(&other).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    s.abort_upload(&real).await.unwrap();

    let broken = stream::iter([Ok(Bytes::from(vec![1u8; 6 << 20]))])
        .chain(stream::once(async {
            Err(Error::unexpected("the source broke"))
        }))
        .boxed();
    let options = MultipartOptions::default().part_size(5 << 20);
    assert!(put_multipart(&s, "bkt", "k", broken, &options)
        .await
        .is_err());
    for dir in [".nubes-uploads", ".nubes-tmp"] {
        let left: Vec<_> = std::fs::read_dir(root.join(dir)).unwrap().collect();
        assert!(left.is_empty(), "{dir}: {left:?}");
    }
    assert_eq!(
        s.head("bkt", "k").await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
}
