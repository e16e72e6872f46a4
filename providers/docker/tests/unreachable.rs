//! An engine that is down (its socket refuses connections, as while dockerd restarts) is
//! `Unavailable` and temporary, never an unexpected error.

use nubes_core::ErrorKind;

#[tokio::test]
async fn an_engine_that_is_down_is_unavailable() {
    let path = std::env::temp_dir().join(format!("nubes-dead-{}.sock", fastrand::u32(..)));
    // The socket file stays; nothing listens on it: connections are refused.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    let e = nubes_docker::connect(&format!("docker://{}", path.display()))
        .await
        .expect_err("nothing answers on the socket");
    std::fs::remove_file(&path).unwrap();
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert!(e.is_temporary(), "{e}");
    assert!(e.message().contains("not reachable"), "{e}");
}
