//! Function over `/v1/functions`: the payload goes as the raw request body.

use async_trait::async_trait;
use bytes::Bytes;
use nubes_api::functions::{DeployFunction, Invocation, TenantFunction};
use nubes_core::function::*;
use nubes_core::{FunctionCapability, Result};
use reqwest::Method;

use crate::client::{path, read_json, Client};
use crate::SCHEME;

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

    /// POSTs `payload` as the raw body to `/v1/functions/{name}/{route}` and reads the answer.
    async fn post_payload<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
        route: &str,
        payload: Bytes,
    ) -> Result<T> {
        let res = self
            .client
            .send(
                Method::POST,
                &self.client.in_org(path(&["v1", "functions", name, route])),
                |r| {
                    r.header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                        .body(payload)
                },
            )
            .await?;
        read_json(res).await
    }
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
        let body = DeployFunction::of(&spec, self.client.org());
        let r: TenantFunction = self
            .client
            .call(Method::POST, "/v1/functions", Some(&body))
            .await?;
        Ok(r.into_info(SCHEME))
    }

    async fn get(&self, name: &str) -> Result<FunctionInfo> {
        let r: TenantFunction = self
            .client
            .call(
                Method::GET,
                &self.client.in_org(path(&["v1", "functions", name])),
                NONE,
            )
            .await?;
        Ok(r.into_info(SCHEME))
    }

    async fn list(&self) -> Result<Vec<FunctionInfo>> {
        let all: Vec<TenantFunction> = self.client.call(Method::GET, "/v1/functions", NONE).await?;
        Ok(all.into_iter().map(|r| r.into_info(SCHEME)).collect())
    }

    async fn invoke(&self, name: &str, payload: Bytes) -> Result<InvokeResponse> {
        let out: Invocation = self.post_payload(name, "invoke", payload).await?;
        out.into_response().map_err(|e| e.with_provider(SCHEME))
    }

    async fn invoke_async(&self, name: &str, payload: Bytes) -> Result<AsyncInvocation> {
        self.post_payload(name, "invocations", payload).await
    }

    async fn delete(&self, name: &str) -> Result<()> {
        self.client
            .raw(
                Method::DELETE,
                &self.client.in_org(path(&["v1", "functions", name])),
                NONE,
            )
            .await?;
        Ok(())
    }
}
