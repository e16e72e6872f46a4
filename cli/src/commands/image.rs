use std::collections::HashMap;
use std::path::Path;

use futures::StreamExt;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use nubes::docker::{Engine, ImageInfo};
use nubes::{Error, Result};
use tokio_util::io::ReaderStream;

use crate::args::ImageCmd;
use crate::output::{self, Format, Tabular};
use crate::Outcome;

impl Tabular for ImageInfo {
    const HEADERS: &'static [&'static str] = &["ID", "TAGS", "SIZE", "CREATED"];

    fn row(&self) -> Vec<String> {
        vec![
            self.id
                .trim_start_matches("sha256:")
                .chars()
                .take(12)
                .collect(),
            if self.tags.is_empty() {
                "-".into()
            } else {
                self.tags.join(",")
            },
            output::bytes(Some(self.size)),
            output::time(self.created_at),
        ]
    }
}

async fn engine(provider: &str) -> Result<std::sync::Arc<Engine>> {
    if !provider.starts_with("docker") {
        return Err(Error::unsupported(format!(
            "images are managed on a Docker engine; --provider {provider} is not one"
        )));
    }
    Engine::connect(provider).await
}

pub async fn run(provider: &str, cmd: ImageCmd, format: Format) -> Outcome {
    let engine = engine(provider).await?;
    match cmd {
        ImageCmd::List => output::list(format, &engine.list_images().await?),
        ImageCmd::Delete { reference } => {
            engine.delete_image(&reference).await?;
            eprintln!("deleted image {reference}");
        }
        ImageCmd::Pull { reference } => {
            let bars = MultiProgress::new();
            let mut layers: HashMap<String, ProgressBar> = HashMap::new();
            let style =
                ProgressStyle::with_template("{prefix:12} {msg:20} {bar:30} {bytes}/{total_bytes}")
                    .expect("valid template");
            engine
                .pull_image(&reference, |p| {
                    let Some(layer) = p.layer else { return };
                    let bar = layers.entry(layer.clone()).or_insert_with(|| {
                        let bar = bars.add(ProgressBar::new(0).with_style(style.clone()));
                        bar.set_prefix(layer);
                        bar
                    });
                    bar.set_message(p.status);
                    if let (Some(current), Some(total)) = (p.current, p.total) {
                        bar.set_length(total);
                        bar.set_position(current);
                    }
                })
                .await?;
            output::one(format, &engine.image(&reference).await?)
        }
        ImageCmd::Import {
            file,
            name,
            changes,
        } => {
            let bar =
                ProgressBar::new_spinner().with_message(format!("importing {}", file.display()));
            let info = if file == Path::new("-") {
                let stream = ReaderStream::new(tokio::io::stdin());
                engine.import_image(&name, stream, changes).await?
            } else {
                let f = tokio::fs::File::open(&file)
                    .await
                    .map_err(|e| nubes::Error::io(e, &file.display().to_string()))?;
                let len = f.metadata().await.map(|m| m.len()).unwrap_or(0);
                bar.set_length(len);
                bar.set_style(
                    ProgressStyle::with_template("{msg} {bar:30} {bytes}/{total_bytes}")
                        .expect("valid template"),
                );
                let counted = bar.clone();
                let stream = ReaderStream::new(f).inspect(move |chunk| {
                    if let Ok(c) = chunk {
                        counted.inc(c.len() as u64);
                    }
                });
                engine.import_image(&name, stream, changes).await?
            };
            bar.finish_and_clear();
            output::one(format, &info)
        }
    }
    Ok(0)
}
