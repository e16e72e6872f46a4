//! The QEMU disk provider against the real qemu-img: the conformance kit, every format pair
//! keeping a byte pattern, overlays, progress.

use std::path::Path;
use std::sync::{Arc, Mutex};

use nubes_core::conformance::{self, Fixture};
use nubes_core::{Disk, DiskFormat, DiskSpec, ErrorKind};
use nubes_qemu::{Pool, QemuDisk};

const MIB: u64 = 1 << 20;

async fn disk(dir: &Path) -> QemuDisk {
    QemuDisk::new(Arc::new(Pool::open(dir).await.unwrap()))
}

/// A recognisable pattern: every 4 KiB block says where it is.
fn pattern(len: u64) -> Vec<u8> {
    let mut data = vec![0u8; len as usize];
    for (i, block) in data.chunks_mut(4096).enumerate() {
        let stamp = format!("nubes block {i:08}");
        block[..stamp.len()].copy_from_slice(stamp.as_bytes());
        block[4095] = (i % 251) as u8;
    }
    data
}

/// The file behind an image (tests only: users never see paths).
async fn file_of(d: &QemuDisk, name: &str) -> std::path::PathBuf {
    let pool = d.pool();
    let r = pool
        .records()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.name == name)
        .unwrap();
    pool.file(&r.id, r.format)
}

async fn raw_bytes(d: &QemuDisk, name: &str, scratch: &str) -> Vec<u8> {
    d.convert(name, DiskFormat::Raw, scratch).await.unwrap();
    let bytes = std::fs::read(file_of(d, scratch).await).unwrap();
    d.delete(scratch).await.unwrap();
    bytes
}

