//! Agent connections at scale: memory per idle agent connection on the server, and the command
//! round trip, with 1000 simulated agents, against a raw tokio-tungstenite echo server measured
//! in the same run. Each server runs as a child process (this binary, in another role), so its
//! resident memory is its own.
//!
//! The Nubes round trip is `GET /v1/instances/{instance}` on a fleet instance: HTTP, authentication and
//! tenancy on the server, then a `get` request to the simulated agent over its WebSocket and the
//! reply. The echo round trip is one WebSocket message there and back.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use nubes_agent::protocol::{self, AgentMessage, Hello, Op, Outcome, ServerMessage};
use nubes_agent::Resources;
use nubes_testing::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

const AGENTS: usize = 1000;
const ROUND_TRIPS: usize = 2000;

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    match std::env::var("NUBES_BENCH_ROLE").as_deref() {
        Ok("echo") => rt.block_on(echo_server()),
        Ok("nubes") => rt.block_on(nubes_server()),
        _ => rt.block_on(drive()),
    }
}

/// A plain WebSocket echo server: the least a server holding connections can cost.
async fn echo_server() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("listening on {}", listener.local_addr().unwrap());
    loop {
        let (tcp, _) = listener.accept().await.unwrap();
        tokio::spawn(async move {
            let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                return;
            };
            while let Some(Ok(msg)) = ws.next().await {
                if msg.is_text() && ws.send(msg).await.is_err() {
                    break;
                }
            }
        });
    }
}

/// The Nubes server with the fleet, on SQLite in a temporary directory.
async fn nubes_server() {
    let dir = tempfile::tempdir().unwrap();
    let config = nubes_server::Config {
        database_url: format!("sqlite://{}", dir.path().join("nubes.db").display()),
        compute: Some("fleet://".into()),
        // The simulated agents all dial from loopback, like a rack behind one NAT.
        bounds: nubes_server::bounds::Bounds {
            connections_per_address: 2 * AGENTS,
            ..Default::default()
        },
        ..Default::default()
    };
    let state = nubes_server::state(&config).await.unwrap();
    let admin = state
        .accounts
        .bootstrap_admin("admin@bench.local")
        .await
        .unwrap()
        .unwrap();
    println!("password {}", admin.password);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("listening on {}", listener.local_addr().unwrap());
    nubes_server::serve(listener, state).await.unwrap();
}

/// Starts this binary in `role`; returns it and the lines it printed up to its address.
fn spawn(role: &str) -> (Child, String, Vec<String>) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env("NUBES_BENCH_ROLE", role)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    let addr = loop {
        let line = lines.next().unwrap().unwrap();
        if let Some(a) = line.strip_prefix("listening on ") {
            break a.to_string();
        }
        printed.push(line);
    };
    (child, addr, printed)
}

/// Resident memory of a process, in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap()
        * 1024
}

fn quantile(mut v: Vec<Duration>, q: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * q).round() as usize]
}

struct Measured {
    bytes_per_conn: f64,
    p50: Duration,
    p99: Duration,
}

/// Stops the server `child`; what it cost: `grew` bytes for the idle connections, and `times`.
fn finish(mut child: Child, grew: u64, times: Vec<Duration>) -> Measured {
    child.kill().unwrap();
    child.wait().unwrap();
    Measured {
        bytes_per_conn: grew as f64 / AGENTS as f64,
        p50: quantile(times.clone(), 0.5),
        p99: quantile(times, 0.99),
    }
}

async fn drive() {
    println!(
        "Agent connections: {AGENTS} idle connections, {ROUND_TRIPS} sequential round trips\n"
    );
    let echo = measure_echo().await;
    let nubes = measure_nubes().await;
    println!("| | memory per idle connection | round trip p50 | round trip p99 |");
    println!("|---|---|---|---|");
    for (name, m) in [
        ("raw tokio-tungstenite echo", &echo),
        ("Nubes fleet (agent protocol)", &nubes),
    ] {
        println!(
            "| {name} | {:.1} KiB | {:?} | {:?} |",
            m.bytes_per_conn / 1024.0,
            m.p50,
            m.p99
        );
    }
    println!(
        "| ratio (Nubes / raw) | {:.2} | {:.2} | {:.2} |",
        nubes.bytes_per_conn / echo.bytes_per_conn,
        nubes.p50.as_secs_f64() / echo.p50.as_secs_f64(),
        nubes.p99.as_secs_f64() / echo.p99.as_secs_f64()
    );
}

