use super::{ensure, expect_kind, CaseResult, Fixture, Report, Runner};
use crate::disk::*;
use crate::{ErrorKind, Result};

const GIB: u64 = 1 << 30;

/// Runs the Disk suite.
pub async fn disk(d: &dyn Disk, fx: &Fixture) -> Report {
    let cap = d.capability();
    let mut r = Runner::new("disk", d.provider(), fx);
    r.case("create_get_list_delete", basics(d, fx)).await;
    r.case("bad_input", bad_input(d, fx)).await;
    if cap.resize {
        r.case("resize", resize(d, fx)).await;
    } else {
        r.skip("resize", "capability resize is off");
    }
    if cap.convert {
        r.case("convert", convert(d, fx)).await;
    } else {
        r.skip("convert", "capability convert is off");
    }
    if cap.formats.contains(&DiskFormat::Qcow2) {
        r.case("backing", backing(d, fx)).await;
    } else {
        r.skip("backing", "qcow2 is not among the formats");
    }
    if cap.rename {
        r.case("rename", rename(d, fx)).await;
    } else {
        r.skip("rename", "capability rename is off");
    }
    let cleanup = cleanup(d, fx).await;
    r.finish(cleanup)
}

async fn cleanup(d: &dyn Disk, fx: &Fixture) -> Result<()> {
    for image in d.list().await? {
        if image.name.starts_with(fx.prefix()) {
            d.delete(&image.name).await?;
        }
    }
    Ok(())
}

fn first_format(d: &dyn Disk) -> DiskFormat {
    d.capability()
        .formats
        .first()
        .copied()
        .unwrap_or(DiskFormat::Raw)
}

async fn basics(d: &dyn Disk, fx: &Fixture) -> CaseResult {
    for format in d.capability().formats {
        let name = fx.name(&format!("basic-{format}"));
        let image = d.create(DiskSpec::new(name.clone(), format, GIB)).await?;
        ensure!(
            image.format == format && image.virtual_size == GIB,
            "created {image:?}"
        );
        ensure!(d.get(&name).await? == image, "get differs from create");
        ensure!(
            d.list().await?.iter().any(|i| i.name == name),
            "{name} not listed"
        );
        expect_kind(
            d.create(DiskSpec::new(name.clone(), format, GIB)).await,
            ErrorKind::AlreadyExists,
            "create twice",
        )?;
        d.delete(&name).await?;
        expect_kind(d.get(&name).await, ErrorKind::NotFound, "get after delete")?;
        expect_kind(d.delete(&name).await, ErrorKind::NotFound, "delete twice")?;
    }
    Ok(())
}

async fn bad_input(d: &dyn Disk, fx: &Fixture) -> CaseResult {
    let f = first_format(d);
    expect_kind(
        d.create(DiskSpec::new(fx.name("zero"), f, 0)).await,
        ErrorKind::InvalidInput,
        "zero size",
    )?;
    expect_kind(
        d.create(DiskSpec::new("../escape", f, GIB)).await,
        ErrorKind::InvalidInput,
        "path name",
    )?;
    expect_kind(
        d.create(DiskSpec::new("Bad Name", f, GIB)).await,
        ErrorKind::InvalidInput,
        "invalid name",
    )?;
    expect_kind(
        d.get(&fx.name("ghost")).await,
        ErrorKind::NotFound,
        "get missing",
    )?;
    Ok(())
}

async fn resize(d: &dyn Disk, fx: &Fixture) -> CaseResult {
    let name = fx.name("resize");
    d.create(DiskSpec::new(name.clone(), first_format(d), GIB))
        .await?;
    let grown = d.resize(&name, DiskResizeRequest::new(2 * GIB)).await?;
    ensure!(
        grown.virtual_size == 2 * GIB,
        "grown to {}",
        grown.virtual_size
    );
    expect_kind(
        d.resize(&name, DiskResizeRequest::new(GIB)).await,
        ErrorKind::InvalidInput,
        "shrink without asking",
    )?;
    ensure!(
        d.get(&name).await?.virtual_size == 2 * GIB,
        "refused shrink changed the size"
    );
    if d.capability().shrink {
        let shrunk = d
            .resize(&name, DiskResizeRequest::new(GIB).allow_shrink())
            .await?;
        ensure!(
            shrunk.virtual_size == GIB,
            "shrunk to {}",
            shrunk.virtual_size
        );
    } else {
        expect_kind(
            d.resize(&name, DiskResizeRequest::new(GIB).allow_shrink())
                .await,
            ErrorKind::Unsupported,
            "shrink where disks only grow",
        )?;
    }
    expect_kind(
        d.resize(&name, DiskResizeRequest::new(0)).await,
        ErrorKind::InvalidInput,
        "zero size",
    )?;
    expect_kind(
        d.resize(&fx.name("ghost"), DiskResizeRequest::new(GIB))
            .await,
        ErrorKind::NotFound,
        "resize missing",
    )?;
    d.delete(&name).await?;
    Ok(())
}

