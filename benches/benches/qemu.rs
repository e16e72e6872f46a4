//! QEMU provider (libvirt) vs the raw qemu command line, booting the same guest to its ready
//! line on the serial console, interleaved in one run. Goal: create+start-to-guest-ready
//! <= 1.05x raw.
//!
//! Needs `NUBES_TEST_LIBVIRT_URI` and `NUBES_TEST_GUEST_DIR` (scripts/bench.sh sets them).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nubes::prelude::*;
use nubes::{DeleteOptions, DiskFormat, DiskSpec, VmSpec};
use tokio::process::Command;

const RUNS: usize = 5;
const MEMORY_MIB: u64 = 256;
const READY: &str = "nubes-ready";

fn env(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| panic!("{var} is not set: run scripts/bench.sh"))
}

async fn wait_ready(log: &Path, started: Instant) -> Duration {
    loop {
        if let Ok(text) = tokio::fs::read_to_string(log).await {
            if text.contains(READY) {
                return started.elapsed();
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no ready line in {}",
            log.display()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The same guest by hand: a qcow2 overlay on the same base, the kernel booted directly, the
/// console in a file, virtio disk and guest-agent port, TCG.
async fn raw(guest: &Path, base: &Path, work: &Path, run: usize) -> Duration {
    let overlay = work.join(format!("raw-{run}.qcow2"));
    let log = work.join(format!("raw-{run}.log"));
    let sock = work.join(format!("raw-{run}.sock"));
    let started = Instant::now();
    let made = Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2", "-F", "raw", "-b"])
        .arg(base)
        .arg(&overlay)
        .status()
        .await
        .unwrap();
    assert!(made.success());
    let mut child = Command::new("qemu-system-x86_64")
        .args([
            "-machine",
            "pc,accel=tcg",
            "-m",
            &MEMORY_MIB.to_string(),
            "-smp",
            "1",
        ])
        .args(["-nodefaults", "-no-user-config", "-display", "none"])
        .arg("-kernel")
        .arg(guest.join("vmlinuz"))
        .arg("-initrd")
        .arg(guest.join("initrd.gz"))
        .args(["-append", "quiet panic=-1"])
        .arg("-drive")
        .arg(format!("file={},if=virtio,format=qcow2", overlay.display()))
        .arg("-serial")
        .arg(format!("file:{}", log.display()))
        .args(["-device", "virtio-serial"])
        .arg("-chardev")
        .arg(format!(
            "socket,id=qga,path={},server=on,wait=off",
            sock.display()
        ))
        .args([
            "-device",
            "virtserialport,chardev=qga,name=org.qemu.guest_agent.0",
        ])
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let took = wait_ready(&log, started).await;
    let _ = child.kill().await;
    took
}

/// Time to guest ready, and of it, until `create` returned (the VM defined and started).
async fn provider(compute: &dyn Compute, state: &Path, run: usize) -> (Duration, Duration) {
    let name = format!("bench-{run}");
    let spec = InstanceSpec::new(name.clone(), "bench-base")
        .cpus(1.0)
        .memory(MEMORY_MIB << 20)
        .command(["quiet", "panic=-1"])
        .vm(VmSpec::default()
            .kernel("vmlinuz", Some("initrd.gz".into()))
            .network("none"));
    let log = state.join("consoles").join(format!("{name}.log"));
    let started = Instant::now();
    compute.create(spec).await.unwrap();
    let created = started.elapsed();
    let took = wait_ready(&log, started).await;
    compute.delete(&name, DeleteOptions::force()).await.unwrap();
    (took, created)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let libvirt = env("NUBES_TEST_LIBVIRT_URI");
        let guest = PathBuf::from(env("NUBES_TEST_GUEST_DIR"));
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let uri = format!(
            "qemu://?pool={}&libvirt={libvirt}&boot={}&state={}",
            dir.path().join("images").display(),
            guest.display(),
            state.display()
        );
        let cloud = Cloud::connect(&uri).await.unwrap();
        let disk = cloud.disk().unwrap();
        let base = disk
            .create(DiskSpec::new("bench-base", DiskFormat::Raw, 48 << 20))
            .await
            .unwrap();
        let base_file = {
            // The raw run boots from the very same base file.
            let pool = nubes::qemu::Pool::open(dir.path().join("images"))
                .await
                .unwrap();
            let r = pool.find(&base.name).await.unwrap();
            pool.file(&r.id, r.format)
        };
        let compute = cloud.compute().unwrap();
        let (mut ours, mut creates, mut theirs) = (Vec::new(), Vec::new(), Vec::new());
        // One of each first, unmeasured: page caches and libvirt's first connection.
        raw(&guest, &base_file, dir.path(), 99).await;
        provider(compute.as_ref(), &state, 99).await;
        for run in 0..RUNS {
            theirs.push(raw(&guest, &base_file, dir.path(), run).await);
            let (took, created) = provider(compute.as_ref(), &state, run).await;
            ours.push(took);
            creates.push(created);
        }
        let (ours, created, theirs) = (median(ours), median(creates), median(theirs));
        println!(
            "QEMU: create+start to guest ready, median of {RUNS} (TCG, {MEMORY_MIB} MiB, 1 cpu)\n"
        );
        println!("| | time |");
        println!("|---|---|");
        println!("| raw qemu-system-x86_64 + qemu-img | {theirs:.2?} |");
        println!("| Nubes QEMU provider (libvirt) | {ours:.2?} |");
        println!("| of which `create` (boot disk, define, start) | {created:.2?} |");
        println!(
            "| ratio (Nubes / raw) | {:.3} |",
            ours.as_secs_f64() / theirs.as_secs_f64()
        );
    });
}
