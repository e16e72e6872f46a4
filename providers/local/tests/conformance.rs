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