async fn convert(d: &dyn Disk, fx: &Fixture) -> CaseResult {
    let formats = d.capability().formats;
    let name = fx.name("conv");
    d.create(DiskSpec::new(name.clone(), formats[0], GIB))
        .await?;
    for (i, format) in formats.iter().enumerate() {
        let target = fx.name(&format!("conv{i}"));
        let out = d.convert(&name, *format, &target).await?;
        ensure!(
            out.format == *format && out.virtual_size == GIB && out.name == target,
            "converted {out:?}"
        );
        ensure!(d.get(&name).await?.format == formats[0], "source changed");
        d.delete(&target).await?;
    }
    expect_kind(
        d.convert(&name, formats[0], &name).await,
        ErrorKind::AlreadyExists,
        "convert onto itself",
    )?;
    expect_kind(
        d.convert(&fx.name("ghost"), formats[0], &fx.name("x"))
            .await,
        ErrorKind::NotFound,
        "convert missing",
    )?;
    expect_kind(
        d.convert(&name, formats[0], "../x").await,
        ErrorKind::InvalidInput,
        "bad target name",
    )?;
    d.delete(&name).await?;
    Ok(())
}

async fn backing(d: &dyn Disk, fx: &Fixture) -> CaseResult {
    let (base, overlay, moved) = (fx.name("base"), fx.name("overlay"), fx.name("golden"));
    d.create(DiskSpec::new(base.clone(), DiskFormat::Qcow2, GIB))
        .await?;
    let o = d
        .create(DiskSpec::new(overlay.clone(), DiskFormat::Qcow2, GIB).backing(base.clone()))
        .await?;
    ensure!(o.backing.as_deref() == Some(base.as_str()), "created {o:?}");
    ensure!(
        d.get(&overlay).await?.backing.as_deref() == Some(base.as_str()),
        "get lost the base"
    );
    ensure!(
        d.list()
            .await?
            .iter()
            .any(|i| i.name == overlay && i.backing.as_deref() == Some(base.as_str())),
        "list lost the base"
    );
    expect_kind(
        d.delete(&base).await,
        ErrorKind::Conflict,
        "delete a base in use",
    )?;
    if d.capability().rename {
        d.rename(&base, &moved).await?;
        ensure!(
            d.get(&overlay).await?.backing.as_deref() == Some(moved.as_str()),
            "the overlay lost its renamed base"
        );
    }
    let base_now = if d.capability().rename { &moved } else { &base };
    expect_kind(
        d.create(
            DiskSpec::new(fx.name("ghostly"), DiskFormat::Qcow2, GIB).backing(fx.name("ghost")),
        )
        .await,
        ErrorKind::NotFound,
        "a missing base",
    )?;
    expect_kind(
        d.create(DiskSpec::new(fx.name("rawlay"), DiskFormat::Raw, GIB).backing(base_now.clone()))
            .await,
        ErrorKind::InvalidInput,
        "a raw overlay",
    )?;
    d.delete(&overlay).await?;
    d.delete(base_now).await?;
    Ok(())
}

async fn rename(d: &dyn Disk, fx: &Fixture) -> CaseResult {
    let (a, b, c) = (fx.name("rena"), fx.name("renb"), fx.name("renc"));
    let f = first_format(d);
    d.create(DiskSpec::new(a.clone(), f, GIB)).await?;
    d.create(DiskSpec::new(c.clone(), f, GIB)).await?;
    let moved = d.rename(&a, &b).await?;
    ensure!(moved.name == b, "renamed {moved:?}");
    expect_kind(d.get(&a).await, ErrorKind::NotFound, "old name")?;
    expect_kind(
        d.rename(&b, &c).await,
        ErrorKind::AlreadyExists,
        "rename onto another",
    )?;
    expect_kind(
        d.rename(&b, "Bad Name").await,
        ErrorKind::InvalidInput,
        "rename to an invalid name",
    )?;
    d.delete(&b).await?;
    d.delete(&c).await?;
    Ok(())
}
