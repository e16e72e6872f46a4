use indicatif::{ProgressBar, ProgressStyle};
use nubes::prelude::*;
use nubes::{DiskImage, DiskResizeRequest, DiskSpec, Error};

use crate::args::DiskCmd;
use crate::output::{self, Format, Tabular};
use crate::{parse, Outcome};

impl Tabular for DiskImage {
    const HEADERS: &'static [&'static str] =
        &["NAME", "FORMAT", "SIZE", "USED", "BACKING", "CREATED"];

    fn row(&self) -> Vec<String> {
        vec![
            self.name.clone(),
            self.format.to_string(),
            output::bytes(Some(self.virtual_size)),
            output::bytes(self.actual_size),
            self.backing.clone().unwrap_or_else(|| "-".into()),
            output::time(self.created_at),
        ]
    }
}

pub async fn run(cloud: &Cloud, cmd: DiskCmd, format: Format) -> Outcome {
    let disk = cloud.disk()?;
    match cmd {
        DiskCmd::Create {
            name,
            size,
            format: f,
            backing,
        } => {
            let mut spec = DiskSpec::new(name, f, size);
            spec.backing = backing;
            output::one(format, &disk.create(spec).await?)
        }
        DiskCmd::List => output::list(format, &disk.list().await?),
        DiskCmd::Info { name } => output::one(format, &disk.get(&name).await?),
        DiskCmd::Resize { name, size, shrink } => {
            let size = match size.strip_prefix('+') {
                Some(by) => {
                    let by = parse::size(by).map_err(Error::invalid_input)?;
                    let current = disk.get(&name).await?.virtual_size;
                    current.checked_add(by).ok_or_else(|| {
                        Error::invalid_input(format!("{current} + {by} bytes is too large"))
                    })?
                }
                None => parse::size(&size).map_err(Error::invalid_input)?,
            };
            let mut request = DiskResizeRequest::new(size);
            if shrink {
                request = request.allow_shrink();
            }
            output::one(format, &disk.resize(&name, request).await?)
        }
        DiskCmd::Convert {
            name,
            format: f,
            target,
        } => {
            let bar = ProgressBar::new(100).with_message(format!("{name} → {target}"));
            bar.set_style(
                ProgressStyle::with_template("{msg} [{bar:30}] {pos}%")
                    .expect("a valid template")
                    .progress_chars("=> "),
            );
            let shown = bar.clone();
            let converted = disk
                .convert_with_progress(
                    &name,
                    f,
                    &target,
                    Box::new(move |p| shown.set_position(p.clamp(0.0, 100.0) as u64)),
                )
                .await;
            bar.finish_and_clear();
            output::one(format, &converted?)
        }
        DiskCmd::Rename { name, new_name } => {
            output::one(format, &disk.rename(&name, &new_name).await?)
        }
        DiskCmd::Delete { name } => {
            disk.delete(&name).await?;
            eprintln!("deleted disk {name}");
        }
    }
    Ok(0)
}
