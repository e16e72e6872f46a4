//! The fleet end to end: a real server (`cloudctl serve --compute fleet://`) and real agent
//! processes (`cloudctl agent`) on this machine's Docker Engine, each with its own id and
//! capacity. Placement goes to the best agent, a full fleet queues and admits by priority when
//! an instance is deleted, exec through the server returns the real exit code, and forged or
//! revoked agent tokens are refused.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

fn image() -> String {
    std::env::var("NUBES_TEST_IMAGE").unwrap_or_else(|_| "nubes-test/busybox:latest".into())
}

/// One HTTP/1.1 request over a plain socket; the status and the JSON answer.
fn http(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(s, "{method} {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    let (head, rest) = response.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(rest).unwrap_or(Value::Null))
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn cloudctl() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cloudctl"));
    c.env("NUBES_CONFIG", "/nonexistent/nubes-test/config.yaml")
        .env_remove("NUBES_PROVIDER");
    c
}

/// `cloudctl serve` with the fleet; its address and first admin's password.
fn serve(data: &std::path::Path) -> (Killed, String, String) {
    serve_on(data, "127.0.0.1:0")
}

fn serve_on(data: &std::path::Path, listen: &str) -> (Killed, String, String) {
    serve_with(data, listen, &[])
}

fn serve_with(data: &std::path::Path, listen: &str, extra: &[&str]) -> (Killed, String, String) {
    let mut child = cloudctl()
        .args([
            "serve",
            "--listen",
            listen,
            "--compute",
            "fleet://",
            "--function",
            "none",
            "--data-dir",
        ])
        .arg(data)
        .args(extra)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        // The server's log, kept with its data for when a test fails.
        .stderr(Stdio::from(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(data.join("serve.log"))
                .unwrap(),
        ))
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut password = String::new();
    let addr = loop {
        let line = lines.next().expect("serve printed its address").unwrap();
        if let Some(p) = line.strip_prefix("password:") {
            password = p.trim().to_string();
        }
        if let Some(a) = line.strip_prefix("listening on http://") {
            break a.to_string();
        }
    };
    (Killed(child), addr, password)
}

fn agent(addr: &str, token: &str, cpus: &str, memory: &str) -> Killed {
    Killed(
        cloudctl()
            .args([
                "agent",
                "--server",
                &format!("http://{addr}"),
                "--token",
                token,
            ])
            .args(["--cpus", cpus, "--memory", memory])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// A platform admin issues an agent token: the agent's id and its token.
fn issue_agent(addr: &str, admin: &str, name: &str) -> (String, String) {
    let (status, a) = http(
        addr,
        "POST",
        "/v1/admin/agents",
        Some(admin),
        Some(json!({"name": name})),
    );
    assert_eq!(status, 201, "{a}");
    (
        a["id"].as_str().unwrap().to_string(),
        a["token"].as_str().unwrap().to_string(),
    )
}

/// Whether the server counts the agent online.
fn is_online(addr: &str, admin: &str, id: &str) -> bool {
    http(
        addr,
        "GET",
        &format!("/v1/admin/agents/{id}"),
        Some(admin),
        None,
    )
    .1["state"]
        == "online"
}

/// An instance's state as its holder of `token` sees it ("" when it cannot be read).
fn instance_state(addr: &str, token: &str, id: &str) -> String {
    let (_, i) = http(
        addr,
        "GET",
        &format!("/v1/instances/{id}"),
        Some(token),
        None,
    );
    i["state"].as_str().unwrap_or_default().to_string()
}

/// The ids of the tenants' instances on an agent.
fn instance_ids_on(addr: &str, admin: &str, agent: &str) -> Vec<String> {
    let (_, list) = http(
        addr,
        "GET",
        &format!("/v1/admin/agents/{agent}/instances"),
        Some(admin),
        None,
    );
    list.as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect()
}

/// The lines `from` yields, read on a thread so a test can wait for them with a timeout.
/// `cloudctl instance exec -i` of `command` in instance `id` through the server at `addr`, its
/// stdin, stdout and stderr piped.
fn interactive(addr: &str, token: &str, id: &str, command: &[&str]) -> Child {
    cloudctl()
        .args(["--provider", &format!("http://{addr}")])
        .args(["instance", "exec", "-i", id, "--"])
        .args(command)
        .env("NUBES_TOKEN", token)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn lines_of(from: impl Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// A loopback address with a free port, for a server restarted where its agents expect it.
fn free_listen() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("127.0.0.1:{port}")
}

/// `cloudctl` against the server as the holder of `token`; its stdout, after it succeeded.
fn cli_ok(addr: &str, token: &str, args: &[&str]) -> String {
    let out = cloudctl()
        .args(["--provider", &format!("http://{addr}")])
        .args(args)
        .env("NUBES_TOKEN", token)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cloudctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Deletes instance `id` at once as the holder of `token`.
#[track_caller]
fn force_delete(addr: &str, token: &str, id: &str) {
    let path = format!("/v1/instances/{id}?force=true");
    let (status, body) = http(addr, "DELETE", &path, Some(token), None);
    assert_eq!(status, 204, "{body}");
}

/// A server (with `extra` flags) and one agent online on it.
struct OneAgent {
    addr: String,
    admin: String,
    agent_id: String,
    _lessor: Killed,
    _server: Killed,
    _dir: tempfile::TempDir,
}

fn one_agent(extra: &[&str], name: &str, cpus: &str, memory: &str) -> OneAgent {
    let dir = tempfile::tempdir().unwrap();
    let (server, addr, password) = serve_with(dir.path(), "127.0.0.1:0", extra);
    let admin = login(&addr, "admin@nubes.local", &password);
    let (agent_id, token) = issue_agent(&addr, &admin, name);
    let lessor = agent(&addr, &token, cpus, memory);
    wait_for("the agent online", || is_online(&addr, &admin, &agent_id));
    OneAgent {
        addr,
        admin,
        agent_id,
        _lessor: lessor,
        _server: server,
        _dir: dir,
    }
}

/// `docker ARGS`, which must succeed; its stdout.
#[track_caller]
fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn login(addr: &str, email: &str, password: &str) -> String {
    let (status, tokens) = http(
        addr,
        "POST",
        "/v1/auth/login",
        None,
        Some(json!({"email": email, "password": password})),
    );
    assert_eq!(status, 200, "{tokens}");
    tokens["access_token"].as_str().unwrap().to_string()
}

#[test]
fn agents_take_placements_queue_by_priority_and_exec_through_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, addr, password) = serve(dir.path());
    let admin = login(&addr, "admin@nubes.local", &password);
    let issue = |name: &str| issue_agent(&addr, &admin, name);
    let (small_id, small_token) = issue("small");
    let (big_id, big_token) = issue("big");
    let (_admin_events, admin_rx) = watch(&addr, &admin);
    // The subscription is up once its socket is: wait for the server to count it.
    std::thread::sleep(Duration::from_millis(500));
    // Docker will not give a container more cpus than the host has (2 here), so the fleet is
    // sized within that.
    let mut small = agent(&addr, &small_token, "1", "1G");
    let _big = agent(&addr, &big_token, "2", "2G");
    let online = |id: &str| is_online(&addr, &admin, id);
    wait_for("both agents online", || {
        online(&small_id) && online(&big_id)
    });
    let (seen, events) = until(&admin_rx, Duration::from_secs(10), |e| {
        e["kind"] == "agent.online" && e["agent_id"] == big_id.as_str()
    });
    assert!(seen, "admins see agents come online: {events:?}");

    // A tenant, who is not an admin.
    let creds = json!({"email": "tenant@example.com", "password": "correct horse battery"});
    assert_eq!(
        http(&addr, "POST", "/v1/auth/register", None, Some(creds)).0,
        201
    );
    let user = login(&addr, "tenant@example.com", "correct horse battery");
    let create = |name: &str, cpus: f64, priority: i32| {
        let body = json!({"name": name, "image": image(), "cpus": cpus, "memory": 64 << 20,
            "command": ["sh", "-c", "echo up; exec sleep 600"], "priority": priority});
        let (status, i) = http(&addr, "POST", "/v1/instances", Some(&user), Some(body));
        assert_eq!(status, 201, "{i}");
        i
    };
    let on = |agent: &str| -> Vec<String> {
        let (_, list) = http(
            &addr,
            "GET",
            &format!("/v1/admin/agents/{agent}/instances"),
            Some(&admin),
            None,
        );
        list.as_array()
            .unwrap()
            .iter()
            .map(|i| i["name"].as_str().unwrap().to_string())
            .collect()
    };

    // Bin-pack: 0.75 cpus fill the small agent tighter; the next 0.75 only fit on the big one.
    let first = create("first", 0.75, 0);
    assert_eq!(first["state"], "running", "{first}");
    assert_eq!(on(&small_id), ["first"]);
    let second = create("second", 0.75, 0);
    assert_eq!(on(&big_id), ["second"], "{second}");

    // Exec goes through the server to the agent and back with the real exit code.
    let id = first["id"].as_str().unwrap();
    let (status, out) = http(
        &addr,
        "POST",
        &format!("/v1/instances/{id}/exec"),
        Some(&user),
        Some(json!({"command": ["sh", "-c", "echo hi; echo oops >&2; exit 7"]})),
    );
    assert_eq!(status, 200, "{out}");
    assert_eq!(
        (
            out["exit_code"].as_i64(),
            out["stdout"].as_str(),
            out["stderr"].as_str()
        ),
        (Some(7), Some("hi\n"), Some("oops\n"))
    );

    // Interactively with cloudctl: each line comes back through the server and the agent while
    // stdin is still open, and the command's exit code is cloudctl's.
    let mut cat = interactive(&addr, &user, id, &["cat"]);
    let mut input = cat.stdin.take().unwrap();
    let lines = lines_of(cat.stdout.take().unwrap());
    for line in ["one", "two"] {
        writeln!(input, "{line}").unwrap();
        input.flush().unwrap();
        let echoed = lines.recv_timeout(Duration::from_secs(30));
        assert_eq!(echoed.as_deref(), Ok(line), "echoed while stdin is open");
    }
    drop(input);
    assert_eq!(exit_code(&mut Killed(cat)), Some(0));
    // Many times the agent protocol's stdin window: the agent reports what the command read,
    // and the server sends the rest as it does.
    let bulk = 3 * nubes_agent::protocol::STDIN_WINDOW * nubes_agent::protocol::CHUNK + 7;
    let mut wc = interactive(&addr, &user, id, &["wc", "-c"]);
    let mut input = wc.stdin.take().unwrap();
    let feeding = std::thread::spawn(move || input.write_all(&vec![b'x'; bulk]));
    let counted = lines_of(wc.stdout.take().unwrap()).recv_timeout(Duration::from_secs(60));
    assert_eq!(
        counted.as_deref().map(str::trim),
        Ok(bulk.to_string().as_str())
    );
    feeding.join().unwrap().unwrap();
    assert_eq!(exit_code(&mut Killed(wc)), Some(0));
    let failing = cloudctl()
        .args(["--provider", &format!("http://{addr}")])
        .args([
            "instance",
            "exec",
            id,
            "--",
            "sh",
            "-c",
            "echo partial; exit 7",
        ])
        .env("NUBES_TOKEN", &user)
        .output()
        .unwrap();
    assert_eq!(failing.status.code(), Some(7));
    assert_eq!(String::from_utf8_lossy(&failing.stdout), "partial\n");

    // The fleet is full for 1.5 cpus: both wait, the higher priority first.
    let low = create("low", 1.5, 0);
    let high = create("high", 1.5, 5);
    assert_eq!(
        (low["state"].as_str(), high["state"].as_str()),
        (Some("queued"), Some("queued"))
    );
    let too_big = http(
        &addr,
        "POST",
        "/v1/instances",
        Some(&user),
        Some(json!({"name": "huge", "image": image(), "cpus": 64.0})),
    );
    assert_eq!(
        too_big.0, 403,
        "a request no agent could ever hold is refused: {}",
        too_big.1
    );

    // Live events: the tenant sees their instance admitted; another user sees nothing of it.
    let other = json!({"email": "other@example.com", "password": "correct horse battery"});
    assert_eq!(
        http(&addr, "POST", "/v1/auth/register", None, Some(other)).0,
        201
    );
    let other = login(&addr, "other@example.com", "correct horse battery");
    let (_tenant_events, tenant_rx) = watch(&addr, &user);
    let (_other_events, other_rx) = watch(&addr, &other);
    std::thread::sleep(Duration::from_millis(500));

    // Deleting "second" frees the big agent: "high" is admitted at once, "low" still waits.
    let second_id = second["id"].as_str().unwrap();
    force_delete(&addr, &user, second_id);
    let state = |i: &Value| instance_state(&addr, &user, i["id"].as_str().unwrap());
    wait_for("high admitted", || state(&high) == "running");
    assert_eq!(state(&low), "queued");
    assert_eq!(on(&big_id), ["high"]);
    // Both, in whichever order they come: the admission is relayed from the fleet.
    let wanted = [
        ("instance.admitted", "high"),
        ("instance.deleted", "second"),
    ];
    let seen_all = std::cell::RefCell::new(Vec::new());
    let (seen, events) = until(&tenant_rx, Duration::from_secs(10), |e| {
        let mut got = seen_all.borrow_mut();
        got.extend(
            wanted
                .iter()
                .filter(|(k, n)| e["kind"] == *k && e["name"] == *n),
        );
        wanted.iter().all(|w| got.contains(&w))
    });
    assert!(
        seen,
        "the tenant sees the admission and the delete: {events:?}"
    );
    let (_, leaked) = until(&other_rx, Duration::from_millis(500), |_| false);
    assert!(leaked.is_empty(), "another tenant saw: {leaked:?}");

    // `instance create --wait` returns once a queued instance runs: with "low" gone, "waiter"
    // waits behind "high" and runs when "high" is deleted.
    let low_id = low["id"].as_str().unwrap().to_string();
    assert_eq!(
        http(
            &addr,
            "DELETE",
            &format!("/v1/instances/{low_id}"),
            Some(&user),
            None
        )
        .0,
        204
    );
    let waiter = cloudctl()
        .args([
            "--provider",
            &format!("http://{addr}"),
            "-o",
            "json",
            "instance",
            "create",
            "waiter",
        ])
        .args([
            "--image",
            &image(),
            "--cpus",
            "1.5",
            "--memory",
            "64Mi",
            "--wait",
            "--",
            "sleep",
            "600",
        ])
        .env("NUBES_TOKEN", &user)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("waiter queued", || {
        let (_, list) = http(&addr, "GET", "/v1/instances", Some(&user), None);
        list.as_array()
            .unwrap()
            .iter()
            .any(|i| i["name"] == "waiter" && i["state"] == "queued")
    });
    let high_id = high["id"].as_str().unwrap().to_string();
    force_delete(&addr, &user, &high_id);
    let out = waiter.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let waited: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(waited["state"], "running", "{waited}");

    // A forged token is refused at the upgrade: the agent exits with the unauthenticated code.
    let mut forged = agent(&addr, "nbg_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "1", "1G");
    assert_eq!(exit_code(&mut forged), Some(8));

    // What runs on the small agent, to clean up after it is revoked.
    let (_, stranded) = http(
        &addr,
        "GET",
        &format!("/v1/admin/agents/{small_id}/instances"),
        Some(&admin),
        None,
    );
    let stranded = stranded[0]["backend_id"].as_str().unwrap().to_string();

    // Revoking the small agent drops its connection; its reconnect is refused (it exits), and
    // its instance shows as unknown rather than silently running.
    assert_eq!(
        http(
            &addr,
            "DELETE",
            &format!("/v1/admin/agents/{small_id}"),
            Some(&admin),
            None
        )
        .0,
        204
    );
    assert_eq!(exit_code(&mut small), Some(8));
    assert_eq!(state(&first), "unknown");

    // Tidy up what still runs on the big agent.
    let (_, list) = http(&addr, "GET", "/v1/instances", Some(&user), None);
    for i in list
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["name"] == "waiter")
    {
        force_delete(&addr, &user, i["id"].as_str().unwrap());
    }
    // The revoked agent left its instance behind on the engine.
    docker(&["rm", "-f", &stranded]);
}

/// `cloudctl events` as the holder of `token`; its lines arrive on the channel.
fn watch(addr: &str, token: &str) -> (Killed, std::sync::mpsc::Receiver<Value>) {
    let mut child = cloudctl()
        .args(["--provider", &format!("http://{addr}"), "events"])
        .env("NUBES_TOKEN", token)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if tx.send(serde_json::from_str(&line).unwrap()).is_err() {
                break;
            }
        }
    });
    (Killed(child), rx)
}