async fn measure_echo() -> Measured {
    let (child, addr, _) = spawn("echo");
    let before = rss(child.id());
    let mut held = Vec::with_capacity(AGENTS);
    for _ in 0..AGENTS {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/"))
            .await
            .unwrap();
        held.push(ws);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = rss(child.id());
    let mut times = Vec::with_capacity(ROUND_TRIPS);
    for i in 0..ROUND_TRIPS {
        let ws = &mut held[i % AGENTS];
        let started = Instant::now();
        ws.send(Message::text("ping")).await.unwrap();
        ws.next().await.unwrap().unwrap();
        times.push(started.elapsed());
    }
    finish(child, after.saturating_sub(before), times)
}

/// A simulated agent: hello, then answers every request from a template instance.
async fn simulated_agent(addr: String, token: String, name: String) {
    let mut req = format!("ws://{addr}/v1/agents/connect")
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let (mut sink, mut stream) = ws.split();
    let hello = Hello {
        version: protocol::VERSION,
        name,
        capacity: Resources::new(4000, 8 << 30, 0, 0),
        providers: ["docker".to_string()].into(),
        labels: Default::default(),
        os: "linux".into(),
        arch: "x86_64".into(),
        instances: Vec::new(),
        consoles: Vec::new(),
    };
    sink.send(nubes_agent::agent::frame(&AgentMessage::Hello(hello)))
        .await
        .unwrap();
    let mut instances = std::collections::HashMap::new();
    while let Some(Ok(Message::Text(text))) = stream.next().await {
        let Ok(ServerMessage::Request { id, op }) = protocol::decode::<ServerMessage>(&text) else {
            continue;
        };
        let outcome = match op {
            Op::Create { spec } => {
                let mut i = nubes::Instance::new(&spec.name, &spec.name, "docker");
                i.state = nubes::InstanceState::Running;
                i.image = spec.image.clone();
                i.cpus = spec.cpus;
                i.memory = spec.memory;
                instances.insert(spec.name.clone(), i.clone());
                Outcome::Instance { instance: i }
            }
            Op::Get { name } => match instances.get(&name) {
                Some(i) => Outcome::Instance {
                    instance: i.clone(),
                },
                None => Outcome::failed(&nubes::Error::not_found("no such instance")),
            },
            _ => Outcome::failed(&nubes::Error::unsupported("simulated")),
        };
        let reply = AgentMessage::Reply { id, outcome };
        if sink.send(nubes_agent::agent::frame(&reply)).await.is_err() {
            break;
        }
    }
}

async fn measure_nubes() -> Measured {
    let (child, addr, printed) = spawn("nubes");
    let password = printed
        .iter()
        .find_map(|l| l.strip_prefix("password "))
        .unwrap()
        .to_string();
    let http = reqwest::Client::new();
    let base = format!("http://{addr}");
    let tokens = json(
        http.post(format!("{base}/v1/auth/login"))
            .json(&serde_json::json!({"email": "admin@bench.local", "password": password})),
    )
    .await;
    let admin = tokens["access_token"].as_str().unwrap().to_string();
    let mut agent_tokens = Vec::with_capacity(AGENTS);
    for i in 0..AGENTS {
        let a = json(
            http.post(format!("{base}/v1/admin/agents"))
                .bearer_auth(&admin)
                .json(&serde_json::json!({"name": format!("sim-{i}")})),
        )
        .await;
        agent_tokens.push(a["token"].as_str().unwrap().to_string());
    }
    let before = rss(child.id());
    let addr = Arc::new(addr);
    for (i, token) in agent_tokens.into_iter().enumerate() {
        tokio::spawn(simulated_agent(addr.to_string(), token, format!("sim-{i}")));
    }
    // Every agent online.
    loop {
        let agents = json(
            http.get(format!("{base}/v1/admin/agents"))
                .bearer_auth(&admin),
        )
        .await;
        let online = agents
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["state"] == "online")
            .count();
        if online == AGENTS {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = rss(child.id());

    let created = json(
        http.post(format!("{base}/v1/instances"))
            .bearer_auth(&admin)
            .json(&serde_json::json!({"name": "probe", "image": "img", "cpus": 1.0, "memory": 1 << 28})),
    )
    .await;
    let url = format!("{base}/v1/instances/{}", created["id"].as_str().unwrap());
    let mut times = Vec::with_capacity(ROUND_TRIPS);
    for _ in 0..ROUND_TRIPS {
        let started = Instant::now();
        let res = http.get(&url).bearer_auth(&admin).send().await.unwrap();
        assert!(res.status().is_success());
        res.bytes().await.unwrap();
        times.push(started.elapsed());
    }
    finish(child, after.saturating_sub(before), times)
}
