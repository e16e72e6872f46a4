//! A lessor's agent that speaks the protocol and lies, against a live fleet server with an honest
//! agent on the real Docker Engine: it claims a tenant's instance in its hello, forges replies
//! and output for requests it was never sent, reports instances it does not hold as running,
//! floods heartbeats, and sends an oversized frame. None of it reaches the tenant. And an agent
//! scripted for its own account's instances sends pieces over the protocol's size, which cut
//! the stream, while a socket into an instance closes once its user's role no longer allows it.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::{error, user, Socket};
use futures::{SinkExt, StreamExt};
use nubes_agent::agent::frame;
use nubes_agent::protocol::{self, AgentMessage, Hello, Op, Outcome, ServerMessage};
use nubes_agent::Resources;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

fn image() -> String {
    std::env::var("NUBES_TEST_IMAGE").unwrap_or_else(|_| "nubes-test/busybox:latest".into())
}

/// Dials the agent endpoint as the agent of `token`.
async fn dial(url: &str, token: &str) -> Socket {
    common::websocket(url, "/v1/agents/connect", token)
        .await
        .unwrap()
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

/// Opens an interactive exec of `command` in instance `id`, its stdin open when `stdin_open`.
async fn exec_socket(url: &str, id: &str, token: &str, command: &str, stdin_open: bool) -> Socket {
    let mut exec = common::websocket(url, &format!("/v1/instances/{id}/exec"), token)
        .await
        .unwrap();
    let start = json!({"command": [command], "stdin_open": stdin_open});
    exec.send(Message::text(start.to_string())).await.unwrap();
    exec
}

/// What the scripted agent was told: the requests cancelled, and how many stdin pieces came.
#[derive(Default)]
struct Told {
    cancelled: Vec<u64>,
    stdin_pieces: usize,
    execs: Vec<u64>,
}

/// Plays the agent an attacker runs for its own account's instances: creates them as asked,
/// answers the command `flood` with one piece far over the protocol's size, and `hold` with a
/// line of output and then nothing, forever. It never reads stdin on its own; what the test
/// puts on `say` it sends as it is.
fn scripted_agent(
    socket: Socket,
    told: Arc<Mutex<Told>>,
    mut say: tokio::sync::mpsc::UnboundedReceiver<AgentMessage>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let (mut sink, mut stream) = socket.split();
        loop {
            let msg = tokio::select! {
                Some(said) = say.recv() => {
                    if sink.send(frame(&said)).await.is_err() {
                        return;
                    }
                    continue;
                }
                msg = stream.next() => match msg {
                    Some(Ok(msg)) => msg,
                    _ => return,
                },
            };
            let m = match msg {
                Message::Binary(b) => match protocol::decode_piece::<ServerMessage>(b) {
                    Ok(m) => m,
                    Err(_) => continue,
                },
                other => {
                    match protocol::decode::<ServerMessage>(other.to_text().unwrap_or_default()) {
                        Ok(m) => m,
                        Err(_) => continue,
                    }
                }
            };
            let answers = match m {
                ServerMessage::Cancel { id } => {
                    told.lock().unwrap().cancelled.push(id);
                    vec![]
                }
                ServerMessage::Stdin { data: Some(_), .. } => {
                    told.lock().unwrap().stdin_pieces += 1;
                    vec![]
                }
                ServerMessage::Request {
                    id,
                    op: Op::Create { spec },
                } => vec![AgentMessage::Reply {
                    id,
                    outcome: Outcome::Instance {
                        instance: running(&spec.name),
                    },
                }],
                ServerMessage::Request {
                    id,
                    op: Op::Logs { .. },
                } => vec![AgentMessage::Output {
                    id,
                    stream: nubes::LogStreamKind::Stdout,
                    data: nubes::Bytes::from_static(b"alive\n"),
                }],
                ServerMessage::Request {
                    id,
                    op: Op::Exec { request, .. },
                } => {
                    told.lock().unwrap().execs.push(id);
                    let data = match request.command[0].as_str() {
                        "flood" => vec![b'x'; 4 * protocol::CHUNK],
                        _ => b"alive\n".to_vec(),
                    };
                    vec![AgentMessage::Output {
                        id,
                        stream: nubes::LogStreamKind::Stdout,
                        data: data.into(),
                    }]
                }
                _ => vec![],
            };
            for a in answers {
                if sink.send(frame(&a)).await.is_err() {
                    return;
                }
            }
        }
    })
}