/// Events received until one matches, or the timeout; every one seen is returned.
fn until(
    rx: &std::sync::mpsc::Receiver<Value>,
    timeout: Duration,
    matches: impl Fn(&Value) -> bool,
) -> (bool, Vec<Value>) {
    let deadline = Instant::now() + timeout;
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(e) => {
                let hit = matches(&e);
                seen.push(e);
                if hit {
                    return (true, seen);
                }
            }
            Err(_) => break,
        }
    }
    (false, seen)
}

/// Waits for the process to exit on its own.
fn exit_code(p: &mut Killed) -> Option<i32> {
    let started = Instant::now();
    loop {
        if let Some(s) = p.0.try_wait().unwrap() {
            return s.code();
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the agent stayed connected"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Faults: the server restarted while an agent is connected (it comes back; nothing running or
/// waiting is lost), an agent killed and restarted (its instances show unknown meanwhile, then are
/// reconciled: one removed behind its back is marked lost), and a workload nobody owns removed.
#[test]
fn restarts_and_reconnects_are_reconciled() {
    let dir = tempfile::tempdir().unwrap();
    // A fixed port, so the agent finds the restarted server where it left it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let (server, addr, password) = serve_on(dir.path(), &listen);
    let admin = login(&addr, "admin@nubes.local", &password);
    let (agent_id, token) = issue_agent(&addr, &admin, "solo");
    let mut lessor = agent(&addr, &token, "2", "1G");
    let online = |addr: &str| is_online(addr, &admin, &agent_id);
    wait_for("the agent online", || online(&addr));
    let create = |name: &str, cpus: f64| {
        let body = json!({"name": name, "image": image(), "cpus": cpus, "memory": 64 << 20, "command": ["sleep", "600"]});
        let (status, i) = http(&addr, "POST", "/v1/instances", Some(&admin), Some(body));
        assert_eq!(status, 201, "{i}");
        i["id"].as_str().unwrap().to_string()
    };
    let state = |id: &str| instance_state(&addr, &admin, id);
    let running = create("running", 1.5);
    let waiting = create("waiting", 1.5);
    assert_eq!(
        (state(&running).as_str(), state(&waiting).as_str()),
        ("running", "queued")
    );

    // The server dies and comes back on the same address: the agent reconnects by itself, what
    // ran is adopted, what waited still waits, and tokens issued before still work.
    drop(server);
    let (_server, addr2, _) = serve_on(dir.path(), &listen);
    assert_eq!(addr2, addr);
    wait_for("the agent to reconnect", || online(&addr));
    wait_for("the running instance adopted", || {
        state(&running) == "running"
    });
    assert_eq!(state(&waiting), "queued");
    force_delete(&addr, &admin, &running);
    wait_for("the waiting instance admitted", || {
        state(&waiting) == "running"
    });

    // The agent is killed: its instance is unknown, not silently running.
    drop(lessor);
    wait_for("the instance unknown", || state(&waiting) == "unknown");
    // Behind its back the instance's container goes, and a stray workload appears.
    let (_, placed) = http(
        &addr,
        "GET",
        &format!("/v1/admin/agents/{agent_id}/instances"),
        Some(&admin),
        None,
    );
    let backend = placed[0]["backend_id"].as_str().unwrap().to_string();
    docker(&["rm", "-f", &backend]);
    let stray = format!("nb-stray{}", std::process::id());
    let made = cloudctl()
        .args([
            "--provider",
            "docker://",
            "instance",
            "create",
            &stray,
            "--image",
            &image(),
        ])
        .args([
            "--label",
            &format!("nubes-fleet={}", nubes_agent::agent::fleet_tag(&token)),
        ])
        .args(["--", "sleep", "600"])
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    lessor = agent(&addr, &token, "2", "1G");
    wait_for("the agent back", || online(&addr));
    wait_for("the missing instance marked lost", || {
        state(&waiting) == "failed"
    });
    wait_for("the stray removed", || {
        docker(&["ps", "-aq", "--filter", &format!("name={stray}")]).is_empty()
    });
    drop(lessor);
}

/// An agent killed while it creates an instance: the tenant gets the instance (adopted when the
/// agent returns) or a clear 503 and nothing (the container, if it was made, removed as a stray
/// when the agent returns). Never a row without a workload or a workload without a row.
#[test]
fn an_agent_killed_mid_create_leaves_nothing_half_made() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, addr, password) = serve(dir.path());
    let admin = login(&addr, "admin@nubes.local", &password);
    let (agent_id, token) = issue_agent(&addr, &admin, "doomed");
    let online = || is_online(&addr, &admin, &agent_id);
    let lessor = agent(&addr, &token, "1", "1G");
    wait_for("the agent online", online);

    let creating = {
        let (addr, admin) = (addr.clone(), admin.clone());
        std::thread::spawn(move || {
            let body = json!({"name": "victim", "image": image(), "cpus": 0.5, "memory": 64 << 20, "command": ["sleep", "600"]});
            http(&addr, "POST", "/v1/instances", Some(&admin), Some(body))
        })
    };
    std::thread::sleep(Duration::from_millis(150));
    drop(lessor);
    let (status, created) = creating.join().unwrap();
    assert!(status == 201 || status == 503, "{status}: {created}");
    eprintln!("mid-create outcome: {status}");

    let _lessor = agent(&addr, &token, "1", "1G");
    wait_for("the agent back", online);
    let tag = nubes_agent::agent::fleet_tag(&token);
    let on_engine = || {
        docker(&["ps", "-aq", "--filter", &format!("label=nubes-fleet={tag}")])
            .lines()
            .count()
    };
    let (_, list) = http(&addr, "GET", "/v1/instances", Some(&admin), None);
    if status == 201 {
        let id = created["id"].as_str().unwrap();
        let state = || instance_state(&addr, &admin, id);
        wait_for("the instance adopted", || state() == "running");
        assert_eq!(on_engine(), 1);
        force_delete(&addr, &admin, id);
    } else {
        assert_eq!(list, json!([]), "a failed create left a row");
        wait_for("any half-made container removed", || on_engine() == 0);
    }
}

/// Clusters (seed 004): an organization reserves fleet capacity; its deployments count against
/// the reservation and wait inside it, by priority, while others cannot take what it holds back.
/// Only platform admins reserve; nobody deploys into another organization's cluster.
#[test]
fn clusters_reserve_capacity_and_queue_inside_it() {
    let f = one_agent(&[], "pool", "2", "2G");
    let (addr, admin) = (f.addr.clone(), f.admin.clone());
    let user = |email: &str| {
        let creds = json!({"email": email, "password": "correct horse battery"});
        assert_eq!(
            http(&addr, "POST", "/v1/auth/register", None, Some(creds)).0,
            201
        );
        login(&addr, email, "correct horse battery")
    };
    let (owner, member, outsider) = (
        user("owner@example.com"),
        user("member@example.com"),
        user("outsider@example.com"),
    );
    let (status, org) = http(
        &addr,
        "POST",
        "/v1/orgs",
        Some(&owner),
        Some(json!({"name": "Lab"})),
    );
    assert_eq!(status, 201, "{org}");
    let org = org["id"].as_str().unwrap().to_string();
    let (_, invite) = http(
        &addr,
        "POST",
        &format!("/v1/orgs/{org}/invites"),
        Some(&owner),
        Some(json!({})),
    );
    assert_eq!(
        http(
            &addr,
            "POST",
            "/v1/orgs/join",
            Some(&member),
            Some(json!({"code": invite["code"]}))
        )
        .0,
        200
    );

    // A reservation takes capacity from everyone: neither members nor the organization's own
    // admin may make one; a platform admin reserves one of the fleet's two cpus for it.
    let reserve = json!({"org_id": org, "name": "gpu-lab", "cpus": 1.0, "memory": 512 << 20});
    for who in [&member, &owner] {
        let (status, refused) = http(
            &addr,
            "POST",
            "/v1/clusters",
            Some(who),
            Some(reserve.clone()),
        );
        assert_eq!(status, 403, "{refused}");
        assert!(
            refused["error"]["message"]
                .as_str()
                .unwrap()
                .contains("platform admin"),
            "{refused}"
        );
    }
    let (status, cluster) = http(&addr, "POST", "/v1/clusters", Some(&admin), Some(reserve));
    assert_eq!(status, 201, "{cluster}");
    let cluster_id = cluster["id"].as_str().unwrap().to_string();
    let too_much = json!({"org_id": org, "name": "more", "cpus": 1.5, "memory": 1 << 20});
    assert_eq!(
        http(&addr, "POST", "/v1/clusters", Some(&admin), Some(too_much)).0,
        403,
        "the fleet has only one cpu left to reserve"
    );

    let deploy = |token: &str, name: &str, cpus: f64, cluster: Option<&str>, priority: i32| {
        let mut body = json!({"org_id": org, "name": name, "image": image(), "cpus": cpus, "memory": 64 << 20,
            "command": ["sleep", "600"], "priority": priority});
        if let Some(c) = cluster {
            body["cluster_id"] = json!(c);
        }
        http(&addr, "POST", "/v1/instances", Some(token), Some(body))
    };
    // Priority evicts others' work where preemption is on: tenants choose within -10..=10.
    let (status, greedy) = deploy(&member, "greedy", 0.1, None, 11);
    assert_eq!(status, 400, "{greedy}");
    assert!(
        greedy["error"]["message"]
            .as_str()
            .unwrap()
            .contains("-10 to 10"),
        "{greedy}"
    );
    // Inside the cluster: 0.75 runs; 0.5 more does not fit the cluster, so both of these wait,
    // the higher priority first, though the fleet has a free cpu outside the cluster.
    let (status, inside) = deploy(&member, "inside", 0.75, Some(&cluster_id), 0);
    assert_eq!(
        (status, inside["state"].as_str()),
        (201, Some("running")),
        "{inside}"
    );
    let (_, low) = deploy(&member, "low", 0.5, Some(&cluster_id), 0);
    let (_, high) = deploy(&member, "high", 0.5, Some(&cluster_id), 7);
    assert_eq!(
        (low["state"].as_str(), high["state"].as_str()),
        (Some("queued"), Some("queued"))
    );
    let (_, view) = http(
        &addr,
        "GET",
        &format!("/v1/clusters/{cluster_id}"),
        Some(&member),
        None,
    );
    assert_eq!(view["queued"], json!([high["id"], low["id"]]), "{view}");
    assert_eq!(view["used_cpus"], 0.75);
    // Its name addresses it within the organization, like any resource's.
    let (_, by_name) = http(&addr, "GET", "/v1/clusters/gpu-lab", Some(&member), None);
    assert_eq!(by_name["id"], view["id"], "{by_name}");
    let in_org = format!("/v1/clusters/gpu-lab?org_id={org}");
    assert_eq!(
        http(&addr, "GET", &in_org, Some(&member), None).1["id"],
        view["id"]
    );
    assert_eq!(
        http(&addr, "GET", "/v1/clusters/gpu-lab", Some(&outsider), None).0,
        404
    );
    // And deploys into it by name (the fleet is told the cluster's id): the quarter cpu left
    // in it runs this at once, though larger requests wait ahead of it.
    let (status, named) = deploy(&member, "by-name", 0.25, Some("gpu-lab"), 0);
    assert_eq!(
        (status, named["state"].as_str()),
        (201, Some("running")),
        "{named}"
    );
    force_delete(&addr, &member, named["id"].as_str().unwrap());

    // Outside the cluster: the open cpu is there, the reserved one is not.
    let (status, outside) = deploy(&member, "outside", 1.0, None, 0);
    assert_eq!(
        (status, outside["state"].as_str()),
        (201, Some("running")),
        "{outside}"
    );
    let (_, blocked) = deploy(&member, "blocked", 0.25, None, 9);
    assert_eq!(
        blocked["state"], "queued",
        "the cluster's spare capacity was given away: {blocked}"
    );

    // Platform admins see the whole queue in the order it will start, what each waits in, and
    // every cluster with its use; where each running instance is; nobody else sees any of it.
    let (status, queue) = http(&addr, "GET", "/v1/admin/queue", Some(&admin), None);
    assert_eq!(status, 200, "{queue}");
    let waits: Vec<(&str, i64, &serde_json::Value)> = queue
        .as_array()
        .unwrap()
        .iter()
        .map(|q| {
            (
                q["name"].as_str().unwrap(),
                q["priority"].as_i64().unwrap(),
                &q["cluster_id"],
            )
        })
        .collect();
    let in_cluster = json!(cluster_id);
    assert_eq!(
        waits,
        [
            ("blocked", 9, &serde_json::Value::Null),
            ("high", 7, &in_cluster),
            ("low", 0, &in_cluster),
        ],
        "{queue}"
    );
    assert_eq!(queue[0]["instance_id"], blocked["id"]);
    assert_eq!(
        (queue[0]["cpus"].as_f64(), queue[0]["memory"].as_u64()),
        (Some(0.25), Some(64 << 20))
    );
    let (status, clusters) = http(&addr, "GET", "/v1/admin/clusters", Some(&admin), None);
    assert_eq!(status, 200, "{clusters}");
    assert_eq!(clusters.as_array().unwrap().len(), 1, "{clusters}");
    assert_eq!(clusters[0]["queued"], json!([high["id"], low["id"]]));
    assert_eq!(clusters[0]["used_cpus"], 0.75);
    let (_, everything) = http(&addr, "GET", "/v1/admin/instances", Some(&admin), None);
    let agent_of = |name: &str| {
        everything
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {everything}"))["agent_id"]
            .clone()
    };
    assert_eq!(agent_of("inside"), json!(f.agent_id));
    assert_eq!(agent_of("outside"), json!(f.agent_id));
    assert_eq!(agent_of("blocked"), serde_json::Value::Null, "{everything}");
    for path in ["/v1/admin/queue", "/v1/admin/clusters"] {
        assert_eq!(
            http(&addr, "GET", path, Some(&owner), None).0,
            403,
            "{path}"
        );
    }

    // Nobody deploys into another organization's cluster: invisible to outsiders, refused for
    // the member's own other organization.
    let (status, _) = deploy(&outsider, "intruder", 0.1, Some(&cluster_id), 0);
    assert_eq!(status, 404);
    let mut personal =
        json!({"name": "elsewhere", "image": image(), "cpus": 0.1, "cluster_id": cluster_id});
    personal["memory"] = json!(64 << 20);
    let (status, e) = http(
        &addr,
        "POST",
        "/v1/instances",
        Some(&member),
        Some(personal),
    );
    assert_eq!(status, 400, "{e}");
    assert_eq!(
        http(
            &addr,
            "GET",
            &format!("/v1/clusters/{cluster_id}"),
            Some(&outsider),
            None
        )
        .0,
        404
    );

    // Cancelling a queued deployment is deleting it; a cluster with work cannot end.
    assert_eq!(
        http(
            &addr,
            "DELETE",
            &format!("/v1/instances/{}", low["id"].as_str().unwrap()),
            Some(&member),
            None
        )
        .0,
        204
    );
    let (_, view) = http(
        &addr,
        "GET",
        &format!("/v1/clusters/{cluster_id}"),
        Some(&member),
        None,
    );
    assert_eq!(view["queued"], json!([high["id"]]));
    assert_eq!(
        http(
            &addr,
            "DELETE",
            &format!("/v1/clusters/{cluster_id}"),
            Some(&owner),
            None
        )
        .0,
        409
    );

    // Freeing the cluster admits its own queue, not the work outside it.
    let delete = |i: &Value| force_delete(&addr, &member, i["id"].as_str().unwrap());
    delete(&inside);
    let state = |i: &Value| instance_state(&addr, &member, i["id"].as_str().unwrap());
    wait_for("the cluster's queue admitted", || state(&high) == "running");
    assert_eq!(state(&blocked), "queued");
    for i in [&high, &outside, &blocked] {
        delete(i);
    }
    // The same through cloudctl: listed for members, bad input refused with its exit code,
    // ended by the admin.
    let cli = |token: &str, args: &[&str]| {
        cloudctl()
            .args([
                "--provider",
                &format!("http://{addr}"),
                "-o",
                "json",
                "cluster",
            ])
            .args(args)
            .env("NUBES_TOKEN", token)
            .output()
            .unwrap()
    };
    let listed = cli(&member, &["list"]);
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed[0]["id"], cluster_id.as_str());
    let bad = cli(
        &owner,
        &[
            "create", "x", "--cpus", "-1", "--memory", "1G", "--org", &org,
        ],
    );
    assert_eq!(
        bad.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    let ended = cli(&owner, &["delete", &cluster_id]);
    assert!(
        ended.status.success(),
        "{}",
        String::from_utf8_lossy(&ended.stderr)
    );
    assert_eq!(
        http(
            &addr,
            "GET",
            &format!("/v1/clusters/{cluster_id}"),
            Some(&owner),
            None
        )
        .0,
        404
    );
}

/// Drain: the agent is cordoned and its instances move to another agent under the same id,
/// running again there; new work avoids it until it is uncordoned.
#[test]
fn drain_moves_instances_to_other_agents() {
    let dir = tempfile::tempdir().unwrap();
    let listen = free_listen();
    let (server, addr, password) = serve_on(dir.path(), &listen);
    let admin = login(&addr, "admin@nubes.local", &password);
    // Agents issued and managed with cloudctl, as a platform admin would.
    let issue = |name: &str| {
        let out = cli_ok(&addr, &admin, &["-o", "json", "agent", "issue", name]);
        let a: Value = serde_json::from_str(&out).unwrap();
        (
            a["id"].as_str().unwrap().to_string(),
            a["token"].as_str().unwrap().to_string(),
        )
    };
    let (first_id, first_token) = issue("first");
    let (second_id, second_token) = issue("second");
    let _first = agent(&addr, &first_token, "1", "1G");
    let _second = agent(&addr, &second_token, "1", "1G");
    let online = |id: &str| is_online(&addr, &admin, id);
    wait_for("both agents online", || {
        online(&first_id) && online(&second_id)
    });
    let listed: Value =
        serde_json::from_str(&cli_ok(&addr, &admin, &["-o", "json", "agent", "list"])).unwrap();
    let states: Vec<(&str, &str)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["name"].as_str().unwrap(), a["state"].as_str().unwrap()))
        .collect();
    assert_eq!(states.len(), 2, "{listed}");
    assert!(states.iter().all(|(_, s)| *s == "online"), "{listed}");
    let on = |agent: &str| instance_ids_on(&addr, &admin, agent);
    let body = json!({"name": "mover", "image": image(), "cpus": 0.5, "memory": 64 << 20, "command": ["sleep", "600"]});
    let (status, mover) = http(&addr, "POST", "/v1/instances", Some(&admin), Some(body));
    assert_eq!(status, 201, "{mover}");
    let id = mover["id"].as_str().unwrap().to_string();
    let (from, to) = if on(&first_id) == [id.clone()] {
        (&first_id, &second_id)
    } else {
        (&second_id, &first_id)
    };
    assert_eq!(on(from), std::slice::from_ref(&id));

    // A restart in between: the fleet adopts the instance from its agent's hello, and still
    // knows how it was asked for, so a drain can place it again.
    drop(server);
    let (_server, addr, _) = serve_on(dir.path(), &listen);
    let online = |id: &str| is_online(&addr, &admin, id);
    wait_for("both agents back", || {
        online(&first_id) && online(&second_id)
    });
    let on = |agent: &str| instance_ids_on(&addr, &admin, agent);
    let placed: Value = serde_json::from_str(&cli_ok(
        &addr,
        &admin,
        &["-o", "json", "agent", "instances", from],
    ))
    .unwrap();
    assert_eq!(placed[0]["id"], id.as_str(), "{placed}");

    let report: Value =
        serde_json::from_str(&cli_ok(&addr, &admin, &["agent", "drain", from])).unwrap();
    assert_eq!(
        (report["moved"].clone(), report["stuck"].clone()),
        (json!([id]), json!([]))
    );
    wait_for("the instance running on the other agent", || {
        let (_, i) = http(
            &addr,
            "GET",
            &format!("/v1/instances/{id}"),
            Some(&admin),
            None,
        );
        i["state"] == "running" && on(to) == [id.clone()]
    });
    assert!(on(from).is_empty());
    let (_, drained) = http(
        &addr,
        "GET",
        &format!("/v1/admin/agents/{from}"),
        Some(&admin),
        None,
    );
    assert_eq!(drained["cordoned"], true);
    // New work avoids the cordoned agent: with the other one's cpu half taken, 0.75 waits.
    let body = json!({"name": "next", "image": image(), "cpus": 0.75, "memory": 64 << 20, "command": ["sleep", "600"]});
    let (_, next) = http(&addr, "POST", "/v1/instances", Some(&admin), Some(body));
    assert_eq!(next["state"], "queued", "{next}");
    cli_ok(&addr, &admin, &["agent", "uncordon", from]);
    let next_id = next["id"].as_str().unwrap().to_string();
    wait_for(
        "the waiting instance placed on the uncordoned agent",
        || on(from) == [next_id.clone()],
    );
    for i in [&id, &next_id] {
        force_delete(&addr, &admin, i);
    }
}

