//! Docker provider vs raw bollard vs the docker CLI, interleaved in one run.
//! Goals: create+start <= 1.03x bollard making the same per-instance network, exec <= 1.05x bollard, run-to-completion <= 0.95x `docker run --rm`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    AttachContainerOptions, CreateContainerOptions, RemoveContainerOptions, WaitContainerOptions,
};
use bollard::Docker;
use futures::StreamExt;
use nubes::docker::NetworkMode;
use nubes::prelude::*;
use nubes::{Bytes, DeleteOptions, FunctionSpec};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

const MEMORY: u64 = 128 << 20;
const PAYLOAD: &[u8] = b"{\"hello\":\"nubes\"}";

fn image() -> String {
    std::env::var("NUBES_TEST_IMAGE").unwrap_or_else(|_| "nubes-test/busybox:latest".into())
}

/// The same limits and hardening the provider applies, so raw bollard does equal work.
fn raw_body(cmd: Vec<String>, stdin: bool) -> ContainerCreateBody {
    ContainerCreateBody {
        image: Some(image()),
        cmd: Some(cmd),
        open_stdin: Some(stdin),
        stdin_once: Some(stdin),
        attach_stdin: Some(stdin),
        attach_stdout: Some(stdin),
        attach_stderr: Some(stdin),
        labels: Some(HashMap::from([(
            "io.nubes.bench".to_string(),
            "raw".to_string(),
        )])),
        host_config: Some(HostConfig {
            nano_cpus: Some(1_000_000_000),
            memory: Some(MEMORY as i64),
            memory_swap: Some(MEMORY as i64),
            pids_limit: Some(4096),
            cap_drop: Some(vec!["ALL".into()]),
            security_opt: Some(vec!["no-new-privileges".into()]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

async fn remove(docker: &Docker, id: &str) {
    let opts = RemoveContainerOptions {
        force: true,
        ..Default::default()
    };
    docker
        .remove_container(id, Some(opts))
        .await
        .expect("remove");
}

async fn cli(args: &[&str], stdin: Option<&[u8]>) -> Vec<u8> {
    let mut cmd = Command::new("docker");
    cmd.args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    cmd.stdin(if stdin.is_some() {
        std::process::Stdio::piped()
    } else {
        std::process::Stdio::null()
    });
    let mut child = cmd.spawn().expect("docker CLI");
    if let Some(data) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(data).await.unwrap();
        drop(pipe);
    }
    let out = child.wait_with_output().await.unwrap();
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[derive(Default)]
struct Samples(HashMap<(&'static str, &'static str), Vec<Duration>>);

impl Samples {
    fn add(&mut self, op: &'static str, who: &'static str, d: Duration) {
        self.0.entry((op, who)).or_default().push(d);
    }

    fn median(&self, op: &'static str, who: &'static str) -> Option<Duration> {
        let mut v = self.0.get(&(op, who))?.clone();
        v.sort();
        Some(v[v.len() / 2])
    }
}

async fn timed<T>(f: impl std::future::Future<Output = T>) -> (Duration, T) {
    let start = Instant::now();
    let out = f.await;
    (start.elapsed(), out)
}

#[tokio::main]
async fn main() {
    let rounds: usize = std::env::var("NUBES_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(20);
    let docker = Docker::connect_with_local_defaults()
        .unwrap()
        .negotiate_version()
        .await
        .unwrap();
    let cloud = Cloud::connect("docker://")
        .await
        .expect("docker engine (run scripts/setup.sh)");
    let compute = cloud.compute().unwrap();
    let functions = cloud.function().unwrap();
    let tag = std::process::id();
    let image = image();
    let sleep = vec!["sleep".to_string(), "3600".to_string()];

    // Long-lived targets for exec and inspect.
    let target = compute
        .create(
            InstanceSpec::new(format!("bench-target-{tag}"), image.clone())
                .cpus(1.0)
                .memory(MEMORY)
                .command(sleep.clone()),
        )
        .await
        .unwrap();
    let fn_name = format!("bench-cat-{tag}");
    let mut spec = FunctionSpec::new(fn_name.clone(), image.clone(), ["cat"]);
    spec.cpus = Some(1.0);
    spec.memory = Some(MEMORY);
    functions.deploy(spec).await.unwrap();

    let mut s = Samples::default();
    for round in 0..rounds {
        // Rotate who goes first so warm caches favour nobody.
        for turn in 0..3 {
            match (round + turn) % 3 {
                0 => {
                    let name = format!("bench-n-{tag}-{round}");
                    let spec = InstanceSpec::new(name, image.clone())
                        .cpus(1.0)
                        .memory(MEMORY)
                        .command(sleep.clone());
                    let (d, i) = timed(compute.create(spec)).await;
                    s.add("create+start", "nubes", d);
                    compute
                        .delete(&i.unwrap().id, DeleteOptions::force())
                        .await
                        .unwrap();

                    let (d, out) =
                        timed(functions.invoke(&fn_name, Bytes::from_static(PAYLOAD))).await;
                    assert_eq!(&out.unwrap().payload[..], PAYLOAD);
                    s.add("run-to-completion", "nubes", d);

                    let (d, out) =
                        timed(compute.exec(&target.id, ExecRequest::new(["echo", "hi"]))).await;
                    assert_eq!(&out.unwrap().stdout[..], b"hi\n");
                    s.add("exec", "nubes", d);

                    let (d, got) = timed(compute.get(&target.id)).await;
                    got.unwrap();
                    s.add("inspect", "nubes", d);
                }
                1 => {
                    let opts = CreateContainerOptions {
                        name: Some(format!("bench-b-{tag}-{round}")),
                        ..Default::default()
                    };
                    let (d, id) = timed(async {
                        let c = docker
                            .create_container(Some(opts), raw_body(sleep.clone(), false))
                            .await
                            .unwrap();
                        docker.start_container(&c.id, None).await.unwrap();
                        c.id
                    })
                    .await;
                    s.add("create+start", "bollard", d);
                    remove(&docker, &id).await;

                    // The same work as the provider's default: the instance on a network of its
                    // own (internal, no host address), made first and joined.
                    let net = format!("bench-net-{tag}-{round}");
                    let request = nubes::docker::network_request(
                        &net,
                        NetworkMode::Isolated,
                        "10.214.255.0/28",
                    );
                    let (d, id) = timed(async {
                        docker.create_network(request).await.unwrap();
                        let mut body = raw_body(sleep.clone(), false);
                        if let Some(host) = body.host_config.as_mut() {
                            host.network_mode = Some(nubes::docker::network_name(&net));
                        }
                        let c = docker
                            .create_container(None::<CreateContainerOptions>, body)
                            .await
                            .unwrap();
                        docker.start_container(&c.id, None).await.unwrap();
                        c.id
                    })
                    .await;
                    s.add("create+start", "bollard+network", d);
                    remove(&docker, &id).await;
                    docker
                        .remove_network(&nubes::docker::network_name(&net))
                        .await
                        .unwrap();

                    let (d, (id, out)) = timed(async {
                        let c = docker
                            .create_container(
                                None::<CreateContainerOptions>,
                                raw_body(vec!["cat".into()], true),
                            )
                            .await
                            .unwrap();
                        let attach = AttachContainerOptions {
                            stream: true,
                            stdin: true,
                            stdout: true,
                            stderr: true,
                            ..Default::default()
                        };
                        let mut att = docker.attach_container(&c.id, Some(attach)).await.unwrap();
                        docker.start_container(&c.id, None).await.unwrap();
                        att.input.write_all(PAYLOAD).await.unwrap();
                        att.input.shutdown().await.unwrap();
                        let mut out = Vec::new();
                        while let Some(chunk) = att.output.next().await {
                            out.extend_from_slice(&chunk.unwrap().into_bytes());
                        }
                        let wait = WaitContainerOptions {
                            condition: "not-running".into(),
                        };
                        let _ = docker.wait_container(&c.id, Some(wait)).next().await;
                        remove(&docker, &c.id).await;
                        (c.id, out)
                    })
                    .await;
                    let _ = id;
                    assert_eq!(out, PAYLOAD);
                    s.add("run-to-completion", "bollard", d);

                    let (d, out) = timed(async {
                        let opts = CreateExecOptions {
                            attach_stdout: Some(true),
                            attach_stderr: Some(true),
                            cmd: Some(vec!["echo", "hi"]),
                            ..Default::default()
                        };
                        let e = docker.create_exec(&target.id, opts).await.unwrap();
                        let StartExecResults::Attached { mut output, .. } =
                            docker.start_exec(&e.id, None).await.unwrap()
                        else {
                            unreachable!()
                        };
                        let mut out = Vec::new();
                        while let Some(chunk) = output.next().await {
                            out.extend_from_slice(&chunk.unwrap().into_bytes());
                        }
                        let code = docker.inspect_exec(&e.id).await.unwrap().exit_code;
                        (out, code)
                    })
                    .await;
                    assert_eq!(out.0, b"hi\n");
                    s.add("exec", "bollard", d);

                    let (d, _) = timed(docker.inspect_container(&target.id, None)).await;
                    s.add("inspect", "bollard", d);
                }
                _ => {
                    // The same limits and hardening as the provider, in the CLI's words.
                    let limits = [
                        "--cpus",
                        "1",
                        "--memory",
                        "128m",
                        "--memory-swap",
                        "128m",
                        "--pids-limit",
                        "4096",
                        "--cap-drop",
                        "ALL",
                        "--security-opt",
                        "no-new-privileges",
                    ];
                    let name = format!("bench-c-{tag}-{round}");
                    let run = [
                        &["run", "-d", "--name", &name][..],
                        &limits,
                        &[&image, "sleep", "3600"],
                    ]
                    .concat();
                    let (d, _) = timed(cli(&run, None)).await;
                    s.add("create+start", "docker CLI", d);
                    cli(&["rm", "-f", &name], None).await;

                    let run = [&["run", "--rm", "-i"][..], &limits, &[&image, "cat"]].concat();
                    let (d, out) = timed(cli(&run, Some(PAYLOAD))).await;
                    assert_eq!(out, PAYLOAD);
                    s.add("run-to-completion", "docker CLI", d);

                    let (d, out) = timed(cli(&["exec", &target.id, "echo", "hi"], None)).await;
                    assert_eq!(out, b"hi\n");
                    s.add("exec", "docker CLI", d);

                    let (d, _) = timed(cli(&["inspect", &target.id], None)).await;
                    s.add("inspect", "docker CLI", d);
                }
            }
        }
    }
    compute
        .delete(&target.id, DeleteOptions::force())
        .await
        .unwrap();
    functions.delete(&fn_name).await.unwrap();

    let ms = |d: Option<Duration>| {
        d.map(|d| format!("{:.2}", d.as_secs_f64() * 1000.0))
            .unwrap_or_default()
    };
    let ratio = |a: Option<Duration>, b: Option<Duration>| match (a, b) {
        (Some(a), Some(b)) => format!("{:.3}", a.as_secs_f64() / b.as_secs_f64()),
        _ => "-".into(),
    };
    println!("\nDocker provider vs raw bollard vs docker CLI: medians of {rounds} interleaved rounds (ms)\n");
    println!("| operation | nubes | bollard | docker CLI | nubes/bollard | nubes/CLI | goal |");
    println!("|---|---|---|---|---|---|---|");
    for (op, goal) in [
        (
            "create+start",
            "- (the provider also makes a network: next row)",
        ),
        ("run-to-completion", "<= 0.95x docker run --rm"),
        ("exec", "<= 1.05x bollard"),
        ("inspect", "-"),
    ] {
        let (n, b, c) = (
            s.median(op, "nubes"),
            s.median(op, "bollard"),
            s.median(op, "docker CLI"),
        );
        println!(
            "| {op} | {} | {} | {} | {} | {} | {goal} |",
            ms(n),
            ms(b),
            ms(c),
            ratio(n, b),
            ratio(n, c)
        );
    }
    // Each instance is on a network of its own by default (tenants cannot reach each other):
    // the like-for-like comparison is bollard doing that too.
    let (n, b) = (
        s.median("create+start", "nubes"),
        s.median("create+start", "bollard+network"),
    );
    println!(
        "| create+start, vs bollard making the same network | {} | {} | - | {} | - | <= 1.03x bollard+network |",
        ms(n),
        ms(b),
        ratio(n, b)
    );
}
