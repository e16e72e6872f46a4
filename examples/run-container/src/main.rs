//! Runs a container with limits on the local Docker Engine, execs into it, reads its logs and
//! deletes it. `cargo run -p example-run-container` (after `scripts/setup.sh`).

use std::time::Duration;

use futures::StreamExt;
use nubes::prelude::*;
use nubes::{wait_for, DeleteOptions, InstanceState, LogOptions, WaitCondition};

#[tokio::main]
async fn main() -> nubes::Result<()> {
    let image =
        std::env::var("NUBES_TEST_IMAGE").unwrap_or_else(|_| "nubes-test/busybox:latest".into());
    let cloud = Cloud::connect("docker://").await?;
    let compute = cloud.compute()?;

    let name = format!("example-{}", std::process::id());
    let spec = InstanceSpec::new(&name, image)
        .cpus(0.5)
        .memory(64 << 20)
        .command(["sh", "-c", "echo ready; exec sleep 600"]);
    let instance = compute.create(spec).await?;
    wait_for(
        compute.as_ref(),
        &instance.id,
        WaitCondition::State(InstanceState::Running),
        Duration::from_secs(10),
    )
    .await?;
    println!("created {} ({})", instance.name, instance.id);

    let out = compute
        .exec(&instance.id, ExecRequest::new(["uname", "-sm"]))
        .await?;
    print!("exec: {}", String::from_utf8_lossy(&out.stdout));

    let mut logs = compute.logs(&instance.id, LogOptions::default()).await?;
    while let Some(chunk) = logs.next().await {
        print!("log: {}", String::from_utf8_lossy(&chunk?.data));
    }

    compute.delete(&instance.id, DeleteOptions::force()).await?;
    println!("deleted {name}");
    Ok(())
}
