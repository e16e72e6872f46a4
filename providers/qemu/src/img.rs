//! qemu-img, run as a child process with an argument list (never through a shell): the
//! command lines are built by pure functions, so what runs is unit-tested.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use nubes_core::{DiskFormat, Error, ErrorKind, Result};
use serde::Deserialize;
use tokio::io::AsyncReadExt;
use tokio::process::Command;

use crate::SCHEME;

/// The qemu-img program; `NUBES_QEMU_IMG` overrides it.
pub fn program() -> PathBuf {
    std::env::var_os("NUBES_QEMU_IMG")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("qemu-img"))
}

/// `qemu-img create`: a new image, or a qcow2 overlay on `backing` (whose size it takes).
pub fn create_args(
    path: &Path,
    format: DiskFormat,
    size: u64,
    backing: Option<(&Path, DiskFormat)>,
) -> Vec<String> {
    let mut args = vec![
        "create".into(),
        "-q".into(),
        "-f".into(),
        format.to_string(),
    ];
    if let Some((file, backing_format)) = backing {
        args.extend([
            "-b".into(),
            file.display().to_string(),
            "-F".into(),
            backing_format.to_string(),
        ]);
    }
    args.push(path.display().to_string());
    args.push(size.to_string());
    args
}

/// `-U`: a running VM holds its disk's lock, and reading the header is safe beside it.
pub fn info_args(path: &Path, format: DiskFormat) -> Vec<String> {
    vec![
        "info".into(),
        "-U".into(),
        "--output=json".into(),
        "-f".into(),
        format.to_string(),
        path.display().to_string(),
    ]
}

pub fn resize_args(path: &Path, format: DiskFormat, size: u64, shrink: bool) -> Vec<String> {
    let mut args = vec![
        "resize".into(),
        "-q".into(),
        "-f".into(),
        format.to_string(),
    ];
    if shrink {
        args.push("--shrink".into());
    }
    args.push(path.display().to_string());
    args.push(size.to_string());
    args
}

/// `qemu-img convert` with progress on stdout (`-p`).
pub fn convert_args(
    from: &Path,
    from_format: DiskFormat,
    to: &Path,
    to_format: DiskFormat,
) -> Vec<String> {
    vec![
        "convert".into(),
        "-p".into(),
        "-f".into(),
        from_format.to_string(),
        "-O".into(),
        to_format.to_string(),
        from.display().to_string(),
        to.display().to_string(),
    ]
}

/// Whether qemu-img can resize images of this format in place.
pub fn resizes_in_place(format: DiskFormat) -> bool {
    matches!(format, DiskFormat::Qcow2 | DiskFormat::Raw)
}

/// What `qemu-img info --output=json` says of an image.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Info {
    pub format: String,
    #[serde(rename = "virtual-size")]
    pub virtual_size: u64,
    #[serde(rename = "actual-size")]
    pub actual_size: Option<u64>,
    #[serde(rename = "backing-filename")]
    pub backing_filename: Option<String>,
}

pub fn parse_info(json: &[u8]) -> Result<Info> {
    serde_json::from_slice(json).map_err(|e| {
        Error::unexpected(format!("qemu-img info said something unreadable: {e}"))
            .with_provider(SCHEME)
    })
}

/// The percentages in `-p` output: `    (12.34/100%)\r` again and again.
pub fn parse_progress(output: &str) -> Vec<f32> {
    output
        .split(['\r', '\n'])
        .filter_map(|piece| {
            let inner = piece.trim().strip_prefix('(')?.strip_suffix("/100%)")?;
            inner.parse::<f32>().ok()
        })
        .collect()
}

/// Runs qemu-img; stdout on success, its own message as the error otherwise.
pub async fn run(args: &[String]) -> Result<Vec<u8>> {
    run_with_progress(args, &mut |_| {}).await
}

