//! Functions: deploy once, invoke with a payload.

use std::collections::BTreeMap;
use std::time::Duration;

use nubes_core::{Bytes, Error, FunctionError, FunctionInfo, FunctionSpec, InvokeResponse};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DeployFunction {
    /// Defaults to the caller's personal organization.
    pub org_id: Option<String>,
    pub name: String,
    pub image: String,
    /// Reads the payload on stdin, writes the result to stdout.
    pub handler: Vec<String>,
    /// The code as a zip archive, base64, for servers whose functions take code
    /// (`capabilities.function.code`); `image` is then its runtime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    pub cpus: Option<f64>,
    /// Bytes.
    pub memory: Option<u64>,
    pub timeout_secs: Option<u64>,
}

/// A function as its tenant sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TenantFunction {
    pub id: String,
    pub name: String,
    pub org_id: String,
    pub owner_id: String,
    pub image: Option<String>,
    pub handler: Vec<String>,
    pub cpus: Option<f64>,
    pub memory: Option<u64>,
    pub timeout_secs: Option<u64>,
    pub created_at: i64,
}

/// One invocation's outcome; the payload and logs are base64, since functions may write bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Invocation {
    pub payload: String,
    pub logs: String,
    pub error: Option<FunctionError>,
    pub duration_ms: u64,
}

impl DeployFunction {
    pub fn of(spec: &FunctionSpec, org_id: Option<String>) -> Self {
        Self {
            org_id,
            name: spec.name.clone(),
            image: spec.image.clone(),
            handler: spec.handler.clone(),
            code: spec.code.as_ref().map(|c| data_encoding::BASE64.encode(c)),
            env: spec.env.clone(),
            cpus: spec.cpus,
            memory: spec.memory,
            timeout_secs: spec.timeout.map(crate::instances::whole_secs),
        }
    }
}

impl TenantFunction {
    /// The SDK's view of it, as `provider` reports it.
    pub fn into_info(self, provider: &str) -> FunctionInfo {
        let mut spec = FunctionSpec::new(self.name, self.image.unwrap_or_default(), self.handler);
        spec.cpus = self.cpus;
        spec.memory = self.memory;
        spec.timeout = self.timeout_secs.map(Duration::from_secs);
        let mut info = FunctionInfo::from_spec(&spec, provider);
        info.created_at = chrono::DateTime::from_timestamp(self.created_at, 0);
        info
    }
}

impl DeployFunction {
    /// The code as bytes, if any was sent.
    pub fn code_bytes(&self) -> nubes_core::Result<Option<Bytes>> {
        self.code
            .as_deref()
            .map(|c| {
                data_encoding::BASE64
                    .decode(c.as_bytes())
                    .map(Bytes::from)
                    .map_err(|e| Error::invalid_input(format!("code is not base64: {e}")))
            })
            .transpose()
    }
}

impl Invocation {
    pub fn of(out: &InvokeResponse) -> Self {
        let b64 = data_encoding::BASE64;
        Self {
            payload: b64.encode(&out.payload),
            logs: b64.encode(&out.logs),
            error: out.error.clone(),
            duration_ms: u64::try_from(out.duration.as_millis()).unwrap_or(u64::MAX),
        }
    }

    pub fn into_response(self) -> nubes_core::Result<InvokeResponse> {
        Ok(InvokeResponse::new(
            unb64("payload", &self.payload)?,
            self.error,
            unb64("logs", &self.logs)?,
            Duration::from_millis(self.duration_ms),
        ))
    }
}

fn unb64(field: &str, text: &str) -> nubes_core::Result<Bytes> {
    data_encoding::BASE64
        .decode(text.as_bytes())
        .map(Bytes::from)
        .map_err(|e| Error::unexpected(format!("the server's {field} is not base64: {e}")))
}
