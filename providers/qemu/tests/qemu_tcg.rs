//! The real tier: libvirtd with QEMU (TCG here: this machine's /dev/kvm is PVM) booting a small
//! guest built from Debian's packages (`ensure_test_guest` in scripts/setup.sh): the conformance
//! kit, exec through qemu-guest-agent included, on a real VM.
#![cfg(feature = "libvirt")]

use nubes_core::conformance::{self, Fixture};
use nubes_core::{DiskFormat, DiskSpec, VmSpec};

/// Set by scripts/test.sh once libvirtd runs and the guest is built.
fn from_test_script(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is not set: run this tier through scripts/test.sh, which starts libvirtd and builds the guest")
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn passes_the_conformance_kit_on_a_real_tcg_guest() {
    let libvirt = from_test_script("NUBES_TEST_LIBVIRT_URI");
    let guest = from_test_script("NUBES_TEST_GUEST_DIR");
    let dir = tempfile::tempdir().unwrap();
    let uri = format!(
        "qemu://?pool={}&libvirt={}&boot={guest}&state={}",
        dir.path().join("images").display(),
        libvirt,
        dir.path().join("state").display()
    );
    let cloud = nubes_qemu::connect(&uri).await.unwrap();
    let disk = cloud.disk().unwrap();
    // A blank base: each VM's overlay on it becomes its root filesystem at first boot.
    disk.create(DiskSpec::new("kit-base", DiskFormat::Raw, 48 << 20))
        .await
        .unwrap();
    let mut fx = Fixture::new("kit-base").with_vm(
        VmSpec::default()
            .kernel("vmlinuz", Some("initrd.gz".into()))
            .network("none"),
    );
    fx.command = vec!["quiet".into(), "panic=-1".into()];
    fx.wait_timeout = std::time::Duration::from_secs(90);
    let report = conformance::compute(cloud.compute().unwrap().as_ref(), &fx).await;
    println!("{report}");
    for case in [
        "lifecycle",
        "exec",
        "logs",
        "stats",
        "resize",
        "disk_limit",
        "console",
    ] {
        assert!(report.passed.contains(&case), "{case}: {report}");
    }
}
