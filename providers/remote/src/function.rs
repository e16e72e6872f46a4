//! Function over `/v1/functions`: the payload goes as the raw request body.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use nubes_core::function::*;
use nubes_core::{validate, Error, FunctionCapability, Result};
use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::client::{path, read_json, Client};
use crate::SCHEME;

#[derive(Deserialize)]
struct RemoteFunctionInfo {
    name: String,
    image: Option<String>,
    #[serde(default)]
    handler: Vec<String>,
    cpus: Option<f64>,
    memory: Option<u64>,
    timeout_secs: Option<u64>,
    created_at: i64,
}

impl From<RemoteFunctionInfo> for FunctionInfo {
    fn from(r: RemoteFunctionInfo) -> Self {
        let mut spec = FunctionSpec::new(r.name, r.image.unwrap_or_default(), r.handler);
        spec.cpus = r.cpus;
        spec.memory = r.memory;
        spec.timeout = r.timeout_secs.map(Duration::from_secs);
        let mut info = FunctionInfo::from_spec(&spec, SCHEME);
        info.created_at = DateTime::<Utc>::from_timestamp(r.created_at, 0);
        info
    }
}

#[derive(Serialize)]
struct DeployBody<'a> {
    name: &'a str,
    image: &'a str,
    handler: &'a [String],
    env: &'a BTreeMap<String, String>,
    cpus: Option<f64>,
    memory: Option<u64>,
    timeout_secs: Option<u64>,
}

#[derive(Deserialize)]
struct Invocation {
    payload: String,
    logs: String,
    error: Option<FunctionError>,
    duration_ms: u64,
}

const NONE: Option<&()> = None;

/// Functions on a Nubes server, as the token's user.
#[derive(Debug, Clone)]
pub struct RemoteFunction {
    client: Client,
    capability: FunctionCapability,
}

impl RemoteFunction {
    /// `capability` is what the server says its functions can do.
    pub fn new(client: Client, capability: FunctionCapability) -> Self {
        Self { client, capability }
    }
}

fn base64(field: &str, text: &str) -> Result<Bytes> {
    data_encoding::BASE64
        .decode(text.as_bytes())
        .map(Bytes::from)
        .map_err(|e| {
            Error::unexpected(format!("the server's {field} is not base64: {e}"))
                .with_provider(SCHEME)
        })
}

#[async_trait]
impl Function for RemoteFunction {
    fn provider(&self) -> &str {
        SCHEME
    }

    fn capability(&self) -> FunctionCapability {
        self.capability.clone()
    }

    async fn deploy(&self, spec: FunctionSpec) -> Result<FunctionInfo> {
        spec.validate()?;
        let body = DeployBody {
            name: &spec.name,
            image: &spec.image,
            handler: &spec.handler,
            env: &spec.env,
            cpus: spec.cpus,
            memory: spec.memory,
            // Whole seconds on the wire; a fraction rounds up, never to no timeout.
            timeout_secs: spec.timeout.map(|t| t.as_secs_f64().ceil() as u64),
        };
        let r: RemoteFunctionInfo = self
            .client
            .call(Method::POST, "/v1/functions", Some(&body))
            .await?;
        Ok(r.into())
    }

    async fn get(&self, name: &str) -> Result<FunctionInfo> {
        validate::name("function", name)?;
        let r: RemoteFunctionInfo = self
            .client
            .call(Method::GET, &path(&["v1", "functions", name]), NONE)
            .await?;
        Ok(r.into())
    }

    async fn list(&self) -> Result<Vec<FunctionInfo>> {
        let all: Vec<RemoteFunctionInfo> =
            self.client.call(Method::GET, "/v1/functions", NONE).await?;
        Ok(all.into_iter().map(Into::into).collect())
    }

    async fn invoke(&self, name: &str, payload: Bytes) -> Result<InvokeResponse> {
        validate::name("function", name)?;
        let res = self
            .client
            .send(
                Method::POST,
                &path(&["v1", "functions", name, "invoke"]),
                |r| {
                    r.header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                        .body(payload)
                },
            )
            .await?;
        let out: Invocation = read_json(res).await?;
        Ok(InvokeResponse::new(
            base64("payload", &out.payload)?,
            out.error,
            base64("logs", &out.logs)?,
            Duration::from_millis(out.duration_ms),
        ))
    }

    async fn delete(&self, name: &str) -> Result<()> {
        validate::name("function", name)?;
        self.client
            .raw(Method::DELETE, &path(&["v1", "functions", name]), NONE)
            .await?;
        Ok(())
    }
}