#[tokio::test(flavor = "multi_thread")]
async fn passes_the_conformance_kit() {
    let dir = tempfile::tempdir().unwrap();
    // As users get it: through a `Cloud`, whose layers check input before the pool sees it.
    let cloud = nubes_core::Cloud::new("qemu").with_disk(Arc::new(disk(dir.path()).await));
    let report = conformance::disk(cloud.disk().unwrap().as_ref(), &Fixture::new("unused")).await;
    println!("{report}");
    assert_eq!(report.passed.len(), 6, "{report}");
    assert!(report.skipped.is_empty(), "{report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_format_pair_keeps_the_content() {
    let dir = tempfile::tempdir().unwrap();
    let d = disk(dir.path()).await;
    let size = 4 * MIB;
    let want = pattern(size);
    d.create(DiskSpec::new("pattern", DiskFormat::Raw, size))
        .await
        .unwrap();
    std::fs::write(file_of(&d, "pattern").await, &want).unwrap();

    for from in DiskFormat::ALL {
        let source = format!("src-{from}");
        d.convert("pattern", from, &source).await.unwrap();
        for to in DiskFormat::ALL.into_iter().filter(|t| *t != from) {
            let target = format!("{from}-to-{to}");
            let out = d.convert(&source, to, &target).await.unwrap();
            assert_eq!((out.format, out.virtual_size), (to, size), "{target}");
            let got = raw_bytes(&d, &target, "check").await;
            assert!(got == want, "{from} → {to} changed the content");
            d.delete(&target).await.unwrap();
        }
        d.delete(&source).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn grows_every_format_and_shrinks_only_where_it_can() {
    let dir = tempfile::tempdir().unwrap();
    let d = disk(dir.path()).await;
    let want = pattern(MIB);
    d.create(DiskSpec::new("seed", DiskFormat::Raw, MIB))
        .await
        .unwrap();
    std::fs::write(file_of(&d, "seed").await, &want).unwrap();
    for format in DiskFormat::ALL {
        let name = format!("grow-{format}");
        d.convert("seed", format, &name).await.unwrap();
        let grown = d
            .resize(&name, nubes_core::DiskResizeRequest::new(8 * MIB))
            .await
            .unwrap();
        assert_eq!(grown.virtual_size, 8 * MIB, "{format}");
        let got = raw_bytes(&d, &name, "check").await;
        assert!(
            got[..MIB as usize] == want[..],
            "{format} lost data growing"
        );
        assert!(got[MIB as usize..].iter().all(|b| *b == 0), "{format}");
        let shrink = nubes_core::DiskResizeRequest::new(MIB).allow_shrink();
        let shrunk = d.resize(&name, shrink).await;
        match format {
            DiskFormat::Qcow2 | DiskFormat::Raw => {
                assert_eq!(shrunk.unwrap().virtual_size, MIB, "{format}")
            }
            _ => assert_eq!(
                shrunk.unwrap_err().kind(),
                ErrorKind::Unsupported,
                "{format}"
            ),
        }
        d.delete(&name).await.unwrap();
    }
    // Nothing half-made is left in the pool.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|f| f.ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn overlays_share_their_base_and_keep_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = disk(dir.path()).await;
    let want = pattern(2 * MIB);
    d.create(DiskSpec::new("base", DiskFormat::Raw, 2 * MIB))
        .await
        .unwrap();
    std::fs::write(file_of(&d, "base").await, &want).unwrap();
    let overlay = d
        .create(DiskSpec::new("vm-root", DiskFormat::Qcow2, 2 * MIB).backing("base"))
        .await
        .unwrap();
    assert_eq!(overlay.backing.as_deref(), Some("base"));
    assert_eq!(
        d.get("vm-root").await.unwrap().backing.as_deref(),
        Some("base")
    );
    assert!(
        raw_bytes(&d, "vm-root", "flat").await == want,
        "the overlay reads its base"
    );
    assert_eq!(
        d.delete("base").await.unwrap_err().kind(),
        ErrorKind::Conflict,
        "a base in use stays"
    );
    // Renaming the base keeps the link: it is by id.
    d.rename("base", "golden").await.unwrap();
    assert_eq!(
        d.get("vm-root").await.unwrap().backing.as_deref(),
        Some("golden")
    );
    // Spec rules are the `Cloud`'s to check (the pool takes what passed them).
    let checked = nubes_core::Cloud::new("qemu").with_disk(Arc::new(d.clone()));
    assert_eq!(
        checked
            .disk()
            .unwrap()
            .create(DiskSpec::new("x", DiskFormat::Raw, MIB).backing("golden"))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput,
        "only qcow2 overlays"
    );
    assert_eq!(
        d.create(DiskSpec::new("y", DiskFormat::Qcow2, MIB).backing("ghost"))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
    d.delete("vm-root").await.unwrap();
    d.delete("golden").await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn conversions_report_progress() {
    let dir = tempfile::tempdir().unwrap();
    let d = disk(dir.path()).await;
    d.create(DiskSpec::new("big", DiskFormat::Raw, 64 * MIB))
        .await
        .unwrap();
    std::fs::write(file_of(&d, "big").await, pattern(64 * MIB)).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    d.convert_with_progress(
        "big",
        DiskFormat::Qcow2,
        "big-q",
        Box::new(move |p| sink.lock().unwrap().push(p)),
    )
    .await
    .unwrap();
    let seen = seen.lock().unwrap().clone();
    assert!(seen.len() >= 2, "{seen:?}");
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
    assert_eq!(seen.last().copied(), Some(100.0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reopened_pool_sweeps_what_was_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let d = disk(dir.path()).await;
    d.create(DiskSpec::new("kept", DiskFormat::Qcow2, MIB))
        .await
        .unwrap();
    // What a crash mid-create or mid-convert leaves: an image without a record, a scratch file.
    std::fs::write(dir.path().join("0123456789abcdef.qcow2"), b"half").unwrap();
    std::fs::write(dir.path().join("fedcba9876543210.vdi.tmp"), b"half").unwrap();
    let d = disk(dir.path()).await;
    let mut files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "{files:?}");
    assert_eq!(d.list().await.unwrap().len(), 1);
}
