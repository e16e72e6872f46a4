//! Credentials never show: not in a connection's `Debug`, not in an error, even after a request
//! has loaded and cached them.

mod common;

#[tokio::test(flavor = "multi_thread")]
async fn credentials_never_show_in_debug_or_errors() {
    let secret = std::env::var("AWS_SECRET_ACCESS_KEY")
        .expect("AWS_SECRET_ACCESS_KEY is unset: run through scripts/test.sh");
    let cloud = common::cloud().await;
    let storage = cloud.storage().unwrap();
    // A request loads the credentials into the SDK's cache; a failing one makes an error.
    let e = storage
        .head("no-such-bucket-for-secrets", "k")
        .await
        .unwrap_err();
    for shown in [
        format!("{cloud:?}"),
        format!("{storage:?}"),
        format!("{:?}", cloud.disk().unwrap()),
        format!("{e:?} {e}"),
    ] {
        assert!(!shown.contains(&secret), "the secret shows: {shown}");
    }
}
