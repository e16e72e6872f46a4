use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::Utc;

use super::SCHEME;
use crate::compute::*;
use crate::{ComputeCapability, Error, Result};

/// Instance records with a real lifecycle, no processes.
#[derive(Debug, Default)]
pub struct MemoryCompute {
    images: BTreeSet<String>,
    instances: Mutex<BTreeMap<String, Instance>>,
    next_id: AtomicU64,
}

impl MemoryCompute {
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes `image` known; creating from any other image fails with `NotFound`.
    pub fn with_image(mut self, image: impl Into<String>) -> Self {
        self.images.insert(image.into());
        self
    }

    fn with_instance<T>(&self, id: &str, f: impl FnOnce(&mut Instance) -> Result<T>) -> Result<T> {
        let mut map = self.instances.lock().expect("memory compute lock");
        let instance = map
            .values_mut()
            .find(|i| i.id == id || i.name == id)
            .ok_or_else(|| Error::not_found(format!("instance {id} not found")))?;
        f(instance)
    }
}

#[async_trait]
impl Compute for MemoryCompute {
    fn provider(&self) -> &str {
        SCHEME
    }

    fn capability(&self) -> ComputeCapability {
        ComputeCapability {
            restart: true,
            resize: true,
            resize_live: true,
            // Records the limit; with no processes there is nothing that could exceed it.
            disk_limit: true,
            ..Default::default()
        }
    }

    async fn create(&self, spec: InstanceSpec) -> Result<Instance> {
        spec.refuse_volumes("memory")?;
        if spec.vm.is_some() {
            return Err(Error::unsupported(
                "the memory provider runs no VMs: VM settings need a VM provider",
            ));
        }
        if !self.images.contains(&spec.image) {
            return Err(Error::not_found(format!("image {} not found", spec.image)));
        }
        let mut map = self.instances.lock().expect("memory compute lock");
        if map.values().any(|i| i.name == spec.name) {
            return Err(Error::already_exists(format!(
                "an instance named {} already exists",
                spec.name
            )));
        }
        let id = format!("mem-{:08x}", self.next_id.fetch_add(1, Ordering::Relaxed));
        let mut instance = Instance::new(id.clone(), spec.name, SCHEME);
        instance.image = spec.image;
        instance.state = InstanceState::Running;
        instance.cpus = spec.cpus;
        instance.memory = spec.memory;
        instance.disk = spec.disk;
        instance.labels = spec.labels;
        instance.ports = spec.ports;
        instance.created_at = Some(Utc::now());
        map.insert(id, instance.clone());
        Ok(instance)
    }

    async fn get(&self, id: &str) -> Result<Instance> {
        self.with_instance(id, |i| Ok(i.clone()))
    }

    async fn list(&self, options: ListOptions) -> Result<Vec<Instance>> {
        let map = self.instances.lock().expect("memory compute lock");
        Ok(map
            .values()
            .filter(|i| options.matches(i))
            .cloned()
            .collect())
    }

    async fn start(&self, id: &str) -> Result<Instance> {
        self.with_instance(id, |i| {
            i.state = InstanceState::Running;
            i.exit_code = None;
            Ok(i.clone())
        })
    }

    async fn stop(&self, id: &str, _options: StopOptions) -> Result<Instance> {
        self.with_instance(id, |i| {
            if i.state != InstanceState::Stopped {
                i.state = InstanceState::Stopped;
                i.exit_code = Some(0);
            }
            Ok(i.clone())
        })
    }

    async fn restart(&self, id: &str, options: StopOptions) -> Result<Instance> {
        self.stop(id, options).await?;
        self.start(id).await
    }

    async fn delete(&self, id: &str, options: DeleteOptions) -> Result<()> {
        let mut map = self.instances.lock().expect("memory compute lock");
        let (key, instance) = map
            .iter()
            .find(|(_, i)| i.id == id || i.name == id)
            .ok_or_else(|| Error::not_found(format!("instance {id} not found")))?;
        if instance.state == InstanceState::Running && !options.force {
            return Err(Error::conflict(format!(
                "instance {id} is running: stop it first or delete with force"
            )));
        }
        let key = key.clone();
        map.remove(&key);
        Ok(())
    }

    async fn exec(&self, _id: &str, _request: ExecRequest) -> Result<ExecOutput> {
        Err(Error::unsupported("memory instances run no processes"))
    }

    async fn logs(&self, _id: &str, _options: LogOptions) -> Result<LogStream> {
        Err(Error::unsupported("memory instances run no processes"))
    }

    async fn stats(&self, _id: &str) -> Result<InstanceStats> {
        Err(Error::unsupported("memory instances run no processes"))
    }

    async fn resize(&self, id: &str, request: ResizeRequest) -> Result<Instance> {
        self.with_instance(id, |i| {
            if let Some(c) = request.cpus {
                i.cpus = Some(c);
            }
            if let Some(m) = request.memory {
                i.memory = Some(m);
            }
            Ok(i.clone())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compute::EXEC_STDIN_WHOLE_MAX;
    use crate::ErrorKind;
    use bytes::Bytes;

    /// A backend without streamed exec holds stdin whole, so it takes no more than the bound:
    /// a caller streaming without end gets an error, not the backend's memory.
    #[tokio::test]
    async fn stdin_held_whole_is_bounded() {
        let compute = MemoryCompute::new();
        let endless = futures::stream::repeat_with(|| Ok(Bytes::from(vec![0u8; 1 << 20])));
        let e = match compute
            .exec_stream("any", ExecRequest::new(["cat"]), Some(Box::pin(endless)))
            .await
        {
            Err(e) => e,
            Ok(_) => panic!("endless stdin was taken"),
        };
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        assert!(e
            .message()
            .contains(&format!("{} MiB", EXEC_STDIN_WHOLE_MAX >> 20)));
        // Under the bound, the backend is asked (and says what it says).
        let small = futures::stream::iter([Ok(Bytes::from_static(b"hi"))]);
        let e = match compute
            .exec_stream("any", ExecRequest::new(["cat"]), Some(Box::pin(small)))
            .await
        {
            Err(e) => e,
            Ok(_) => panic!("memory instances run nothing"),
        };
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
    }
}
