//! Exec on EC2 through SSM RunCommand (`aws://...?exec=ssm`): the command runs as a shell script
//! of `AWS-RunShellScript` on an instance whose SSM agent is registered (an instance profile
//! that allows it). No stdin; SSM keeps at most 24,000 characters of each output, so longer
//! output comes back cut and says so.

use std::time::{Duration, Instant};

use aws_sdk_ssm::types::CommandInvocationStatus;
use aws_sdk_ssm::Client;
use nubes_core::compute::{ExecOutput, ExecRequest};
use nubes_core::{Error, ErrorKind, Result};

use crate::error::map;
use crate::SCHEME;

/// What SSM keeps of each of stdout and stderr.
const OUTPUT_MAX: usize = 24_000;
/// How long a command runs when the request does not say.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// The script SSM runs for `request`: its env exported, its workdir entered, its command run
/// in place of the shell, every word quoted.
pub fn script(request: &ExecRequest) -> Result<String> {
    let mut script = String::new();
    for (k, v) in &request.env {
        crate::ec2::check_env_key(k)?;
        script.push_str(&format!("export {k}={}\n", crate::ec2::quote(v)));
    }
    if let Some(dir) = &request.workdir {
        script.push_str(&format!("cd {} || exit 127\n", crate::ec2::quote(dir)));
    }
    script.push_str("exec");
    for word in &request.command {
        script.push(' ');
        script.push_str(&crate::ec2::quote(word));
    }
    Ok(script)
}

/// Runs `request` on the EC2 instance `instance` and waits for its exit code.
pub async fn exec(client: &Client, instance: &str, request: &ExecRequest) -> Result<ExecOutput> {
    if request.stdin.is_some() {
        return Err(
            Error::unsupported("SSM RunCommand gives a command no stdin").with_provider(SCHEME),
        );
    }
    let timeout = request.timeout.unwrap_or(DEFAULT_TIMEOUT);
    let secs = i32::try_from(timeout.as_secs().max(30)).unwrap_or(i32::MAX);
    let what = format!("exec on instance {instance}");
    let sent = client
        .send_command()
        .instance_ids(instance)
        .document_name("AWS-RunShellScript")
        .parameters("commands", vec![script(request)?])
        .parameters("executionTimeout", vec![secs.to_string()])
        .send()
        .await
        .map_err(|e| map(e, &what))?;
    let id = sent
        .command()
        .and_then(|c| c.command_id())
        .ok_or_else(|| Error::unexpected("SSM sent a command without an id"))?
        .to_string();
    let deadline = Instant::now() + timeout + Duration::from_secs(30);
    let mut wait = Duration::from_millis(100);
    loop {
        match client
            .get_command_invocation()
            .command_id(&id)
            .instance_id(instance)
            .send()
            .await
        {
            Ok(out) => {
                use CommandInvocationStatus::*;
                match out.status() {
                    Some(Success | Failed) => {
                        let stdout = out.standard_output_content().unwrap_or_default();
                        let stderr = out.standard_error_content().unwrap_or_default();
                        let mut done = ExecOutput::new(
                            i64::from(out.response_code()),
                            stdout.as_bytes().to_vec(),
                            stderr.as_bytes().to_vec(),
                        );
                        done.truncated = stdout.len() >= OUTPUT_MAX || stderr.len() >= OUTPUT_MAX;
                        return Ok(done.truncate(request.max_output));
                    }
                    Some(TimedOut) => {
                        return Err(Error::new(
                            ErrorKind::Timeout,
                            format!("{what}: the command did not finish within {timeout:?}"),
                        )
                        .with_provider(SCHEME))
                    }
                    Some(Cancelled | Cancelling) => {
                        return Err(
                            Error::conflict(format!("{what}: the command was cancelled"))
                                .with_provider(SCHEME),
                        )
                    }
                    _ => {}
                }
            }
            // SSM's reads catch up with a send a little later.
            Err(e) if map_kind(&e) == Some(ErrorKind::NotFound) => {}
            Err(e) => return Err(map(e, &what)),
        }
        if Instant::now() + wait > deadline {
            return Err(Error::new(
                ErrorKind::Timeout,
                format!("{what}: no result within {timeout:?}"),
            )
            .with_provider(SCHEME));
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(5));
    }
}

fn map_kind<E, R>(e: &aws_smithy_runtime_api::client::result::SdkError<E, R>) -> Option<ErrorKind>
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata,
{
    e.as_service_error()
        .and_then(|s| s.code())
        .map(|c| crate::error::kind(Some(c), None).0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_become_quoted_scripts() {
        let mut r = ExecRequest::new(["echo", "it's"]).workdir("/srv/my app");
        r.env.insert("GREETING".into(), "a b".into());
        assert_eq!(
            script(&r).unwrap(),
            "export GREETING='a b'\ncd '/srv/my app' || exit 127\nexec 'echo' 'it'\\''s'"
        );
        let mut bad = ExecRequest::new(["true"]);
        bad.env.insert("A;B".into(), "x".into());
        assert_eq!(script(&bad).unwrap_err().kind(), ErrorKind::InvalidInput);
    }
}
