//! Instances cannot reach each other or the host: each has a network of its own (internal, with
//! no address on the host side). Docker's shared bridge, measured beside it as the control,
//! reaches the host: the probe is able to see what isolation hides.

use std::time::Duration;

use nubes_core::{Compute, ExecRequest, InstanceSpec};

fn image() -> String {
    std::env::var("NUBES_TEST_IMAGE").unwrap_or_else(|_| "nubes-test/busybox:latest".into())
}

async fn compute(options: &str) -> std::sync::Arc<dyn Compute> {
    let base = std::env::var("NUBES_DOCKER_URI").unwrap_or_else(|_| "docker://".into());
    let uri = format!("{base}{options}");
    nubes_docker::connect(&uri)
        .await
        .unwrap_or_else(|e| panic!("no Docker engine at {uri} ({e})"))
        .compute()
        .unwrap()
}

async fn sh(c: &dyn Compute, id: &str, script: &str) -> String {
    let out = c
        .exec(id, ExecRequest::new(["sh", "-c", script]))
        .await
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The host's IPv4 addresses other than loopback.
fn host_addresses() -> Vec<String> {
    let out = std::process::Command::new("ip")
        .args(["-4", "-o", "addr", "show"])
        .output()
        .expect("ip (iproute2) is on the test machine");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(3))
        .filter_map(|a| a.split('/').next())
        .filter(|a| !a.starts_with("127."))
        .map(str::to_string)
        .collect()
}

/// Whether, from inside `id`, any of `addresses` answers on `port` with `word`.
async fn reaches(c: &dyn Compute, id: &str, addresses: &[String], port: u16, word: &str) -> bool {
    for a in addresses {
        let got = sh(c, id, &format!("nc -w 2 {a} {port} </dev/null 2>/dev/null")).await;
        if got.contains(word) {
            return true;
        }
    }
    false
}

#[tokio::test(flavor = "multi_thread")]
async fn instances_reach_neither_each_other_nor_the_host() {
    // A service on every host address.
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        while let Ok((mut s, _)) = listener.accept().await {
            let _ = s.write_all(b"host-secret\n").await;
        }
    });
    let hosts = host_addresses();
    assert!(!hosts.is_empty());

    let run = |name: &str, script: &str| {
        InstanceSpec::new(format!("nubes-iso-{name}-{}", fastrand::u32(..)), image())
            .command(["sh", "-c", script])
    };
    let serve = "while true; do echo tenant-secret | nc -l -p 8080; done";

    // The control: on Docker's shared bridge, the host answers.
    let shared = compute("?network=bridge").await;
    let probe = shared.create(run("shared", "sleep 600")).await.unwrap();
    assert!(
        reaches(shared.as_ref(), &probe.id, &hosts, port, "host-secret").await,
        "the control must reach the host, or this test proves nothing"
    );
    shared
        .delete(&probe.id, nubes_core::DeleteOptions::force())
        .await
        .unwrap();

    let c = compute("").await;
    let a = c.create(run("a", serve)).await.unwrap();
    let b = c.create(run("b", "sleep 600")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let a_ip = sh(c.as_ref(), &a.id, "hostname -i").await;
    assert!(
        sh(c.as_ref(), &a.id, "nc -w 2 127.0.0.1 8080 </dev/null")
            .await
            .contains("tenant-secret"),
        "a serves"
    );
    assert!(
        !reaches(
            c.as_ref(),
            &b.id,
            std::slice::from_ref(&a_ip),
            8080,
            "tenant-secret"
        )
        .await,
        "b reached a's service at {a_ip}"
    );
    let mut everywhere = hosts.clone();
    everywhere.extend(["172.17.0.1".to_string(), gateway_of(&a_ip)]);
    assert!(
        !reaches(c.as_ref(), &b.id, &everywhere, port, "host-secret").await,
        "b reached the host's service"
    );

    for i in [&a, &b] {
        c.delete(&i.id, nubes_core::DeleteOptions::force())
            .await
            .unwrap();
    }
    let left = std::process::Command::new("docker")
        .args(["network", "ls", "--format", "{{.Name}}"])
        .output()
        .unwrap();
    let left = String::from_utf8_lossy(&left.stdout);
    assert!(
        !left.contains(&a.name) && !left.contains(&b.name),
        "their networks went with them: {left}"
    );
}

/// The first address of `ip`'s /28, where a gateway would be.
fn gateway_of(ip: &str) -> String {
    let addr: std::net::Ipv4Addr = ip.parse().unwrap();
    std::net::Ipv4Addr::from((u32::from(addr) & !15) + 1).to_string()
}