/// Preemption (with `--preemption`): a higher-priority request that does not fit evicts the
/// lower-priority instance that makes room, which waits again and returns when room frees.
#[test]
fn preemption_evicts_lower_priority_work_and_requeues_it() {
    let f = one_agent(&["--preemption"], "one", "1", "1G");
    let (addr, admin) = (f.addr.clone(), f.admin.clone());
    let create = |name: &str, priority: i32| {
        let body = json!({"name": name, "image": image(), "cpus": 0.75, "memory": 64 << 20,
            "command": ["sleep", "600"], "priority": priority});
        let (status, i) = http(&addr, "POST", "/v1/instances", Some(&admin), Some(body));
        assert_eq!(status, 201, "{i}");
        i["id"].as_str().unwrap().to_string()
    };
    let state = |id: &str| instance_state(&addr, &admin, id);
    let low = create("low", 0);
    assert_eq!(state(&low), "running");
    // Equal priority never preempts.
    let peer = create("peer", 0);
    assert_eq!(state(&peer), "queued");
    assert_eq!(state(&low), "running");
    let high = create("high", 5);
    wait_for("high running in low's place", || state(&high) == "running");
    assert_eq!(state(&low), "queued");
    force_delete(&addr, &admin, &high);
    // The evicted one waited first, so it returns first.
    wait_for("low back", || state(&low) == "running");
    assert_eq!(state(&peer), "queued");
    for id in [&low, &peer] {
        force_delete(&addr, &admin, id);
    }
}

