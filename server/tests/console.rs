//! A VM's consoles through the platform: a fleet server, a real agent leasing QEMU under libvirt
//! (the test guest from `ensure_test_guest`), and a tenant's VM whose serial port and screen are
//! reached over `GET /v1/instances/{id}/console`. The screen is read as an RFB client would, to
//! its pixels. Other tenants and an organization's viewers are refused, and every attempt is in
//! the audit log.

mod common;

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::{from_test_script, invite, org, user, websocket, Socket};
use futures::{SinkExt, StreamExt};
use nubes_agent::Resources;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

/// The code a console socket is closed with, within 20 s.
async fn closed_with(socket: &mut Socket) -> u16 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, socket.next()).await {
            Ok(Some(Ok(Message::Close(Some(c))))) => return u16::from(c.code),
            Ok(Some(Ok(_))) => {}
            other => panic!("no close: {other:?}"),
        }
    }
}

/// The bytes of a console socket, read as a stream.
struct Reader {
    socket: Socket,
    buf: Vec<u8>,
}

impl Reader {
    async fn fill(&mut self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.buf.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.socket.next()).await {
                Ok(Some(Ok(Message::Binary(b)))) => self.buf.extend_from_slice(&b),
                Ok(Some(Ok(Message::Close(c)))) => panic!("closed after {:?}: {c:?}", self.buf),
                Ok(Some(Ok(_))) => {}
                other => panic!("reading the console: {other:?} after {:?}", self.buf),
            }
        }
    }

    async fn take(&mut self, n: usize) -> Vec<u8> {
        self.fill(n).await;
        self.buf.drain(..n).collect()
    }

    async fn until(&mut self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(90);
        while !String::from_utf8_lossy(&self.buf).contains(needle) {
            assert!(Instant::now() < deadline, "no {needle} in {:?}", self.buf);
            let more = self.buf.len() + 1;
            self.fill(more).await;
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.socket
            .send(Message::Binary(bytes.to_vec().into()))
            .await
            .unwrap();
    }
}

fn u16_at(b: &[u8], i: usize) -> usize {
    u16::from_be_bytes([b[i], b[i + 1]]) as usize
}