/// Runs qemu-img, passing each progress percentage it prints to `progress`.
pub async fn run_with_progress(
    args: &[String],
    progress: &mut (dyn FnMut(f32) + Send),
) -> Result<Vec<u8>> {
    let mut child = Command::new(program())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            let kind = if e.kind() == std::io::ErrorKind::NotFound {
                ErrorKind::Unsupported
            } else {
                ErrorKind::Unexpected
            };
            Error::new(kind, format!("cannot run {}: {e}", program().display()))
                .with_provider(SCHEME)
        })?;
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let errors = tokio::spawn(async move {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf).await;
        buf
    });
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stdout.read(&mut buf).await.map_err(|e| {
            Error::unexpected(format!("reading qemu-img failed: {e}")).with_provider(SCHEME)
        })?;
        if n == 0 {
            break;
        }
        for p in parse_progress(&String::from_utf8_lossy(&buf[..n])) {
            progress(p);
        }
        out.extend_from_slice(&buf[..n]);
    }
    let status = child.wait().await.map_err(|e| {
        Error::unexpected(format!("waiting for qemu-img failed: {e}")).with_provider(SCHEME)
    })?;
    let errors = errors.await.unwrap_or_default();
    if status.success() {
        return Ok(out);
    }
    let said = String::from_utf8_lossy(&errors).trim().to_string();
    Err(classify(&said).with_provider(SCHEME))
}

/// qemu-img's own words as an error of the right kind.
fn classify(said: &str) -> Error {
    let lower = said.to_lowercase();
    let kind = if lower.contains("does not support") || lower.contains("not supported") {
        ErrorKind::Unsupported
    } else if lower.contains("no space left") {
        ErrorKind::QuotaExceeded
    } else if lower.contains("shrink") || lower.contains("invalid") {
        ErrorKind::InvalidInput
    } else {
        ErrorKind::Unexpected
    };
    let said = said.strip_prefix("qemu-img: ").unwrap_or(said);
    Error::new(kind, format!("qemu-img: {said}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines() {
        let p = Path::new("/pool/ab12.qcow2");
        assert_eq!(
            create_args(p, DiskFormat::Qcow2, 1 << 30, None),
            [
                "create",
                "-q",
                "-f",
                "qcow2",
                "/pool/ab12.qcow2",
                "1073741824"
            ]
        );
        assert_eq!(
            create_args(
                p,
                DiskFormat::Qcow2,
                0,
                Some((Path::new("/pool/base.raw"), DiskFormat::Raw))
            ),
            [
                "create",
                "-q",
                "-f",
                "qcow2",
                "-b",
                "/pool/base.raw",
                "-F",
                "raw",
                "/pool/ab12.qcow2",
                "0"
            ]
        );
        assert_eq!(
            resize_args(p, DiskFormat::Qcow2, 5, true),
            [
                "resize",
                "-q",
                "-f",
                "qcow2",
                "--shrink",
                "/pool/ab12.qcow2",
                "5"
            ]
        );
        assert_eq!(
            convert_args(
                p,
                DiskFormat::Qcow2,
                Path::new("/pool/cd.vdi"),
                DiskFormat::Vdi
            ),
            [
                "convert",
                "-p",
                "-f",
                "qcow2",
                "-O",
                "vdi",
                "/pool/ab12.qcow2",
                "/pool/cd.vdi"
            ]
        );
    }

    #[test]
    fn info_and_progress_are_read() {
        let info = parse_info(
            br#"{"virtual-size": 1073741824, "filename": "x", "format": "qcow2",
                "actual-size": 200704, "backing-filename": "/pool/b.raw", "dirty-flag": false}"#,
        )
        .unwrap();
        assert_eq!(
            (info.format.as_str(), info.virtual_size, info.actual_size),
            ("qcow2", 1 << 30, Some(200704))
        );
        assert_eq!(info.backing_filename.as_deref(), Some("/pool/b.raw"));
        assert_eq!(
            parse_progress("    (0.00/100%)\r    (50.25/100%)\r    (100.00/100%)\r\n"),
            [0.0, 50.25, 100.0]
        );
    }

    #[test]
    fn errors_keep_their_kind() {
        let e = classify("qemu-img: Image format 'vhdx' does not support resize");
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert!(e.message().starts_with("qemu-img: Image format"), "{e}");
    }
}