/// An agent with QEMU advertises it, and the fleet places VMs on it and containers elsewhere.
/// The QEMU agent runs on libvirt's test driver here: placement is what is tested; booting real
/// guests is the QEMU provider's own tier.
#[test]
fn vms_go_to_qemu_agents_and_containers_to_docker_agents() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, addr, password) = serve(dir.path());
    let admin = login(&addr, "admin@nubes.local", &password);
    let (docker_id, docker_token) = issue_agent(&addr, &admin, "containers");
    let (qemu_id, qemu_token) = issue_agent(&addr, &admin, "vms");
    let pool = dir.path().join("vm-images");
    let qemu_uri = format!(
        "qemu://?pool={}&libvirt=test:///default&boot={}&state={}",
        pool.display(),
        dir.path().join("boot").display(),
        dir.path().join("vm-state").display()
    );
    // The image VMs boot from, in the QEMU agent's pool.
    let made = cloudctl()
        .args([
            "--provider",
            &qemu_uri,
            "disk",
            "create",
            "base",
            "--size",
            "32Mi",
        ])
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let _containers = agent(&addr, &docker_token, "1", "1G");
    let _vms = Killed(
        cloudctl()
            .args([
                "agent",
                "--server",
                &format!("http://{addr}"),
                "--token",
                &qemu_token,
            ])
            .args(["--cpus", "2", "--memory", "2G", "--runtime", &qemu_uri])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for("both agents online", || {
        is_online(&addr, &admin, &docker_id) && is_online(&addr, &admin, &qemu_id)
    });
    let (_, listed) = http(
        &addr,
        "GET",
        &format!("/v1/admin/agents/{qemu_id}"),
        Some(&admin),
        None,
    );
    assert_eq!(listed["live"]["providers"], json!(["qemu"]), "{listed}");

    let vm = json!({"name": "vm1", "image": "base", "cpus": 1.0, "memory": 256 << 20,
        "vm": {"kernel": "vmlinuz", "network": "none"}, "command": ["quiet"]});
    let (status, vm) = http(&addr, "POST", "/v1/instances", Some(&admin), Some(vm));
    assert_eq!(status, 201, "{vm}");
    assert_eq!(vm["state"], "running", "{vm}");
    let container = json!({"name": "box1", "image": image(), "cpus": 0.5, "memory": 64 << 20,
        "command": ["sleep", "600"]});
    let (status, container) = http(
        &addr,
        "POST",
        "/v1/instances",
        Some(&admin),
        Some(container),
    );
    assert_eq!(status, 201, "{container}");
    assert_eq!(
        instance_ids_on(&addr, &admin, &qemu_id),
        [vm["id"].as_str().unwrap()]
    );
    assert_eq!(
        instance_ids_on(&addr, &admin, &docker_id),
        [container["id"].as_str().unwrap()]
    );
    // A VM bigger than any QEMU agent is refused at once, though the fleet has room in total.
    let huge = json!({"name": "vm2", "image": "base", "cpus": 3.0, "vm": {}});
    assert_eq!(
        http(&addr, "POST", "/v1/instances", Some(&admin), Some(huge)).0,
        403
    );
    for i in [&vm, &container] {
        force_delete(&addr, &admin, i["id"].as_str().unwrap());
    }
    // The VM's boot disk went with it; its base stays.
    let disks = cloudctl()
        .args(["--provider", &qemu_uri, "-o", "json", "disk", "list"])
        .output()
        .unwrap();
    let disks: Value = serde_json::from_slice(&disks.stdout).unwrap();
    let names: Vec<&str> = disks
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["base"]);
}

