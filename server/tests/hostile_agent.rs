//! A lessor's agent that speaks the protocol and lies, against a live fleet server with an honest
//! agent on the real Docker Engine: it claims a tenant's instance in its hello, forges replies
//! and output for requests it was never sent, reports instances it does not hold as running,
//! floods heartbeats, and sends an oversized frame. None of it reaches the tenant.

mod common;

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::user;
use futures::{SinkExt, StreamExt};
use nubes_agent::agent::frame;
use nubes_agent::protocol::{self, AgentMessage, Hello, Op, Outcome, ServerMessage};
use nubes_agent::Resources;
use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

fn image() -> String {
    std::env::var("NUBES_TEST_IMAGE").unwrap_or_else(|_| "nubes-test/busybox:latest".into())
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Dials the agent endpoint as the agent of `token`.
async fn dial(url: &str, token: &str) -> Socket {
    let ws = nubes_agent::agent::websocket_url(url, "/v1/agents/connect").unwrap();
    let mut req = ws.into_client_request().unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    tokio_tungstenite::connect_async(req).await.unwrap().0
}

fn hello(instances: Vec<nubes::Instance>) -> Message {
    frame(&AgentMessage::Hello(Hello {
        version: protocol::VERSION,
        name: "hostile".into(),
        // More than it has: the platform cannot tell (the agent README says so).
        capacity: Resources::new(64_000, 256 << 30, 0, 0),
        providers: ["docker".to_string()].into(),
        labels: Default::default(),
        os: "linux".into(),
        arch: "x86_64".into(),
        instances,
        consoles: Vec::new(),
    }))
}

fn running(name: &str) -> nubes::Instance {
    let mut i = nubes::Instance::new(name, name, "docker");
    i.state = nubes::InstanceState::Running;
    i
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hostile_agent_cannot_reach_tenants() {
    let dir = tempfile::tempdir().unwrap();
    let config = nubes_server::Config {
        database_url: format!("sqlite://{}", dir.path().join("nubes.db").display()),
        compute: Some("fleet://".into()),
        ..Default::default()
    };
    let (state, url, api, fleet) = common::live_fleet(&config).await;

    // The honest agent, on Docker, and a tenant's instance on it with a secret in its env.
    let honest_token = state.agents.issue_own("honest").await.unwrap();
    let docker = <nubes::Cloud as nubes::Connect>::connect("docker://")
        .await
        .unwrap()
        .compute()
        .unwrap();
    let honest = tokio::spawn(nubes_agent::run(
        nubes_agent::AgentConfig {
            server: url.clone(),
            token: honest_token,
            name: "honest".into(),
            capacity: Resources::new(2000, 2 << 30, 0, 0),
            labels: Default::default(),
        },
        docker,
    ));
    wait_until("the honest agent is online", || {
        fleet.agents().iter().any(|a| a.online)
    })
    .await;
    let honest_id = fleet.agents()[0].id.clone();
    let tenant = user(&api, "tenant@example.com").await;
    let (status, db) = api
        .post(
            "/v1/instances",
            Some(&tenant),
            json!({"name": "db", "image": image(), "command": ["sleep", "300"],
                   "env": {"SECRET": "s3cret"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{db}");
    let id = db["id"].as_str().unwrap().to_string();
    let backend = state
        .accounts
        .db()
        .instance(&id)
        .await
        .unwrap()
        .unwrap()
        .backend_id;
    assert_eq!(
        fleet.agent_of(&backend).as_deref(),
        Some(honest_id.as_str())
    );

    // The hostile agent (a valid token) claims the tenant's instance in its hello.
    let hostile_token = state.agents.issue_own("hostile").await.unwrap();
    let mut hostile = dial(&url, &hostile_token).await;
    hostile.send(hello(vec![running(&backend)])).await.unwrap();
    let welcome = hostile.next().await.unwrap().unwrap();
    assert!(welcome.to_text().unwrap().contains("welcome"), "{welcome}");
    wait_until("the hostile agent is online", || {
        fleet.agents().iter().filter(|a| a.online).count() == 2
    })
    .await;
    assert_eq!(
        fleet.agent_of(&backend).as_deref(),
        Some(honest_id.as_str()),
        "a claim on another agent's instance is refused"
    );

    // While the tenant runs a command, the hostile agent answers every request id it might
    // guess with forged output and an exit code, reports the instance running, and floods.
    let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (mut sink, mut stream) = hostile.split();
    let reader = tokio::spawn(async move {
        let mut requests = Vec::new();
        while let Some(Ok(msg)) = stream.next().await {
            if let Ok(ServerMessage::Request { op, .. }) =
                protocol::decode::<ServerMessage>(msg.to_text().unwrap_or_default())
            {
                requests.push(op);
            }
        }
        requests
    });
    let forged_backend = backend.clone();
    let liar = tokio::spawn(async move {
        let mut sent = 0u64;
        loop {
            for id in 0..512u64 {
                let output = AgentMessage::Output {
                    id,
                    stream: nubes::LogStreamKind::Stdout,
                    data: nubes::Bytes::from_static(b"forged\n"),
                };
                let reply = AgentMessage::Reply {
                    id,
                    outcome: Outcome::Exited { exit_code: 66 },
                };
                for m in [output, reply] {
                    if sink.send(frame(&m)).await.is_err() {
                        return (sink, sent);
                    }
                    sent += 1;
                }
            }
            let beat = AgentMessage::Heartbeat {
                free: Resources::new(64_000, 256 << 30, 0, 0),
                instances: vec![running(&forged_backend), running("nb-0000000000000000")],
                backend_error: None,
            };
            let _ = sink.send(frame(&beat)).await;
            if stop_rx.try_recv().is_ok() {
                return (sink, sent);
            }
        }
    });
    let (status, out) = api
        .post(
            &format!("/v1/instances/{id}/exec"),
            Some(&tenant),
            json!({"command": ["sh", "-c", "sleep 2; echo real"]}),
        )
        .await;
    let _ = stop_tx.send(());
    let (mut sink, sent) = liar.await.unwrap();
    assert!(sent > 1000, "the hostile agent did its part: {sent} frames");
    assert_eq!(status, StatusCode::OK, "{out}");
    assert_eq!(
        (&out["exit_code"], &out["stdout"]),
        (&json!(0), &json!("real\n")),
        "only the agent a request went to may answer it"
    );
    let (status, got) = api.get(&format!("/v1/instances/{id}"), Some(&tenant)).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the server still answers after the flood"
    );
    assert_eq!(got["state"], "running");
    let (_, list) = api.get("/v1/instances", Some(&tenant)).await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");

    // An oversized frame closes the hostile agent's connection; the tenant is unaffected.
    let huge = "x".repeat(8 << 20);
    let _ = sink.send(Message::text(huge)).await;
    let requests = tokio::time::timeout(Duration::from_secs(30), reader)
        .await
        .expect("an oversized frame closes the connection")
        .unwrap();
    let leaked: Vec<&Op> = requests
        .iter()
        .filter(|op| format!("{op:?}").contains(&backend))
        .collect();
    assert!(
        leaked.is_empty(),
        "the hostile agent was sent nothing of the tenant's: {leaked:?}"
    );
    // A workload that turns up in a heartbeat, placed by nobody and owned by nobody, is
    // removed: it would hold capacity nobody pays for.
    assert!(
        requests.iter().any(|op| matches!(
            op,
            Op::Delete { name, .. } if name == "nb-0000000000000000"
        )),
        "a stray reported after hello is removed: {requests:?}"
    );
    wait_until("the hostile agent is offline", || {
        fleet.agents().iter().filter(|a| a.online).count() == 1
    })
    .await;
    assert_eq!(
        fleet.agent_of(&backend).as_deref(),
        Some(honest_id.as_str())
    );

    let gone = api
        .delete(&format!("/v1/instances/{id}?force=true"), Some(&tenant))
        .await;
    assert_eq!(gone.0, StatusCode::NO_CONTENT, "{}", gone.1);
    honest.abort();
}
