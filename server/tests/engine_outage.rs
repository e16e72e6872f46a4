//! A lessor's engine goes down under a running fleet, and comes back: the agent says so in its
//! heartbeats (not silence), the server stops sending it work and shows its instances as
//! unknown, and when the engine returns, what changed meanwhile (an instance stopped) goes out
//! as events. The engine's outage is real to the agent: its Docker socket is a proxy the test
//! cuts, every connection through it included.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::user;
use serde_json::json;
use tokio::sync::watch;

fn image() -> String {
    std::env::var("NUBES_TEST_IMAGE").unwrap_or_else(|_| "nubes-test/busybox:latest".into())
}

/// A socket at `path` that forwards to the real engine while `up` says so; turned down, it
/// closes every connection through it and refuses new ones.
fn engine_proxy(path: &Path) -> watch::Sender<bool> {
    let listener = tokio::net::UnixListener::bind(path).unwrap();
    let (up, watching) = watch::channel(true);
    tokio::spawn(async move {
        loop {
            let Ok((mut client, _)) = listener.accept().await else {
                return;
            };
            let mut down = watching.clone();
            if !*down.borrow() {
                continue;
            }
            tokio::spawn(async move {
                let Ok(mut engine) = tokio::net::UnixStream::connect("/var/run/docker.sock").await
                else {
                    return;
                };
                tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut client, &mut engine) => {}
                    _ = down.wait_for(|up| !*up) => {}
                }
            });
        }
    });
    up
}

async fn until(
    rx: &mut tokio::sync::broadcast::Receiver<nubes_server::events::Event>,
    what: &str,
    mut want: impl FnMut(&nubes_server::events::Event) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Ok(e)) if want(&e) => return,
            Ok(_) => {}
            Err(_) => panic!("{what}: no such event within 30 s"),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_engine_outage_is_reported_and_its_changes_announced() {
    let dir = tempfile::tempdir().unwrap();
    let config = nubes_server::Config {
        database_url: format!("sqlite://{}", dir.path().join("nubes.db").display()),
        compute: Some("fleet://".into()),
        fleet: nubes_agent::FleetConfig {
            heartbeat: Duration::from_secs(1),
            ..Default::default()
        },
        ..Default::default()
    };
    let (state, url, api, fleet) = common::live_fleet(&config).await;

    let socket = dir.path().join("docker.sock");
    let engine = engine_proxy(&socket);
    let docker = nubes::docker::connect(&format!("docker://{}", socket.display()))
        .await
        .unwrap()
        .compute()
        .unwrap();
    let token = state.agents.issue_own("lessor").await.unwrap();
    let agent = tokio::spawn(nubes_agent::run(
        nubes_agent::AgentConfig {
            server: url,
            token,
            name: "lessor".into(),
            capacity: nubes_agent::Resources::new(2000, 2 << 30, 0, 0),
            labels: Default::default(),
        },
        docker,
    ));
    let deadline = Instant::now() + Duration::from_secs(30);
    while !fleet.agents().iter().any(|a| a.online) {
        assert!(Instant::now() < deadline, "the agent never came online");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let tenant = user(&api, "tenant@example.com").await;
    let spec = |name: &str| json!({"name": name, "image": image(), "command": ["sleep", "600"], "cpus": 0.1, "memory": 32 << 20});
    let (status, svc) = api.post("/v1/instances", Some(&tenant), spec("svc")).await;
    assert_eq!(
        (status, &svc["state"]),
        (StatusCode::CREATED, &json!("running")),
        "{svc}"
    );
    let id = svc["id"].as_str().unwrap().to_string();
    let backend = format!("nb-{}", &id[..16]);
    // Until the agent has reported it running, the server has nothing to compare with.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let reported = nubes::Compute::list(&fleet, Default::default())
            .await
            .unwrap();
        if reported
            .iter()
            .any(|i| i.name == backend && i.state == nubes::InstanceState::Running)
        {
            break;
        }
        assert!(Instant::now() < deadline, "the agent never reported it");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut events = state.events.subscribe();

    // The engine goes away: the agent says so, and the server believes its reports no more.
    engine.send_replace(false);
    until(&mut events, "agent.backend_down", |e| {
        e.kind == "agent.backend_down"
    })
    .await;
    assert!(fleet.agents()[0].backend_error.is_some());
    let (_, got) = api.get(&format!("/v1/instances/{id}"), Some(&tenant)).await;
    assert_eq!(got["state"], "unknown", "{got}");
    let (status, later) = api
        .post("/v1/instances", Some(&tenant), spec("later"))
        .await;
    assert_eq!(
        (status, &later["state"]),
        (StatusCode::CREATED, &json!("queued")),
        "no work goes to an agent whose engine is down: {later}"
    );
    // Meanwhile the instance stops (as a restarted dockerd leaves its containers).
    let stopped = std::process::Command::new("docker")
        .args(["stop", "-t", "0", &backend])
        .output()
        .unwrap();
    assert!(
        stopped.status.success(),
        "{}",
        String::from_utf8_lossy(&stopped.stderr)
    );

    // The engine is back: the change goes out, and the queue moves again.
    engine.send_replace(true);
    until(&mut events, "the instance's new state", |e| {
        e.kind == "instance.state"
            && e.instance_id.as_deref() == Some(id.as_str())
            && e.state.as_deref() == Some("stopped")
    })
    .await;
    let (_, got) = api.get(&format!("/v1/instances/{id}"), Some(&tenant)).await;
    assert_eq!(got["state"], "stopped", "{got}");
    let later_id = later["id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, got) = api
            .get(&format!("/v1/instances/{later_id}"), Some(&tenant))
            .await;
        if got["state"] == "running" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the queued create never ran: {got}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for i in [&id, &later_id] {
        let gone = api
            .delete(&format!("/v1/instances/{i}?force=true"), Some(&tenant))
            .await;
        assert_eq!(gone.0, StatusCode::NO_CONTENT, "{}", gone.1);
    }
    agent.abort();
}
