//! VMs through libvirt's built-in `test:///default` driver: domains without a hypervisor, so
//! every run checks the provider's libvirt side (definitions, lifecycle, metadata, resize,
//! boot disks in the pool) in seconds. The real QEMU tier boots a guest.
#![cfg(feature = "libvirt")]

use nubes_core::conformance::{self, Fixture};
use nubes_core::{
    Cloud, DeleteOptions, DiskFormat, DiskSpec, ErrorKind, InstanceSpec, InstanceState,
    StopOptions, VmSpec,
};

async fn cloud(dir: &std::path::Path) -> Cloud {
    let uri = format!(
        "qemu://?pool={}&libvirt=test:///default&boot={}&state={}",
        dir.join("images").display(),
        dir.join("boot").display(),
        dir.join("state").display()
    );
    nubes_qemu::connect(&uri).await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn passes_the_conformance_kit_on_the_test_driver() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = cloud(dir.path()).await;
    let disk = cloud.disk().unwrap();
    // Small, so the kit's 64 MiB disk limit can hold it.
    disk.create(DiskSpec::new("kit-base", DiskFormat::Qcow2, 32 << 20))
        .await
        .unwrap();
    // The kit's instances boot a kernel directly, its command their command line.
    let mut fx = Fixture::new("kit-base").with_vm(VmSpec::default().kernel("vmlinuz", None));
    fx.command = vec!["console=ttyS0".into(), "quiet".into()];
    let report = conformance::compute(cloud.compute().unwrap().as_ref(), &fx).await;
    println!("{report}");
    for case in [
        "lifecycle",
        "bad_input_creates_nothing",
        "duplicate_name",
        "missing_instance",
        "list_filters",
        "unsupported_operations",
        "stats",
        "resize",
        "disk_limit",
    ] {
        assert!(report.passed.contains(&case), "{case}: {report}");
    }
    // Every boot disk the kit's VMs made went with them.
    let left = names_of(&*disk).await;
    assert_eq!(left, ["kit-base"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn boot_disks_bad_input_and_attached_disks() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = cloud(dir.path()).await;
    let (compute, disk) = (cloud.compute().unwrap(), cloud.disk().unwrap());
    disk.create(DiskSpec::new("debian", DiskFormat::Qcow2, 2 << 30))
        .await
        .unwrap();

    let vm = compute
        .create(
            InstanceSpec::new("web", "debian")
                .cpus(1.5)
                .memory(256 << 20)
                .disk(4 << 30),
        )
        .await
        .unwrap();
    assert_eq!(vm.state, InstanceState::Running);
    assert_eq!(
        (vm.cpus, vm.memory, vm.disk),
        (Some(1.5), Some(256 << 20), Some(4 << 30))
    );
    let boot = disk.get("web-boot").await.unwrap();
    assert_eq!(
        (boot.backing.as_deref(), boot.virtual_size),
        (Some("debian"), 4 << 30)
    );

    // A disk a running VM holds is neither deleted nor resized under it; its base neither.
    assert_eq!(
        disk.delete("web-boot").await.unwrap_err().kind(),
        ErrorKind::Conflict
    );
    assert_eq!(
        disk.resize("web-boot", nubes_core::DiskResizeRequest::new(8 << 30))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Conflict
    );
    assert_eq!(
        disk.delete("debian").await.unwrap_err().kind(),
        ErrorKind::Conflict
    );

    // Bad input: each a clear error of the right kind, nothing made.
    let bad = [
        (
            InstanceSpec::new("a", "debian").disk(1 << 30),
            ErrorKind::InvalidInput,
            "smaller than its image",
        ),
        (
            InstanceSpec::new("b", "debian").command(["init=/bin/sh"]),
            ErrorKind::InvalidInput,
            "command without a kernel",
        ),
        (
            InstanceSpec::new("c", "debian").vm(VmSpec::default().iso("../etc/passwd")),
            ErrorKind::InvalidInput,
            "an ISO outside the boot directory",
        ),
        (
            InstanceSpec::new("d", "debian").vm(VmSpec::default().network("wifi")),
            ErrorKind::InvalidInput,
            "an unknown network",
        ),
        (
            InstanceSpec::new("g", "debian").vm(VmSpec::default().network("bridge:br0")),
            ErrorKind::PermissionDenied,
            "a host bridge the operator did not allow",
        ),
        (
            InstanceSpec::new("e", "no-such-image"),
            ErrorKind::NotFound,
            "a missing image",
        ),
        (
            InstanceSpec::new("web", "debian"),
            ErrorKind::AlreadyExists,
            "a taken name",
        ),
        (
            InstanceSpec::new("f", "debian").cpus(0.0),
            ErrorKind::InvalidInput,
            "zero cpus",
        ),
    ];
    for (spec, kind, what) in bad {
        let e = compute.create(spec).await.unwrap_err();
        assert_eq!(e.kind(), kind, "{what}: {e}");
    }
    let names = names_of(&*disk).await;
    assert_eq!(
        names,
        ["debian", "web-boot"],
        "bad creates left disks behind"
    );

    // Resized only while stopped; the new size holds after a start.
    assert_eq!(
        compute
            .resize("web", nubes_core::ResizeRequest::default().cpus(2.0))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Conflict
    );
    compute.stop("web", StopOptions::default()).await.unwrap();
    let resized = compute
        .resize(
            "web",
            nubes_core::ResizeRequest::default()
                .cpus(2.0)
                .memory(1 << 30),
        )
        .await
        .unwrap();
    assert_eq!((resized.cpus, resized.memory), (Some(2.0), Some(1 << 30)));
    let started = compute.start("web").await.unwrap();
    assert_eq!(
        (started.state, started.cpus),
        (InstanceState::Running, Some(2.0))
    );

    // Deleted keeping its disk, the boot disk stays as an image of its own.
    compute
        .delete("web", DeleteOptions::force().keep_disks())
        .await
        .unwrap();
    assert_eq!(
        disk.get("web-boot").await.unwrap().backing.as_deref(),
        Some("debian")
    );
    disk.delete("web-boot").await.unwrap();
    disk.delete("debian").await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_blank_disk_boots_an_iso_from_the_boot_directory_only() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = cloud(dir.path()).await;
    let compute = cloud.compute().unwrap();
    let installer = InstanceSpec::new("installer", nubes_qemu::compute::BLANK)
        .disk(8 << 30)
        .vm(VmSpec::default().iso("debian.iso").network("none"));
    let vm = compute.create(installer).await.unwrap();
    assert_eq!((vm.image.as_str(), vm.disk), ("blank", Some(8 << 30)));
    compute
        .delete("installer", DeleteOptions::force())
        .await
        .unwrap();
    assert!(cloud.disk().unwrap().list().await.unwrap().is_empty());
}

/// The names of the disk images `disk` holds.
async fn names_of(disk: &dyn nubes_core::Disk) -> Vec<String> {
    disk.list()
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.name)
        .collect()
}