/// An RFB 3.8 client's first screenful: the handshake without authentication, then one full
/// update in raw pixels. Returns the screen's size and whether any pixel is not black.
async fn first_screen(r: &mut Reader) -> (usize, usize, bool) {
    let version = r.take(12).await;
    assert!(version.starts_with(b"RFB 003."), "{version:?}");
    r.send(b"RFB 003.008\n").await;
    let count = r.take(1).await[0] as usize;
    let types = r.take(count).await;
    assert!(types.contains(&1), "no plain security offered: {types:?}");
    r.send(&[1]).await;
    assert_eq!(r.take(4).await, [0, 0, 0, 0], "security failed");
    r.send(&[1]).await; // shared
    let init = r.take(24).await;
    let (width, height) = (u16_at(&init, 0), u16_at(&init, 2));
    let bpp = init[4] as usize / 8;
    let name_len = u32::from_be_bytes(init[20..24].try_into().unwrap()) as usize;
    r.take(name_len).await;
    // Raw pixels only, then the whole screen.
    r.send(&[2, 0, 0, 1, 0, 0, 0, 0]).await;
    let mut ask = vec![3, 0, 0, 0, 0, 0];
    ask.extend_from_slice(&(width as u16).to_be_bytes());
    ask.extend_from_slice(&(height as u16).to_be_bytes());
    let mut lit = false;
    let deadline = Instant::now() + Duration::from_secs(90);
    // The guest may still be blank: ask again until something is drawn.
    while !lit && Instant::now() < deadline {
        r.send(&ask).await;
        loop {
            let kind = r.take(1).await[0];
            match kind {
                0 => {
                    let head = r.take(3).await;
                    for _ in 0..u16_at(&head, 1) {
                        let rect = r.take(12).await;
                        let (w, h) = (u16_at(&rect, 4), u16_at(&rect, 6));
                        let encoding = i32::from_be_bytes(rect[8..12].try_into().unwrap());
                        match encoding {
                            0 => lit |= r.take(w * h * bpp).await.iter().any(|b| *b != 0),
                            // A pseudo-encoding the server announces without being asked
                            // carries no pixels we requested; any other is a protocol slip.
                            -223 | -224 => {}
                            e => panic!("encoding {e} was not asked for"),
                        }
                    }
                    break;
                }
                // A bell or a colour map: not what is waited for.
                2 => {}
                1 => {
                    let head = r.take(5).await;
                    r.take(u16_at(&head, 3) * 6).await;
                }
                other => panic!("server message {other}"),
            }
        }
        if !lit {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    (width, height, lit)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tenant_reaches_its_vms_serial_console_and_screen_and_no_one_else_does() {
    let libvirt = from_test_script("NUBES_TEST_LIBVIRT_URI");
    let guest = from_test_script("NUBES_TEST_GUEST_DIR");
    let dir = tempfile::tempdir().unwrap();
    let config = nubes_server::Config {
        database_url: format!("sqlite://{}", dir.path().join("nubes.db").display()),
        compute: Some("fleet://".into()),
        ..Default::default()
    };
    let (state, addr) = common::live(&config).await;
    let url = format!("http://{addr}");
    let api = common::Api {
        app: nubes_server::app(state.clone()),
    };
    let boot = state
        .accounts
        .bootstrap_admin("admin@example.com")
        .await
        .unwrap()
        .unwrap();
    let admin = api
        .login(&json!({"email": boot.email, "password": boot.password}))
        .await;
    let fleet = state.agents.fleet().unwrap().clone();

    // The lessor's agent leases VMs: QEMU under libvirt, booting the test guest.
    let qemu = <nubes::Cloud as nubes::Connect>::connect(&format!(
        "qemu://?pool={}&libvirt={libvirt}&boot={guest}&state={}",
        dir.path().join("images").display(),
        dir.path().join("state").display()
    ))
    .await
    .unwrap();
    qemu.disk()
        .unwrap()
        .create(nubes::DiskSpec::new(
            "base",
            nubes::DiskFormat::Raw,
            48 << 20,
        ))
        .await
        .unwrap();
    let token = state.agents.issue_own("vms").await.unwrap();
    let agent = tokio::spawn(nubes_agent::run(
        nubes_agent::AgentConfig {
            server: url.clone(),
            token,
            name: "vms".into(),
            capacity: Resources::new(2000, 2 << 30, 0, 0),
            labels: Default::default(),
        },
        qemu.compute().unwrap(),
    ));
    let deadline = Instant::now() + Duration::from_secs(30);
    while !fleet.agents().iter().any(|a| a.online) {
        assert!(Instant::now() < deadline, "the agent never came online");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let alice = user(&api, "alice@example.com").await;
    let eve = user(&api, "eve@example.com").await;
    let carol = user(&api, "carol@example.com").await;
    let team = org(&api, &alice, "Acme").await;
    let bob = user(&api, "bob@example.com").await;
    let dave = user(&api, "dave@example.com").await;
    for (who, role) in [(&carol, "viewer"), (&bob, "admin"), (&dave, "admin")] {
        let code = invite(&api, &team, &alice, json!({"role": role})).await;
        let (status, _) = api
            .post("/v1/orgs/join", Some(who), json!({"code": code}))
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    // Without `console=ttyS0` the kernel writes its boot to the screen; the guest's init
    // writes its ticks to the serial port either way.
    let (status, vm) = api
        .post(
            "/v1/instances",
            Some(&alice),
            json!({"name": "vm", "image": "base", "org_id": team, "cpus": 1,
                   "memory": 256 << 20, "command": ["panic=-1"],
                   "vm": {"kernel": "vmlinuz", "initrd": "initrd.gz", "network": "none"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{vm}");
    let id = vm["id"].as_str().unwrap().to_string();
    let path = |kind: &str| format!("/v1/instances/{id}/console?kind={kind}");

    // The serial port: the guest's ticks, and one session at a time.
    let mut serial = Reader {
        socket: websocket(&url, &path("serial"), &alice).await.unwrap(),
        buf: Vec::new(),
    };
    serial.until("tick").await;
    assert_eq!(
        websocket(&url, &path("serial"), &alice).await.err(),
        Some(StatusCode::CONFLICT),
        "a second serial session is refused while one is attached"
    );

    // The screen: an RFB server, and the kernel's boot drawn on it.
    let mut screen = Reader {
        socket: websocket(&url, &path("vnc"), &alice).await.unwrap(),
        buf: Vec::new(),
    };
    let (width, height, lit) = first_screen(&mut screen).await;
    assert!(width >= 320 && height >= 200, "{width}x{height}");
    assert!(lit, "the guest's screen stayed black");

    // Nobody else: another tenant does not see the VM, a viewer may not type into it, and a
    // kind that does not exist is a clear 400.
    assert_eq!(
        websocket(&url, &path("vnc"), &eve).await.err(),
        Some(StatusCode::NOT_FOUND)
    );
    assert_eq!(
        websocket(&url, &path("serial"), &carol).await.err(),
        Some(StatusCode::FORBIDDEN)
    );
    let (status, body) = api.get(&path("telnet"), Some(&alice)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // Detaching frees the serial port for the next session.
    serial.socket.close(None).await.unwrap();
    drop(serial);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut again = loop {
        match websocket(&url, &path("serial"), &alice).await {
            Ok(socket) => {
                break Reader {
                    socket,
                    buf: Vec::new(),
                }
            }
            Err(StatusCode::CONFLICT) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(s) => panic!("reattaching: {s}"),
        }
    };
    again.until("tick").await;

    // A session lasts as long as what let it open: lowering Bob (an admin) to viewer ends his
    // screen with 4403, Dave's signing out ends his with 4401 (a client attaches again with a
    // fresh token).
    let mut bobs = websocket(&url, &path("vnc"), &bob).await.unwrap();
    let mut daves = websocket(&url, &path("vnc"), &dave).await.unwrap();
    common::set_role(&api, &team, &alice, "bob@example.com", "viewer").await;
    let (status, _) = api.post("/v1/auth/logout", Some(&dave), json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(closed_with(&mut bobs).await, 4403);
    assert_eq!(closed_with(&mut daves).await, 4401);

    // Stopping the VM ends the sessions with a normal close.
    let (status, body) = api
        .post(
            &format!("/v1/instances/{id}/stop?timeout_secs=2"),
            Some(&alice),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let close = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, again.socket.next()).await {
            Ok(Some(Ok(Message::Close(c)))) => break c,
            Ok(Some(Ok(_))) => {}
            other => panic!("no close when the VM stopped: {other:?}"),
        }
    };
    assert_eq!(close.map(|c| u16::from(c.code)), Some(1000));
    assert_eq!(
        websocket(&url, &path("serial"), &alice).await.err(),
        Some(StatusCode::CONFLICT),
        "a stopped VM's console is a conflict"
    );

    // Every attempt is in the audit log: the tenant's, the outsider's and the viewer's.
    let (_, log) = api
        .get(
            "/v1/admin/audit?action=GET%20/v1/instances/%7Binstance%7D/console",
            Some(&admin),
        )
        .await;
    let entries = log.as_array().unwrap();
    for status in [101, 404, 403, 409] {
        assert!(
            entries.iter().any(|e| e["status"] == status),
            "no {status} in {log}"
        );
    }
    let (status, _) = api
        .delete(&format!("/v1/instances/{id}?force=true"), Some(&alice))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    agent.abort();
}
