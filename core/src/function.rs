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
    /// Where the code lives (an image for container backends).
    pub image: String,
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

    pub fn validate(&self) -> Result<()> {
        validate::name("function", &self.name)?;
        if self.image.trim().is_empty() {
            return Err(Error::invalid_input("function image must not be empty"));
        }
        if self.handler.first().is_none_or(|h| h.is_empty()) {
            return Err(Error::invalid_input("function handler must name a program"));
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
    pub exit_code: i64,
    /// What the function wrote to stderr, as text.
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
    async fn delete(&self, name: &str) -> Result<()>;
}
