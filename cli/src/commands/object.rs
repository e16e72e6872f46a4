use std::path::Path;

use futures::{StreamExt, TryStreamExt};
use indicatif::{ProgressBar, ProgressStyle};
use nubes::multipart::{put_multipart, MultipartOptions};
use nubes::prelude::*;
use nubes::{GetOptions, ListObjectsOptions, ObjectMeta, PresignMethod};
use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio_util::io::ReaderStream;

use crate::args::ObjectCmd;
use crate::output::{self, Format, Tabular};
use crate::Outcome;

impl Tabular for ObjectMeta {
    const HEADERS: &'static [&'static str] = &["KEY", "SIZE", "MODIFIED"];

    fn row(&self) -> Vec<String> {
        vec![
            self.key.clone(),
            output::bytes(Some(self.size)),
            output::time(self.last_modified),
        ]
    }
}

/// A page for `-o json|yaml`, with the token for the next one.
#[derive(Serialize)]
struct Page<'a> {
    objects: &'a [ObjectMeta],
    next: Option<&'a str>,
}

/// Files larger than this go up as multipart uploads where the provider takes them.
const MULTIPART_FROM: u64 = 64 << 20;

fn bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len).with_message(what.to_string());
    bar.set_style(
        ProgressStyle::with_template("{msg} {bar:30} {bytes}/{total_bytes} {bytes_per_sec}")
            .expect("valid template"),
    );
    bar
}

pub async fn run(cloud: &Cloud, cmd: ObjectCmd, format: Format) -> Outcome {
    let storage = cloud.storage()?;
    match cmd {
        ObjectCmd::Put {
            bucket,
            key,
            file,
            part_size,
            parallel,
        } => {
            let meta = if file == Path::new("-") {
                let body = ReaderStream::new(tokio::io::stdin())
                    .map_err(|e| Error::io(e, "stdin"))
                    .boxed();
                match part_size {
                    Some(size) => {
                        let options = MultipartOptions::default()
                            .part_size(size)
                            .concurrency(parallel);
                        put_multipart(storage.as_ref(), &bucket, &key, body, &options).await?
                    }
                    None => storage.put(&bucket, &key, body).await?,
                }
            } else {
                let name = file.display().to_string();
                let f = tokio::fs::File::open(&file)
                    .await
                    .map_err(|e| Error::io(e, &name))?;
                let len = f.metadata().await.map_err(|e| Error::io(e, &name))?.len();
                let progress = bar(len, &format!("uploading {name}"));
                let multipart =
                    part_size.is_some() || (len > MULTIPART_FROM && storage.capability().multipart);
                let counted = progress.clone();
                let body = ReaderStream::with_capacity(f, 256 * 1024)
                    .map_err(move |e| Error::io(e, &name))
                    .inspect_ok(move |chunk| {
                        if !multipart {
                            counted.inc(chunk.len() as u64)
                        }
                    })
                    .boxed();
                let meta = if multipart {
                    // The bar shows what is stored, part by part, not what was read.
                    let stored = progress.clone();
                    let options = MultipartOptions::default()
                        .part_size(part_size.unwrap_or(8 << 20))
                        .concurrency(parallel)
                        .progress(move |n| stored.set_position(n));
                    put_multipart(storage.as_ref(), &bucket, &key, body, &options).await
                } else {
                    storage.put(&bucket, &key, body).await
                };
                progress.finish_and_clear();
                meta?
            };
            output::one(format, &meta)
        }
        ObjectCmd::Get {
            bucket,
            key,
            file,
            range,
        } => {
            let mut options = GetOptions::default();
            options.range = range;
            let got = storage.get(&bucket, &key, options).await?;
            let mut body = got.body.0;
            // `-` is stdout, as it is stdin for `put`.
            match file.filter(|f| f != Path::new("-")) {
                None => {
                    let mut out = tokio::io::stdout();
                    while let Some(chunk) = body.next().await {
                        out.write_all(&chunk?)
                            .await
                            .map_err(|e| Error::io(e, "stdout"))?;
                    }
                    out.flush().await.map_err(|e| Error::io(e, "stdout"))?;
                }
                Some(path) => {
                    let name = path.display().to_string();
                    // Download next to the target and rename, so a failed download keeps the old file.
                    let tmp = path.with_extension("nubes-partial");
                    let progress = bar(
                        got.range.end - got.range.start,
                        &format!("downloading {key}"),
                    );
                    let result = async {
                        let mut out = tokio::fs::File::create(&tmp)
                            .await
                            .map_err(|e| Error::io(e, &name))?;
                        while let Some(chunk) = body.next().await {
                            let chunk = chunk?;
                            out.write_all(&chunk)
                                .await
                                .map_err(|e| Error::io(e, &name))?;
                            progress.inc(chunk.len() as u64);
                        }
                        out.sync_all().await.map_err(|e| Error::io(e, &name))?;
                        tokio::fs::rename(&tmp, &path)
                            .await
                            .map_err(|e| Error::io(e, &name))
                    }
                    .await;
                    progress.finish_and_clear();
                    if result.is_err() {
                        let _ = tokio::fs::remove_file(&tmp).await;
                    }
                    result?;
                    eprintln!("wrote {} bytes to {name}", got.range.end - got.range.start);
                }
            }
        }
        ObjectCmd::Head { bucket, key } => output::one(format, &storage.head(&bucket, &key).await?),
        ObjectCmd::List {
            bucket,
            prefix,
            limit,
            continuation,
        } => {
            let mut options = ListObjectsOptions::default();
            options.prefix = prefix;
            options.limit = limit;
            options.continuation = continuation;
            let page = storage.list(&bucket, options).await?;
            match format {
                Format::Table => {
                    output::list(format, &page.objects);
                    if let Some(next) = &page.next {
                        eprintln!("more: --continuation {next}");
                    }
                }
                _ => output::structured(
                    format,
                    &Page {
                        objects: &page.objects,
                        next: page.next.as_deref(),
                    },
                ),
            }
        }
        ObjectCmd::Delete { bucket, key } => {
            storage.delete(&bucket, &key).await?;
            eprintln!("deleted {bucket}/{key}");
        }
        ObjectCmd::Presign {
            bucket,
            key,
            put,
            expires,
        } => {
            let method = if put {
                PresignMethod::Put
            } else {
                PresignMethod::Get
            };
            let signed = storage.presign(&bucket, &key, method, expires).await?;
            match format {
                // The URL alone on stdout, so `curl "$(cloudctl object presign b k)"` works.
                Format::Table => {
                    println!("{}", signed.url);
                    for (name, value) in &signed.headers {
                        eprintln!("send header {name}: {value}");
                    }
                    eprintln!("expires {}", output::time(Some(signed.expires_at)));
                }
                _ => output::structured(format, &signed),
            }
        }
    }
    Ok(0)
}
