//! Function: code deployed once and invoked with a payload.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{validate, Error, FunctionCapability, Result};

/// What to deploy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FunctionSpec {
    pub name: String,
    /// What runs the code: an image for container backends, a runtime (`provided.al2`,
    /// `python3.12`) where the code comes as an archive.
    pub image: String,
    /// The code as a zip archive, for backends that take one (`FunctionCapability::code`).
    /// Carried as base64 on the wire by `nubes-api`.
    #[serde(skip)]
    pub code: Option<Bytes>,
    /// The command that handles one invocation: it reads the payload on stdin and writes the
    /// result to stdout; a non-zero exit is a function error.
    pub handler: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub cpus: Option<f64>,
    pub memory: Option<u64>,
    /// Longest one invocation may run.
    pub timeout: Option<Duration>,
}

impl FunctionSpec {
    pub fn new<S: Into<String>>(
        name: impl Into<String>,
        image: impl Into<String>,
        handler: impl IntoIterator<Item = S>,
    ) -> Self {
        Self {
            name: name.into(),
            image: image.into(),
            handler: handler.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The code as a zip archive (`FunctionCapability::code`).
    pub fn code(mut self, zip: impl Into<Bytes>) -> Self {
        self.code = Some(zip.into());
        self
    }

    pub fn validate(&self) -> Result<()> {
        validate::name("function", &self.name)?;
        if self.image.trim().is_empty() {
            return Err(Error::invalid_input("function image must not be empty"));
        }
        if self.handler.first().is_none_or(|h| h.is_empty()) {
            return Err(Error::invalid_input("function handler must name a program"));
        }
        if self.code.as_ref().is_some_and(|c| !is_zip(c)) {
            return Err(Error::invalid_input(
                "function code is not a zip archive (it lacks zip's signatures)",
            ));
        }
        if self.timeout == Some(Duration::ZERO) {
            return Err(Error::invalid_input(
                "function timeout must be greater than zero",
            ));
        }
        validate::resources(self.cpus, self.memory)?;
        validate::env(&self.env)
    }
}

/// Whether `bytes` look like a zip archive: a local file header (or, empty, the end record)
/// first, and the end-of-central-directory record within the last 64 KiB + 22 bytes.
pub fn is_zip(bytes: &[u8]) -> bool {
    const LOCAL: &[u8] = b"PK\x03\x04";
    const END: &[u8] = b"PK\x05\x06";
    let tail = &bytes[bytes.len().saturating_sub(65_557)..];
    (bytes.starts_with(LOCAL) || bytes.starts_with(END)) && tail.windows(4).any(|w| w == END)
}

/// A deployed function.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FunctionInfo {
    pub name: String,
    pub image: String,
    pub handler: Vec<String>,
    pub cpus: Option<f64>,
    pub memory: Option<u64>,
    pub timeout: Option<Duration>,
    pub created_at: Option<DateTime<Utc>>,
    pub provider: String,
}

impl FunctionInfo {
    pub fn from_spec(spec: &FunctionSpec, provider: impl Into<String>) -> Self {
        Self {
            name: spec.name.clone(),
            image: spec.image.clone(),
            handler: spec.handler.clone(),
            cpus: spec.cpus,
            memory: spec.memory,
            timeout: spec.timeout,
            created_at: None,
            provider: provider.into(),
        }
    }
}

/// Why an invocation failed inside the function (the platform itself worked).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FunctionError {
    /// The handler's exit code, where the backend reports one (Lambda does not).
    pub exit_code: Option<i64>,
    /// Why it failed, as text: what the handler wrote to stderr, or the error it returned.
    pub message: String,
}

/// The result of one invocation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct InvokeResponse {
    pub payload: Bytes,
    /// Set when the function failed; `payload` then holds whatever it wrote before failing.
    pub error: Option<FunctionError>,
    /// What the function wrote to stderr.
    pub logs: Bytes,
    pub duration: Duration,
}

impl InvokeResponse {
    pub fn new(
        payload: impl Into<Bytes>,
        error: Option<FunctionError>,
        logs: impl Into<Bytes>,
        duration: Duration,
    ) -> Self {
        Self {
            payload: payload.into(),
            error,
            logs: logs.into(),
            duration,
        }
    }
}

/// An invocation started by [`Function::invoke_async`]: its id, to find it in the backend's
/// logs. Its result goes nowhere else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[non_exhaustive]
pub struct AsyncInvocation {
    pub id: String,
}

impl AsyncInvocation {
    pub fn new(id: impl Into<String>) -> Self {
        Self { id: id.into() }
    }
}

/// Functions.
#[async_trait]
pub trait Function: Debug + Send + Sync + 'static {
    fn provider(&self) -> &str;
    fn capability(&self) -> FunctionCapability;

    async fn deploy(&self, spec: FunctionSpec) -> Result<FunctionInfo>;
    async fn get(&self, name: &str) -> Result<FunctionInfo>;
    async fn list(&self) -> Result<Vec<FunctionInfo>>;
    /// Runs the function once with `payload` and waits for its result.
    async fn invoke(&self, name: &str, payload: Bytes) -> Result<InvokeResponse>;
    /// Starts the function once with `payload` and returns at once, without its result
    /// (`FunctionCapability::invoke_async`). A missing function fails here, not later.
    async fn invoke_async(&self, name: &str, _payload: Bytes) -> Result<AsyncInvocation> {
        Err(Error::unsupported(format!(
            "the {} provider does not invoke asynchronously (function {name})",
            self.provider()
        )))
    }
    async fn delete(&self, name: &str) -> Result<()>;
}