/// With billing, the lessor earns from the first second an instance runs on their agent: the
/// hour the tenant paid at create is metered and shared out, the platform keeping its fee.
#[test]
fn lessors_earn_from_what_runs_on_their_agents() {
    let f = one_agent(&["--billing"], "earner", "1", "1G");
    let (addr, admin, agent_id) = (f.addr.clone(), f.admin.clone(), f.agent_id.clone());
    let creds = json!({"email": "payer@example.com", "password": "correct horse battery"});
    assert_eq!(
        http(&addr, "POST", "/v1/auth/register", None, Some(creds)).0,
        201
    );
    let user = login(&addr, "payer@example.com", "correct horse battery");
    // A dry run says where it would go, placing nothing.
    let dry = |cpus: f64| {
        let body = json!({"name": "paid", "image": image(), "cpus": cpus, "memory": 64 << 20});
        let (status, d) = http(
            &addr,
            "POST",
            "/v1/instances/dry-run",
            Some(&user),
            Some(body),
        );
        assert_eq!(status, 200, "{d}");
        d
    };
    let d = dry(1.0);
    assert_eq!(
        (d["placement"].as_str(), d["agent_id"].as_str()),
        (Some("placed"), Some(agent_id.as_str())),
        "{d}"
    );
    assert_eq!(dry(4.0)["placement"], "refused");
    let body = json!({"name": "paid", "image": image(), "cpus": 1.0, "memory": 64 << 20,
        "command": ["sleep", "600"]});
    let (status, i) = http(&addr, "POST", "/v1/instances", Some(&user), Some(body));
    assert_eq!(status, 201, "{i}");
    assert_eq!(dry(0.5)["placement"], "queued", "the only agent is full");
    let (_, b) = http(&addr, "GET", "/v1/billing/balance", Some(&user), None);
    let paid = 15_000_000 - b["micro_credits"].as_i64().unwrap();
    assert!(paid > 700_000, "the first hour was paid at create: {b}");
    let earned = || {
        let (status, e) = http(
            &addr,
            "GET",
            &format!("/v1/agents/{agent_id}/earnings"),
            Some(&admin),
            None,
        );
        assert_eq!(status, 200, "{e}");
        e["micro_credits"].as_i64().unwrap()
    };
    // Metering ticks every ten seconds of server time.
    wait_for("the lessor's first earnings", || earned() > 0);
    let (status, _) = http(
        &addr,
        "GET",
        &format!("/v1/agents/{agent_id}/earnings"),
        Some(&user),
        None,
    );
    assert_eq!(status, 403, "only admins see an agent's earnings");
    let (_, b) = http(&addr, "GET", "/v1/billing/balance", Some(&user), None);
    assert_eq!(
        15_000_000 - b["micro_credits"].as_i64().unwrap(),
        paid,
        "still within the paid hour"
    );
    force_delete(&addr, &user, i["id"].as_str().unwrap());
}

