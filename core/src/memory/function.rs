use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::Utc;

use super::SCHEME;
use crate::function::*;
use crate::{Error, FunctionCapability, Result};

/// A function body: the payload in, the result or a function error out.
pub type Handler = Arc<dyn Fn(Bytes) -> std::result::Result<Bytes, FunctionError> + Send + Sync>;

/// Functions whose handlers are Rust closures registered by name; `FunctionSpec::handler[0]`
/// names the closure.
#[derive(Default)]
pub struct MemoryFunction {
    handlers: BTreeMap<String, Handler>,
    deployed: Mutex<BTreeMap<String, FunctionInfo>>,
}

impl std::fmt::Debug for MemoryFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryFunction")
            .field("handlers", &self.handlers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl MemoryFunction {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_handler(
        mut self,
        name: impl Into<String>,
        handler: impl Fn(Bytes) -> std::result::Result<Bytes, FunctionError> + Send + Sync + 'static,
    ) -> Self {
        self.handlers.insert(name.into(), Arc::new(handler));
        self
    }

    fn info(&self, name: &str) -> Result<FunctionInfo> {
        let map = self.deployed.lock().expect("memory function lock");
        map.get(name)
            .cloned()
            .ok_or_else(|| Error::not_found(format!("function {name} not found")))
    }
}

#[async_trait]
impl Function for MemoryFunction {
    fn provider(&self) -> &str {
        SCHEME
    }

    fn capability(&self) -> FunctionCapability {
        FunctionCapability::default()
    }

    async fn deploy(&self, spec: FunctionSpec) -> Result<FunctionInfo> {
        if !self.handlers.contains_key(&spec.handler[0]) {
            return Err(Error::invalid_input(format!(
                "no handler named {} is registered",
                spec.handler[0]
            )));
        }
        let mut map = self.deployed.lock().expect("memory function lock");
        if map.contains_key(&spec.name) {
            return Err(Error::already_exists(format!(
                "a function named {} already exists",
                spec.name
            )));
        }
        let mut info = FunctionInfo::from_spec(&spec, SCHEME);
        info.created_at = Some(Utc::now());
        map.insert(spec.name, info.clone());
        Ok(info)
    }

    async fn get(&self, name: &str) -> Result<FunctionInfo> {
        self.info(name)
    }

    async fn list(&self) -> Result<Vec<FunctionInfo>> {
        Ok(self
            .deployed
            .lock()
            .expect("memory function lock")
            .values()
            .cloned()
            .collect())
    }

    async fn invoke(&self, name: &str, payload: Bytes) -> Result<InvokeResponse> {
        let info = self.info(name)?;
        let handler = &self.handlers[&info.handler[0]];
        let started = Instant::now();
        let (payload, error) = match handler(payload) {
            Ok(out) => (out, None),
            Err(e) => (Bytes::new(), Some(e)),
        };
        let logs = error
            .as_ref()
            .map(|e| Bytes::from(e.message.clone()))
            .unwrap_or_default();
        Ok(InvokeResponse::new(payload, error, logs, started.elapsed()))
    }

    async fn delete(&self, name: &str) -> Result<()> {
        let mut map = self.deployed.lock().expect("memory function lock");
        map.remove(name)
            .map(|_| ())
            .ok_or_else(|| Error::not_found(format!("function {name} not found")))
    }
}
