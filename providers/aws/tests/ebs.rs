//! EBS against moto: the disk kit (raw volumes that grow and never shrink), and what Nubes did
//! not make stays out of its sight.

mod common;

use nubes_core::conformance::{self, Fixture};
use nubes_core::{DiskFormat, DiskResizeRequest, DiskSpec, ErrorKind};

#[tokio::test(flavor = "multi_thread")]
async fn ebs_passes_the_disk_kit() {
    let disk = common::cloud().await.disk().unwrap();
    let report = conformance::disk(disk.as_ref(), &Fixture::new("unused")).await;
    println!("{report}");
    // Raw volumes only: no conversion, no overlays.
    assert_eq!(report.passed.len(), 4, "{report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn volumes_are_whole_gib_raw_and_only_nubes_own_are_seen() {
    let disk = common::cloud().await.disk().unwrap();
    const GIB: u64 = 1 << 30;
    let name = format!("ebs-{}", std::process::id());
    for (spec, why) in [
        (
            DiskSpec::new(&name, DiskFormat::Raw, GIB + 1),
            "not whole GiB",
        ),
        (DiskSpec::new(&name, DiskFormat::Qcow2, GIB), "qcow2 on EBS"),
    ] {
        let e = disk.create(spec).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{why}: {e}");
    }
    disk.create(DiskSpec::new(&name, DiskFormat::Raw, GIB))
        .await
        .unwrap();
    let e = disk
        .resize(&name, DiskResizeRequest::new(GIB + 1))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    // A volume made outside Nubes, even with a name tag, is not Nubes' to see or delete.
    let stranger = format!("stranger-{}", std::process::id());
    common::boto3_ec2(
        "ec2.create_volume(AvailabilityZone='us-east-1a', Size=1, TagSpecifications=[{'ResourceType': 'volume', 'Tags': [{'Key': 'Name', 'Value': sys.argv[1]}]}])",
        &[&stranger],
    );
    assert!(disk
        .list()
        .await
        .unwrap()
        .iter()
        .all(|i| i.name != stranger));
    assert_eq!(
        disk.delete(&stranger).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    disk.delete(&name).await.unwrap();
}
