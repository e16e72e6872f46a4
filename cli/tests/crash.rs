//! A server killed (SIGKILL) in the middle of twenty creates, on SQLite and the real Docker
//! Engine, with and without billing. After a restart: every instance the API lists runs, every
//! container the server made belongs to a listed instance, and each listed instance was paid
//! for once while every create that did not survive costs nothing.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

fn image() -> String {
    std::env::var("NUBES_TEST_IMAGE").unwrap_or_else(|_| "nubes-test/busybox:latest".into())
}

fn serve(data: &std::path::Path, billing: bool) -> (Child, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cloudctl"));
    cmd.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--compute",
        "docker://",
        "--data-dir",
    ])
    .arg(data);
    if billing {
        cmd.arg("--billing");
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("serve printed its address").unwrap();
        if let Some(a) = line.strip_prefix("listening on http://") {
            break a.to_string();
        }
    };
    // Keep reading what it prints, so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, addr)
}

/// One HTTP/1.1 request; `None` when the connection broke (the server was killed).
fn call(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> Option<(u16, Value)> {
    let body = body.to_string();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    write!(s, "{method} {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).ok()?;
    let mut response = String::new();
    s.read_to_string(&mut response).ok()?;
    let status = response.get(9..12)?.parse().ok()?;
    let json = serde_json::from_str(response.split_once("\r\n\r\n")?.1).unwrap_or(Value::Null);
    Some((status, json))
}

fn login(addr: &str) -> String {
    let creds = json!({"email": "kim@example.com", "password": "correct horse battery"});
    let (status, tokens) = call(addr, "POST", "/v1/auth/login", None, creds).unwrap();
    assert_eq!(status, 200, "{tokens}");
    tokens["access_token"].as_str().unwrap().to_string()
}

fn containers() -> Vec<String> {
    let out = Command::new("docker")
        .args([
            "ps",
            "-a",
            "--filter",
            "label=io.nubes.managed=true",
            "--format",
            "{{.Names}} {{.State}}",
        ])
        .output()
        .unwrap();
    // The kubelet's containers carry their pods' labels too: those belong to the Kubernetes
    // tests, and the kubelet removes them on its own schedule.
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with("k8s_"))
        .map(str::to_string)
        .collect()
}

fn killed_mid_create(billing: bool) {
    let dir = tempfile::tempdir().unwrap();
    let before = containers();
    let (mut server, addr) = serve(dir.path(), billing);
    let creds = json!({"email": "kim@example.com", "password": "correct horse battery"});
    assert_eq!(
        call(&addr, "POST", "/v1/auth/register", None, creds)
            .unwrap()
            .0,
        201
    );
    let token = login(&addr);
    let spec = |i: usize| json!({"name": format!("c{i}"), "image": image(), "command": ["sleep", "600"], "cpus": 0.05, "memory": 16 << 20});
    let due: f64 = if billing {
        let (_, dry) = call(
            &addr,
            "POST",
            "/v1/instances/dry-run",
            Some(&token),
            spec(0),
        )
        .unwrap();
        dry["due_now"].as_str().unwrap().parse().unwrap()
    } else {
        0.0
    };

    // Twenty creates at once; the server dies once two have answered.
    let answered = Arc::new(AtomicUsize::new(0));
    let creates: Vec<_> = (0..20)
        .map(|i| {
            let (addr, token, answered, body) =
                (addr.clone(), token.clone(), answered.clone(), spec(i));
            std::thread::spawn(move || {
                let res = call(&addr, "POST", "/v1/instances", Some(&token), body);
                if res.is_some() {
                    answered.fetch_add(1, Ordering::SeqCst);
                }
                res
            })
        })
        .collect();
    let started = Instant::now();
    while answered.load(Ordering::SeqCst) < 2 && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(5));
    }
    server.kill().unwrap();
    server.wait().unwrap();
    let made: Vec<_> = creates
        .into_iter()
        .filter_map(|t| t.join().unwrap())
        .filter(|(status, _)| *status == 201)
        .collect();

    let (mut server, addr) = serve(dir.path(), billing);
    let token = login(&addr);
    let (status, list) = call(&addr, "GET", "/v1/instances", Some(&token), Value::Null).unwrap();
    assert_eq!(status, 200, "{list}");
    let list = list.as_array().unwrap().clone();
    assert!(
        list.len() >= made.len(),
        "every create that answered 201 survived: {list:?}"
    );
    let mut backends = Vec::new();
    for i in &list {
        assert_eq!(
            i["state"], "running",
            "after recovery every instance runs: {i}"
        );
        backends.push(format!("nb-{}", &i["id"].as_str().unwrap()[..16]));
    }
    let now = containers();
    for c in now.iter().filter(|c| !before.contains(c)) {
        let name = c.split_whitespace().next().unwrap();
        assert!(
            backends.iter().any(|b| b == name),
            "a container nobody owns: {c} (owned: {backends:?})"
        );
    }
    if billing {
        let (_, b) = call(
            &addr,
            "GET",
            "/v1/billing/balance",
            Some(&token),
            Value::Null,
        )
        .unwrap();
        let balance: f64 = b["credits"].as_str().unwrap().parse().unwrap();
        let expected = 15.0 - due * list.len() as f64;
        assert!(
            (balance - expected).abs() < 1e-6,
            "paid once per surviving instance ({} of them at {due}): {balance}, not {expected}",
            list.len()
        );
    }
    for i in &list {
        let path = format!("/v1/instances/{}?force=true", i["id"].as_str().unwrap());
        assert_eq!(
            call(&addr, "DELETE", &path, Some(&token), Value::Null)
                .unwrap()
                .0,
            204
        );
    }
    server.kill().unwrap();
    server.wait().unwrap();
}

/// One test, so the two runs never share the engine at once (a container of one would look
/// like a stray to the other).
#[test]
fn a_server_killed_mid_create_recovers() {
    killed_mid_create(false);
    killed_mid_create(true);
}
