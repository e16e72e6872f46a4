//! Converting a disk on real qemu-img images reports its progress on the event stream, to the one
//! who asked and nobody else.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::Socket;
use futures::StreamExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

async fn events(addr: std::net::SocketAddr, token: &str) -> Socket {
    common::websocket(&format!("http://{addr}"), "/v1/events", token)
        .await
        .unwrap()
}

/// The `disk.converting` events that arrive on `ws` until `until` says the last has come, or
/// none more for `quiet`.
async fn converting(
    ws: &mut Socket,
    quiet: Duration,
    until: impl Fn(&Value) -> bool,
) -> Vec<Value> {
    let mut seen = Vec::new();
    while let Ok(Some(Ok(msg))) = tokio::time::timeout(quiet, ws.next()).await {
        let Message::Text(text) = msg else { continue };
        let e: Value = serde_json::from_str(&text).unwrap();
        if e["kind"] == "disk.converting" {
            let last = until(&e);
            seen.push(e);
            if last {
                break;
            }
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread")]
async fn a_conversions_progress_reaches_its_caller_alone() {
    let dir = tempfile::tempdir().unwrap();
    let config = nubes_server::Config {
        database_url: format!("sqlite://{}", dir.path().join("nubes.db").display()),
        disk: Some(format!(
            "qemu://?pool={}",
            dir.path().join("images").display()
        )),
        ..Default::default()
    };
    let (state, addr) = common::live(&config).await;
    let api = common::Api {
        app: nubes_server::app(state),
    };
    let bob = common::user(&api, "bob@example.com").await;
    let eve = common::user(&api, "eve@example.com").await;
    let (status, disk) = api
        .post(
            "/v1/disks",
            Some(&bob),
            json!({"name": "boot", "format": "qcow2", "size": 256u64 << 20}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{disk}");
    let mut bobs = events(addr, &bob).await;
    let mut eves = events(addr, &eve).await;
    // The streams are subscribed once their upgrade is answered; a moment more for the hub.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let (status, copy) = api
        .post(
            &format!("/v1/disks/{}/convert", disk["id"].as_str().unwrap()),
            Some(&bob),
            json!({"format": "vmdk", "target": "boot-vmdk"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{copy}");
    assert_eq!(copy["format"], "vmdk", "{copy}");

    let seen = converting(&mut bobs, Duration::from_secs(10), |e| {
        e["progress"] == 100.0
    })
    .await;
    assert!(!seen.is_empty(), "no progress reached the caller");
    let figures: Vec<f64> = seen
        .iter()
        .map(|e| e["progress"].as_f64().unwrap())
        .collect();
    assert_eq!(figures.last(), Some(&100.0), "{seen:?}");
    assert!(
        figures.windows(2).all(|w| w[0] < w[1]),
        "each whole percent once, growing: {figures:?}"
    );
    for e in &seen {
        assert_eq!(
            (&e["disk_id"], &e["name"], &e["org_id"]),
            (&disk["id"], &json!("boot-vmdk"), &disk["org_id"]),
            "{e}"
        );
    }
    let leaked = converting(&mut eves, Duration::from_secs(1), |_| false).await;
    assert!(
        leaked.is_empty(),
        "another user saw the conversion: {leaked:?}"
    );
}