/// A fleet server with the scripted agent online on it.
struct Scripted {
    url: String,
    api: common::Api,
    told: Arc<Mutex<Told>>,
    say: tokio::sync::mpsc::UnboundedSender<AgentMessage>,
    agent: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

async fn scripted_fleet() -> Scripted {
    let dir = tempfile::tempdir().unwrap();
    let config = nubes_server::Config {
        database_url: format!("sqlite://{}", dir.path().join("nubes.db").display()),
        compute: Some("fleet://".into()),
        ..Default::default()
    };
    let (state, url, api, fleet) = common::live_fleet(&config).await;
    let token = state.agents.issue_own("scripted").await.unwrap();
    let mut socket = dial(&url, &token).await;
    socket.send(hello(Vec::new())).await.unwrap();
    let welcome = socket.next().await.unwrap().unwrap();
    assert!(welcome.to_text().unwrap().contains("welcome"), "{welcome}");
    wait_until("the agent is online", || {
        fleet.agents().iter().any(|a| a.online)
    })
    .await;
    let told = Arc::new(Mutex::new(Told::default()));
    let (say, said) = tokio::sync::mpsc::unbounded_channel();
    let agent = scripted_agent(socket, told.clone(), said);
    Scripted {
        url,
        api,
        told,
        say,
        agent,
        _dir: dir,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_agent_cannot_flood_a_stream_nor_a_socket_outlast_a_role() {
    let Scripted {
        url,
        api,
        told,
        agent,
        _dir,
        ..
    } = scripted_fleet().await;

    // Bob operates an instance of Alice's organization, placed on that agent.
    let alice = user(&api, "alice@example.com").await;
    let bob = user(&api, "bob@example.com").await;
    let org = common::org(&api, &alice, "Acme").await;
    let code = common::invite(&api, &org, &alice, json!({"role": "member"})).await;
    let (status, joined) = api
        .post("/v1/orgs/join", Some(&bob), json!({"code": code}))
        .await;
    assert_eq!(status, StatusCode::OK, "{joined}");
    let (status, made) = api
        .post(
            "/v1/instances",
            Some(&bob),
            json!({"name": "box", "image": image(), "org_id": org}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let id = made["id"].as_str().unwrap().to_string();

    // A piece four times the protocol's size cuts the stream: the server never holds a
    // backlog of such pieces, and the agent is told to stop.
    let (status, out) = api
        .post(
            &format!("/v1/instances/{id}/exec"),
            Some(&bob),
            json!({"command": ["flood"]}),
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{out}");
    assert!(
        out["error"]["message"]
            .as_str()
            .unwrap()
            .contains("over the protocol's"),
        "{out}"
    );

    // An interactive exec lasts only as long as Bob may operate the instance.
    let mut exec = exec_socket(&url, &id, &bob, "hold", false).await;
    match tokio::time::timeout(Duration::from_secs(30), exec.next()).await {
        Ok(Some(Ok(Message::Binary(b)))) => assert_eq!(&b[1..], b"alive\n"),
        other => panic!("the held command's output: {other:?}"),
    }
    common::set_role(&api, &org, &alice, "bob@example.com", "viewer").await;
    let ended = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match exec.next().await {
                Some(Ok(Message::Binary(_) | Message::Ping(_) | Message::Pong(_))) => {}
                end => return end,
            }
        }
    })
    .await
    .expect("a viewer's exec ends within a check or two");
    let Some(Ok(Message::Text(end))) = ended else {
        panic!("the exec ends saying why: {ended:?}")
    };
    let end: serde_json::Value = serde_json::from_str(&end).unwrap();
    assert_eq!(end["error"]["kind"], "permission_denied", "{end}");
    assert_eq!(end["exit_code"], serde_json::Value::Null, "{end}");
    error(
        &api.post(
            &format!("/v1/instances/{id}/exec"),
            Some(&bob),
            json!({"command": ["hold"]}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "permission_denied",
    );

    // A viewer may still follow the logs, but only while signed in.
    let following = tokio::spawn({
        let (api, path, bob) = (
            api.clone(),
            format!("/v1/instances/{id}/logs?follow=true"),
            bob.clone(),
        );
        async move { api.send_raw("GET", &path, Some(&bob), &[], "").await }
    });
    // Signed out once the request is in; the first check is seconds off, after the output.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, _) = api.post("/v1/auth/logout", Some(&bob), json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let followed = tokio::time::timeout(Duration::from_secs(20), following)
        .await
        .expect("following the logs ends with the session")
        .unwrap();
    assert_eq!(followed.status, StatusCode::OK);
    assert_eq!(&followed.body[..], b"alive\n");

    // The three streams were cancelled on the agent: the flood, the demoted viewer's exec, and
    // the signed-out viewer's logs.
    wait_until("three cancels reach the agent", || {
        told.lock().unwrap().cancelled.len() >= 3
    })
    .await;
    agent.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn input_a_command_does_not_read_waits_with_its_caller() {
    let Scripted {
        url,
        api,
        told,
        say,
        agent,
        _dir,
        ..
    } = scripted_fleet().await;
    let alice = user(&api, "alice@example.com").await;
    let (status, made) = api
        .post(
            "/v1/instances",
            Some(&alice),
            json!({"name": "box", "image": image()}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let id = made["id"].as_str().unwrap().to_string();

    // A frame over the limit closes the socket before the server buffers it.
    let mut exec = exec_socket(&url, &id, &alice, "hold", true).await;
    let _ = exec
        .send(Message::Binary(
            vec![0; nubes_api::channel::FRAME_MAX + 1].into(),
        ))
        .await;
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match exec.next().await {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => {}
                _ => return None,
            }
        }
    })
    .await
    .expect("an oversized frame ends the socket");
    assert!(
        matches!(closed, None | Some(1009)),
        "closed with {closed:?}"
    );

    // The command the agent runs never reads its stdin, and the client writes 40 MiB of it: the
    // agent is sent one window's worth and no more; the rest waits with the client.
    let mut exec = exec_socket(&url, &id, &alice, "hold", true).await;
    match tokio::time::timeout(Duration::from_secs(30), exec.next()).await {
        Ok(Some(Ok(Message::Binary(b)))) => assert_eq!(&b[1..], b"alive\n"),
        other => panic!("the held command's output: {other:?}"),
    }
    let request = *told.lock().unwrap().execs.last().unwrap();
    let (mut input, _output) = exec.split();
    let written = Arc::new(Mutex::new(0usize));
    let writer = tokio::spawn({
        let written = written.clone();
        async move {
            for _ in 0..640 {
                let frame = vec![b'x'; nubes_api::channel::FRAME_MAX];
                if input.send(Message::Binary(frame.into())).await.is_err() {
                    return;
                }
                *written.lock().unwrap() += 1;
            }
        }
    });
    let pieces = || told.lock().unwrap().stdin_pieces;
    wait_until("a window of input reaches the agent", || {
        pieces() == protocol::STDIN_WINDOW
    })
    .await;
    // The client is held back, not buffered for: what it managed to write stops growing.
    let stalled = || {
        let written = written.clone();
        let before = *written.lock().unwrap();
        async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            before == *written.lock().unwrap()
        }
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !stalled().await {
        assert!(
            Instant::now() < deadline,
            "the client's writing never stalled"
        );
    }
    assert!(!writer.is_finished(), "all of the client's input was taken");
    assert_eq!(pieces(), protocol::STDIN_WINDOW, "no more than a window");

    // Each piece the agent says it read makes room for one more.
    say.send(AgentMessage::StdinRead {
        id: request,
        pieces: 10,
    })
    .unwrap();
    wait_until("ten more pieces", || {
        pieces() == protocol::STDIN_WINDOW + 10
    })
    .await;
    // An agent claiming to have read more than it was sent gets a window back, not more; a
    // report on a request that does not exist changes nothing.
    say.send(AgentMessage::StdinRead {
        id: request,
        pieces: u32::MAX,
    })
    .unwrap();
    say.send(AgentMessage::StdinRead {
        id: request ^ 1,
        pieces: 1000,
    })
    .unwrap();
    wait_until("a window more", || {
        pieces() == 2 * protocol::STDIN_WINDOW + 10
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(pieces(), 2 * protocol::STDIN_WINDOW + 10);

    writer.abort();
    agent.abort();
}
