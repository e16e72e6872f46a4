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
        } => {
            let mut spec = FunctionSpec::new(name, image, handler);
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
        } => {
            let payload = match (payload, payload_file) {
                (Some(p), _) => p.into(),
                (None, Some(file)) => super::read_input(&file).await?,
                (None, None) => super::read_input("-".as_ref()).await?,
            };
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
