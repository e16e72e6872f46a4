//! Lambda functions as Function. A function's `image` is its Lambda runtime and its `code` a
//! zip archive ([`zip_dir`] makes one from a directory); `handler` is Lambda's one handler
//! string. Only functions Nubes deployed (their description says so) are seen by get, list and
//! delete. Payloads and results are JSON documents, as Lambda has them.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_lambda::operation::RequestId;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{
    Environment, FunctionCode, FunctionConfiguration, InvocationType, LogType, Runtime, State,
};
use aws_sdk_lambda::Client;
use bytes::Bytes;
use nubes_core::function::*;
use nubes_core::{Error, ErrorKind, FunctionCapability, Result};

use crate::error::map;
use crate::{OWNER_TAG, SCHEME};

/// The description every function Nubes deploys carries; what lacks it is never seen.
const MARK: &str = "Deployed by Nubes";
const MIB: u64 = 1 << 20;
/// Lambda gives a function one vCPU per this much memory.
pub const MIB_PER_CPU: u64 = 1769;
/// The largest zip Lambda takes inline, and the largest sync payload.
pub const CODE_MAX: usize = 50 * 1024 * 1024;
const PAYLOAD_MAX: usize = 6 * 1024 * 1024;

/// A directory as a zip archive for Lambda: every regular file under `dir`, by its path
/// relative to it, keeping whether it is executable. Symbolic links are refused (they could
/// name anything on this machine), as is an archive past [`CODE_MAX`].
pub fn zip_dir(dir: &Path) -> Result<Bytes> {
    let io = |e: std::io::Error, what: &Path| {
        Error::invalid_input(format!("cannot archive {}: {e}", what.display()))
    };
    let mut files = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).map_err(|e| io(e, &d))? {
            let entry = entry.map_err(|e| io(e, &d))?;
            let path = entry.path();
            let kind = entry.file_type().map_err(|e| io(e, &path))?;
            if kind.is_symlink() {
                return Err(Error::invalid_input(format!(
                    "{} is a symbolic link; function code is archived without links",
                    path.display()
                )));
            }
            if kind.is_dir() {
                todo.push(path);
            } else if kind.is_file() {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let mut total = 0usize;
    for path in files {
        let name = path
            .strip_prefix(dir)
            .map_err(|_| Error::unexpected("a file outside the directory"))?
            .to_string_lossy()
            .replace('\\', "/");
        let meta = std::fs::metadata(&path).map_err(|e| io(e, &path))?;
        total = total.saturating_add(meta.len() as usize);
        if total > CODE_MAX {
            return Err(too_big(total));
        }
        #[cfg(unix)]
        let mode = std::os::unix::fs::PermissionsExt::mode(&meta.permissions());
        #[cfg(not(unix))]
        let mode = 0o644;
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(mode & 0o777);
        zip.start_file(name, options)
            .map_err(|e| Error::unexpected(format!("zip: {e}")))?;
        let body = std::fs::read(&path).map_err(|e| io(e, &path))?;
        zip.write_all(&body).map_err(|e| io(e, &path))?;
    }
    let out = zip
        .finish()
        .map_err(|e| Error::unexpected(format!("zip: {e}")))?
        .into_inner();
    if out.len() > CODE_MAX {
        return Err(too_big(out.len()));
    }
    Ok(out.into())
}

fn too_big(bytes: usize) -> Error {
    Error::invalid_input(format!(
        "function code is {bytes} bytes; Lambda takes at most {CODE_MAX} inline"
    ))
}

fn missing(name: &str) -> Error {
    Error::not_found(format!("function {name} not found")).with_provider(SCHEME)
}

/// Lambda's answer for a function Nubes deployed, or `NotFound` for one it did not.
fn ours(name: &str, c: Option<&FunctionConfiguration>) -> Result<FunctionConfiguration> {
    c.filter(|c| c.description() == Some(MARK))
        .cloned()
        .ok_or_else(|| missing(name))
}

fn info(c: &FunctionConfiguration) -> FunctionInfo {
    let mut spec = FunctionSpec::new(
        c.function_name().unwrap_or_default(),
        c.runtime().map(Runtime::as_str).unwrap_or_default(),
        c.handler().map(str::to_string),
    );
    let mib = c.memory_size().and_then(|m| u64::try_from(m).ok());
    spec.memory = mib.map(|m| m * MIB);
    spec.cpus = mib.map(|m| m as f64 / MIB_PER_CPU as f64);
    spec.timeout = c
        .timeout()
        .and_then(|t| u64::try_from(t).ok())
        .map(Duration::from_secs);
    let mut info = FunctionInfo::from_spec(&spec, SCHEME);
    info.created_at = c.last_modified().and_then(|t| {
        chrono::DateTime::parse_from_rfc3339(t)
            .or_else(|_| chrono::DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f%z"))
            .ok()
            .map(|t| t.to_utc())
    });
    info
}

/// Lambda's settings for a spec: memory in MiB (128 to 10240), enough for `cpus` too, since
/// Lambda gives CPU in proportion to memory; timeout in seconds (1 to 900); each rounded up.
fn limits(spec: &FunctionSpec) -> Result<(Option<i32>, Option<i32>)> {
    let for_cpus = spec
        .cpus
        .map(|c| (c * MIB_PER_CPU as f64).ceil() as u64 * MIB);
    let memory = spec
        .memory
        .max(for_cpus)
        .map(|m| {
            let mib = m.div_ceil(MIB);
            match i32::try_from(mib) {
                Ok(mib) if (128..=10_240).contains(&mib) => Ok(mib),
                _ => Err(Error::invalid_input(format!(
                    "Lambda gives a function 128 to 10240 MiB of memory, not {mib} MiB"
                ))),
            }
        })
        .transpose()?;
    let timeout = spec
        .timeout
        .map(|t| {
            let secs = t.as_millis().div_ceil(1000);
            match i32::try_from(secs) {
                Ok(s) if (1..=900).contains(&s) => Ok(s),
                _ => Err(Error::invalid_input(format!(
                    "a Lambda function runs 1 to 900 seconds, not {secs}"
                ))),
            }
        })
        .transpose()?;
    Ok((memory, timeout))
}

/// A payload Lambda takes: a JSON document, or nothing (Lambda then passes `{}`).
fn check_payload(payload: &[u8]) -> Result<()> {
    if payload.len() > PAYLOAD_MAX {
        return Err(Error::invalid_input(format!(
            "a Lambda payload is at most {PAYLOAD_MAX} bytes, not {}",
            payload.len()
        )));
    }
    if !payload.is_empty() && serde_json::from_slice::<serde::de::IgnoredAny>(payload).is_err() {
        return Err(Error::invalid_input(
            "a Lambda payload is a JSON document; this one does not parse",
        ));
    }
    Ok(())
}

/// Why a function failed, from what it returned: Lambda's `errorMessage`, or the payload.
fn reason(payload: &[u8], log: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Failed {
        #[serde(rename = "errorMessage")]
        error_message: String,
    }
    if let Ok(f) = serde_json::from_slice::<Failed>(payload) {
        return f.error_message;
    }
    let text = String::from_utf8_lossy(if payload.is_empty() { log } else { payload });
    text.trim_end().to_string()
}

/// Functions on Lambda, in the connection's region.
#[derive(Debug, Clone)]
pub struct LambdaFunction {
    client: Client,
    role: Option<String>,
}

impl LambdaFunction {
    /// `role` is the IAM role (an ARN) functions run as; deploys need one.
    pub fn new(client: Client, role: Option<String>) -> Self {
        Self { client, role }
    }

    async fn configuration(&self, name: &str) -> Result<FunctionConfiguration> {
        let out = self
            .client
            .get_function()
            .function_name(name)
            .send()
            .await
            .map_err(|e| map(e, &format!("function {name}")))?;
        ours(name, out.configuration())
    }

    /// The function once Lambda has made it ready (at once on moto; seconds on AWS).
    async fn active(&self, name: &str) -> Result<FunctionConfiguration> {
        let deadline = Instant::now() + Duration::from_secs(300);
        let mut wait = Duration::from_millis(100);
        loop {
            let c = self.configuration(name).await?;
            match c.state() {
                Some(State::Pending) if Instant::now() < deadline => {}
                Some(State::Pending) => {
                    return Err(Error::new(
                        ErrorKind::Timeout,
                        format!("function {name} is still pending"),
                    )
                    .with_provider(SCHEME))
                }
                Some(State::Failed) => {
                    return Err(Error::invalid_input(format!(
                        "Lambda could not make function {name} ready: {}",
                        c.state_reason().unwrap_or("no reason given")
                    ))
                    .with_provider(SCHEME))
                }
                _ => return Ok(c),
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(5));
        }
    }
}

#[async_trait]
impl Function for LambdaFunction {
    fn provider(&self) -> &str {
        SCHEME
    }

    fn capability(&self) -> FunctionCapability {
        let mut cap = FunctionCapability::default();
        cap.timeout = true;
        cap.limits = true;
        cap.code = true;
        cap.json = true;
        cap.invoke_async = true;
        cap
    }

    async fn deploy(&self, spec: FunctionSpec) -> Result<FunctionInfo> {
        let role = self.role.as_deref().ok_or_else(|| {
            Error::invalid_input(
                "Lambda functions run as an IAM role: connect with aws://REGION?role=ARN",
            )
        })?;
        let [handler] = spec.handler.as_slice() else {
            return Err(Error::invalid_input(format!(
                "a Lambda handler is one string (`app.handler`), not {:?}",
                spec.handler
            )));
        };
        let code = spec
            .code
            .clone()
            .ok_or_else(|| Error::invalid_input("a Lambda function needs its code as a zip"))?;
        if code.len() > CODE_MAX {
            return Err(too_big(code.len()));
        }
        let (memory, timeout) = limits(&spec)?;
        let mut env = Environment::builder();
        for (k, v) in &spec.env {
            env = env.variables(k, v);
        }
        self.client
            .create_function()
            .function_name(&spec.name)
            .runtime(Runtime::from(spec.image.as_str()))
            .role(role)
            .handler(handler)
            .code(FunctionCode::builder().zip_file(Blob::new(code)).build())
            .description(MARK)
            .tags(OWNER_TAG, "true")
            .set_memory_size(memory)
            .set_timeout(timeout)
            .environment(env.build())
            .send()
            .await
            .map_err(|e| map(e, &format!("function {}", spec.name)))?;
        match self.active(&spec.name).await {
            Ok(c) => Ok(info(&c)),
            Err(e) => {
                // Nothing is left behind: a function Lambda could not make ready is removed.
                let _ = self
                    .client
                    .delete_function()
                    .function_name(&spec.name)
                    .send()
                    .await;
                Err(e)
            }
        }
    }

    async fn get(&self, name: &str) -> Result<FunctionInfo> {
        Ok(info(&self.configuration(name).await?))
    }

    async fn list(&self) -> Result<Vec<FunctionInfo>> {
        let mut all = Vec::new();
        let mut marker = None;
        loop {
            let page = self
                .client
                .list_functions()
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| map(e, "listing functions"))?;
            all.extend(
                page.functions()
                    .iter()
                    .filter(|c| c.description() == Some(MARK))
                    .map(info),
            );
            match page.next_marker() {
                Some(m) if !m.is_empty() => marker = Some(m.to_string()),
                _ => break,
            }
        }
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(all)
    }

    /// A handled or unhandled error in the function is a `FunctionError` with Lambda's
    /// `errorMessage` (or what the function returned) and the log tail Lambda sent.
    async fn invoke(&self, name: &str, payload: Bytes) -> Result<InvokeResponse> {
        check_payload(&payload)?;
        // Only Nubes' functions, by name: never another function of the account, an alias or
        // an ARN.
        self.configuration(name).await?;
        let started = Instant::now();
        let out = self
            .client
            .invoke()
            .function_name(name)
            .log_type(LogType::Tail)
            .set_payload((!payload.is_empty()).then(|| Blob::new(payload)))
            .send()
            .await
            .map_err(|e| map(e, &format!("function {name}")))?;
        let result = out
            .payload()
            .map(|b| Bytes::copy_from_slice(b.as_ref()))
            .unwrap_or_default();
        let log = out
            .log_result()
            .and_then(|l| aws_smithy_types::base64::decode(l).ok())
            .unwrap_or_default();
        let error = out.function_error().map(|_| FunctionError {
            exit_code: None,
            message: reason(&result, &log),
        });
        Ok(InvokeResponse::new(result, error, log, started.elapsed()))
    }

    /// Lambda queues the event (`Event` invocation) and answers 202; the id is Lambda's
    /// request id, which its logs carry.
    async fn invoke_async(&self, name: &str, payload: Bytes) -> Result<AsyncInvocation> {
        check_payload(&payload)?;
        self.configuration(name).await?;
        let out = self
            .client
            .invoke()
            .function_name(name)
            .invocation_type(InvocationType::Event)
            .set_payload((!payload.is_empty()).then(|| Blob::new(payload)))
            .send()
            .await
            .map_err(|e| map(e, &format!("function {name}")))?;
        let id = out
            .request_id()
            .ok_or_else(|| Error::unexpected("Lambda queued an invocation without a request id"))?;
        Ok(AsyncInvocation::new(id))
    }

    async fn delete(&self, name: &str) -> Result<()> {
        self.configuration(name).await?;
        self.client
            .delete_function()
            .function_name(name)
            .send()
            .await
            .map_err(|e| map(e, &format!("function {name}")))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_round_up_within_lambdas_ranges() {
        let spec = |m: Option<u64>, t: Option<u64>| {
            let mut s = FunctionSpec::new("f", "provided.al2", ["h"]);
            s.memory = m;
            s.timeout = t.map(Duration::from_millis);
            s
        };
        assert_eq!(
            limits(&spec(Some(200 * MIB + 1), Some(1500))).unwrap(),
            (Some(201), Some(2))
        );
        // Two vCPUs need 3538 MiB, more than the 256 MiB asked for.
        let mut two = spec(Some(256 * MIB), None);
        two.cpus = Some(2.0);
        assert_eq!(limits(&two).unwrap(), (Some(3538), None));
        two.cpus = Some(6.0);
        assert_eq!(limits(&two).unwrap_err().kind(), ErrorKind::InvalidInput);
        for bad in [spec(Some(64 * MIB), None), spec(None, Some(901_000))] {
            assert_eq!(limits(&bad).unwrap_err().kind(), ErrorKind::InvalidInput);
        }
    }

    #[test]
    fn payloads_are_json_and_failures_say_why() {
        assert!(check_payload(b"").is_ok());
        assert!(check_payload(br#"{"a":1}"#).is_ok());
        assert_eq!(
            check_payload(b"not json").unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        assert_eq!(
            reason(
                br#"{"errorMessage":"bad input","errorType":"ValueError"}"#,
                b""
            ),
            "bad input"
        );
        assert_eq!(reason(b"boom\n", b""), "boom");
        assert_eq!(reason(b"", b"log tail\n"), "log tail");
    }

    #[test]
    fn directories_zip_with_their_modes_and_without_links() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("lib")).unwrap();
        std::fs::write(dir.path().join("run.sh"), "echo hi\n").unwrap();
        std::fs::write(dir.path().join("lib/data.txt"), "x".repeat(10_000)).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(
                dir.path().join("run.sh"),
                std::fs::Permissions::from_mode(0o755),
            )
            .unwrap();
        }
        let zip = zip_dir(dir.path()).unwrap();
        assert!(is_zip(&zip));
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip.to_vec())).unwrap();
        let names: Vec<String> = archive.file_names().map(str::to_string).collect();
        assert_eq!(names, ["lib/data.txt", "run.sh"]);
        assert_eq!(
            archive.by_name("run.sh").unwrap().unix_mode().unwrap() & 0o777,
            0o755
        );
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("/etc/passwd", dir.path().join("secrets")).unwrap();
            assert_eq!(
                zip_dir(dir.path()).unwrap_err().kind(),
                ErrorKind::InvalidInput
            );
        }
    }
}