/// A VM agent (`cloudctl agent --runtime qemu://...` on libvirt, booting the test guest), and
/// a tenant reaching its VM's consoles with `cloudctl instance console`: the serial port on
/// stdout, and the screen served to a VNC viewer on a local port.
#[test]
fn a_vms_consoles_through_cloudctl() {
    let libvirt = std::env::var("NUBES_TEST_LIBVIRT_URI")
        .expect("NUBES_TEST_LIBVIRT_URI is not set: scripts/test.sh starts libvirtd and sets it");
    let guest = std::env::var("NUBES_TEST_GUEST_DIR")
        .expect("NUBES_TEST_GUEST_DIR is not set: scripts/test.sh builds the guest and sets it");
    let dir = tempfile::tempdir().unwrap();
    let qemu = format!(
        "qemu://?pool={}&libvirt={libvirt}&boot={guest}&state={}",
        dir.path().join("images").display(),
        dir.path().join("vm-state").display()
    );
    let made = cloudctl()
        .args(["--provider", &qemu, "disk", "create", "base"])
        .args(["--size", "48Mi", "--format", "raw"])
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let (_server, addr, password) = serve(dir.path());
    let admin = login(&addr, "admin@nubes.local", &password);
    let (agent_id, token) = issue_agent(&addr, &admin, "vms");
    let _lessor = Killed(
        cloudctl()
            .args([
                "agent",
                "--server",
                &format!("http://{addr}"),
                "--token",
                &token,
            ])
            .args(["--runtime", &qemu, "--cpus", "2", "--memory", "2Gi"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for("the VM agent online", || {
        is_online(&addr, &admin, &agent_id)
    });

    let created = cli_ok(
        &addr,
        &admin,
        &[
            "instance",
            "create",
            "vm",
            "--image",
            "base",
            "--memory",
            "256Mi",
            "--kernel",
            "vmlinuz",
            "--initrd",
            "initrd.gz",
            "--network",
            "none",
            "--wait",
            "--output",
            "json",
            "--",
            "panic=-1",
        ],
    );
    let id = serde_json::from_str::<Value>(&created).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    // The serial port: the guest's ticks on stdout.
    let mut serial = Killed(
        cloudctl()
            .args(["--provider", &format!("http://{addr}")])
            .args(["instance", "console", "vm"])
            .env("NUBES_TOKEN", &admin)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut out = serial.0.stdout.take().unwrap();
    let mut seen = Vec::new();
    let mut buf = [0; 256];
    while !String::from_utf8_lossy(&seen).contains("tick") {
        let n = out.read(&mut buf).unwrap();
        if n == 0 {
            let mut err = String::new();
            serial
                .0
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            panic!("the console ended after {seen:?}: {err}");
        }
        seen.extend_from_slice(&buf[..n]);
    }
    drop(serial);

    // The screen: a viewer on the local port is greeted by the VM's RFB server.
    let listen = free_listen();
    let _screen = Killed(
        cloudctl()
            .args(["--provider", &format!("http://{addr}")])
            .args([
                "instance", "console", "vm", "--kind", "vnc", "--listen", &listen,
            ])
            .env("NUBES_TOKEN", &admin)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut viewer = None;
    wait_for("the screen's port", || {
        viewer = std::net::TcpStream::connect(&listen).ok();
        viewer.is_some()
    });
    let mut viewer = viewer.unwrap();
    viewer
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut version = [0; 12];
    viewer.read_exact(&mut version).unwrap();
    assert!(version.starts_with(b"RFB 003."), "{version:?}");

    // Anywhere but loopback is refused: the screen has no password of its own.
    let out = cloudctl()
        .args(["--provider", &format!("http://{addr}")])
        .args([
            "instance",
            "console",
            "vm",
            "--kind",
            "vnc",
            "--listen",
            "0.0.0.0:0",
        ])
        .env("NUBES_TOKEN", &admin)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback"));
    force_delete(&addr, &admin, &id);
}
