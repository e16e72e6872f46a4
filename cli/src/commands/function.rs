use std::io::Write;

use nubes::prelude::*;
use nubes::{FunctionInfo, FunctionSpec};

use crate::args::FunctionCmd;
use crate::output::{self, Format, Tabular};
use crate::Outcome;

impl Tabular for FunctionInfo {
    const HEADERS: &'static [&'static str] = &[
        "NAME", "IMAGE", "HANDLER", "CPUS", "MEMORY", "TIMEOUT", "CREATED",
    ];

    fn row(&self) -> Vec<String> {
        vec![
            self.name.clone(),
            self.image.clone(),
            self.handler.join(" "),
            output::or_dash(self.cpus),
            output::bytes(self.memory),
            output::or_dash(self.timeout.map(|t| format!("{t:?}"))),
            output::time(self.created_at),
        ]
    }
}

pub async fn run(cloud: &Cloud, cmd: FunctionCmd, format: Format) -> Outcome {
    let functions = cloud.function()?;
    match cmd {
        FunctionCmd::Deploy {
            name,
            image,
            cpus,
            memory,
            timeout,
            env,
            handler,
            code,
        } => {
            let mut spec = FunctionSpec::new(name, image, handler);
            if let Some(code) = code {
                spec.code = Some(archive(&code).await?);
            }
            spec.cpus = cpus;
            spec.memory = memory;
            spec.timeout = timeout;
            spec.env = env.into_iter().collect();
            output::one(format, &functions.deploy(spec).await?)
        }
        FunctionCmd::Invoke {
            name,
            payload,
            payload_file,
            detach,
        } => {
            let payload = match (payload, payload_file) {
                (Some(p), _) => p.into(),
                (None, Some(file)) => super::read_input(&file).await?,
                (None, None) => super::read_input("-".as_ref()).await?,
            };
            if detach {
                let started = functions.invoke_async(&name, payload).await?;
                println!("{}", started.id);
                return Ok(0);
            }
            let out = functions.invoke(&name, payload).await?;
            let _ = std::io::stdout()
                .write_all(&out.payload)
                .and_then(|()| std::io::stdout().flush());
            if let Some(err) = out.error {
                let Some(code) = err.exit_code.filter(|c| (1..=255).contains(c)) else {
                    eprintln!("function {name} failed: {}", err.message);
                    return Ok(1);
                };
                eprintln!(
                    "function {name} failed with exit code {code}: {}",
                    err.message
                );
                return Ok(code as i32);
            }
        }
        FunctionCmd::List => output::list(format, &functions.list().await?),
        FunctionCmd::Get { name } => output::one(format, &functions.get(&name).await?),
        FunctionCmd::Delete { name } => {
            functions.delete(&name).await?;
            eprintln!("deleted function {name}");
        }
    }
    Ok(0)
}

/// A function's code: a zip file as it is, or a directory zipped here.
async fn archive(path: &std::path::Path) -> nubes::Result<nubes::Bytes> {
    let meta = tokio::fs::metadata(path)
        .await
        .map_err(|e| nubes::Error::invalid_input(format!("--code {}: {e}", path.display())))?;
    if meta.is_dir() {
        #[cfg(feature = "aws")]
        return nubes::aws::zip_dir(path);
        #[cfg(not(feature = "aws"))]
        return Err(nubes::Error::unsupported(
            "this cloudctl was built without the aws feature, which zips directories: give a zip file",
        ));
    }
    super::read_input(path).await
}
