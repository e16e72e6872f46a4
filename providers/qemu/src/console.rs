//! A VM's console output, from the file its serial port writes: the last lines, then, when
//! following, what it writes next until the VM stops.

use std::path::PathBuf;
use std::time::Duration;

use nubes_core::{
    Compute, Error, InstanceState, LogChunk, LogOptions, LogStream, LogStreamKind, Result,
};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::compute::QemuCompute;
use crate::SCHEME;

/// The last `n` lines of `data`.
pub fn tail(data: &[u8], n: u64) -> &[u8] {
    if n == 0 {
        return &data[data.len()..];
    }
    let mut seen = 0;
    // A final newline ends the last line; it does not start another.
    let end = data
        .len()
        .saturating_sub(usize::from(data.ends_with(b"\n")));
    for (i, b) in data[..end].iter().enumerate().rev() {
        if *b == b'\n' {
            seen += 1;
            if seen == n {
                return &data[i + 1..];
            }
        }
    }
    data
}

pub async fn read(
    compute: QemuCompute,
    id: String,
    path: PathBuf,
    options: LogOptions,
) -> Result<LogStream> {
    let data = match tokio::fs::read(&path).await {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            return Err(
                Error::unexpected(format!("cannot read the console: {e}")).with_provider(SCHEME)
            )
        }
    };
    let offset = data.len() as u64;
    let first = match options.tail {
        Some(n) => tail(&data, n).to_vec(),
        None => data,
    };
    let chunk = |data: Vec<u8>| LogChunk {
        stream: LogStreamKind::Stdout,
        data: data.into(),
    };
    let start = futures::stream::iter((!first.is_empty()).then(|| Ok(chunk(first))));
    if !options.follow {
        return Ok(Box::pin(start));
    }
    let rest = futures::stream::unfold(Some(offset), move |state| {
        let (compute, id, path) = (compute.clone(), id.clone(), path.clone());
        async move {
            let mut offset = state?;
            loop {
                let mut more = Vec::new();
                if let Ok(mut f) = tokio::fs::File::open(&path).await {
                    if f.seek(std::io::SeekFrom::Start(offset)).await.is_ok() {
                        let _ = f.read_to_end(&mut more).await;
                    }
                }
                if !more.is_empty() {
                    offset += more.len() as u64;
                    return Some((Ok(chunk(more)), Some(offset)));
                }
                match compute.get(&id).await {
                    Ok(i) if i.state == InstanceState::Running => {}
                    // Stopped or gone: the output has ended.
                    _ => return None,
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    });
    Ok(Box::pin(futures::StreamExt::chain(start, rest)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tails() {
        assert_eq!(tail(b"a\nb\nc\n", 2), b"b\nc\n");
        assert_eq!(tail(b"a\nb\nc", 2), b"b\nc");
        assert_eq!(tail(b"a\nb\n", 5), b"a\nb\n");
        assert_eq!(tail(b"a\nb\n", 0), b"");
    }
}
