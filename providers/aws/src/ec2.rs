//! EC2 instances as Compute. An instance is known by its id or its `Name` tag, and only
//! instances that carry the Nubes ownership tag are seen. `cpus` and `memory` choose the smallest
//! instance type of [`INSTANCE_TYPES`] that holds them (or the connection's `instance_type`), and
//! an instance reports the size of the type it got: that is what AWS bills.
//!
//! The instance's `command` (with its `env`) becomes its user data, a shell script cloud-init
//! runs at first boot; its output reaches the console, which is what `logs` reads.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_ec2::types::{
    AttributeValue, BlockDeviceMapping, EbsBlockDevice, Filter, Instance as Ec2Instance,
    InstanceStateName, InstanceType, ResourceType, Tag, TagSpecification,
};
use aws_sdk_ec2::Client;
use bytes::Bytes;
use chrono::DateTime;
use nubes_core::compute::*;
use nubes_core::{ComputeCapability, Error, ErrorKind, Result};

use crate::error::map;
use crate::{AwsConfig, OWNER_TAG, SCHEME};

const NAME_TAG: &str = "Name";
const MIB: u64 = 1 << 20;
/// What EC2 takes as user data, before its base64 encoding.
const USER_DATA_MAX: usize = 16 * 1024;
/// How long an instance may take to boot or to stop after a forced stop.
const SETTLE: Duration = Duration::from_secs(600);

/// The instance types `cpus` and `memory` choose from, smallest first: (type, vCPUs, MiB).
pub const INSTANCE_TYPES: &[(&str, u32, u64)] = &[
    ("t3.nano", 2, 512),
    ("t3.micro", 2, 1024),
    ("t3.small", 2, 2048),
    ("t3.medium", 2, 4096),
    ("t3.large", 2, 8192),
    ("t3.xlarge", 4, 16384),
    ("t3.2xlarge", 8, 32768),
    ("m5.4xlarge", 16, 65536),
    ("m5.8xlarge", 32, 131072),
    ("m5.12xlarge", 48, 196608),
    ("m5.16xlarge", 64, 262144),
    ("m5.24xlarge", 96, 393216),
];

/// The smallest type of [`INSTANCE_TYPES`] with at least `cpus` vCPUs and `memory` bytes.
pub fn instance_type_for(cpus: Option<f64>, memory: Option<u64>) -> Result<&'static str> {
    let cpus = cpus.unwrap_or(0.0);
    let memory = memory.unwrap_or(0);
    INSTANCE_TYPES
        .iter()
        .find(|(_, c, m)| f64::from(*c) >= cpus && m * MIB >= memory)
        .map(|(t, _, _)| *t)
        .ok_or_else(|| {
            Error::invalid_input(format!(
                "no instance type holds {cpus} cpus and {memory} bytes of memory \
                 (the largest is {} vCPUs and {} MiB)",
                INSTANCE_TYPES[INSTANCE_TYPES.len() - 1].1,
                INSTANCE_TYPES[INSTANCE_TYPES.len() - 1].2
            ))
        })
}

/// The script cloud-init runs at first boot: `env` exported, then `command` in place of the
/// shell. No command and no env: no user data, the image boots as it is.
pub fn user_data(spec: &InstanceSpec) -> Result<Option<String>> {
    let Some(command) = &spec.command else {
        if spec.env.is_empty() {
            return Ok(None);
        }
        return Err(Error::invalid_input(
            "an EC2 instance's env reaches its command only: give a command with the env",
        ));
    };
    for k in spec.env.keys() {
        check_env_key(k)?;
    }
    let mut script = String::from("#!/bin/sh\n");
    for (k, v) in &spec.env {
        script.push_str(&format!("export {k}={}\n", quote(v)));
    }
    script.push_str("exec");
    for arg in command {
        script.push(' ');
        script.push_str(&quote(arg));
    }
    script.push('\n');
    if script.len() > USER_DATA_MAX {
        return Err(Error::invalid_input(format!(
            "the command and env make {} bytes of user data; EC2 takes at most {USER_DATA_MAX}",
            script.len()
        )));
    }
    Ok(Some(aws_smithy_types::base64::encode(script)))
}

/// An env key a shell takes: letters, digits and `_`, not first a digit.
pub(crate) fn check_env_key(k: &str) -> Result<()> {
    if !k.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(Error::invalid_input(format!(
            "env `{k}` is not a shell variable name (letters, digits and _, not first a digit)"
        )));
    }
    Ok(())
}

pub(crate) fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn filter<I: Into<String>>(name: &str, values: impl IntoIterator<Item = I>) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values.into_iter().map(Into::into).collect()))
        .build()
}

/// States of an instance that is still there: terminated and shutting-down ones are gone.
const LIVE: [&str; 4] = ["pending", "running", "stopping", "stopped"];

fn state(name: Option<&InstanceStateName>) -> InstanceState {
    match name {
        Some(InstanceStateName::Pending) => InstanceState::Creating,
        Some(InstanceStateName::Running) => InstanceState::Running,
        Some(InstanceStateName::Stopping) => InstanceState::Stopping,
        Some(InstanceStateName::Stopped) => InstanceState::Stopped,
        Some(InstanceStateName::ShuttingDown | InstanceStateName::Terminated) => {
            InstanceState::Deleting
        }
        _ => InstanceState::Unknown,
    }
}

fn state_name(i: &Ec2Instance) -> Option<&InstanceStateName> {
    i.state().and_then(|s| s.name())
}

fn tag<'a>(i: &'a Ec2Instance, key: &str) -> Option<&'a str> {
    i.tags()
        .iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value())
}

/// Whether `id` is an EC2 instance id (`i-` and 8 or 17 hex digits) rather than a name.
fn is_instance_id(id: &str) -> bool {
    id.strip_prefix("i-").is_some_and(|hex| {
        (hex.len() == 8 || hex.len() == 17) && hex.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

fn missing(id: &str) -> Error {
    Error::not_found(format!("instance {id} not found")).with_provider(SCHEME)
}

/// What an instance type holds.
#[derive(Debug, Clone, Copy)]
struct TypeSize {
    cpus: f64,
    memory: u64,
}

/// Instances on EC2, in the connection's region.
#[derive(Debug, Clone)]
pub struct Ec2Compute {
    client: Client,
    cloudwatch: aws_sdk_cloudwatch::Client,
    /// Exec through SSM RunCommand, where the connection asked for it.
    ssm: Option<aws_sdk_ssm::Client>,
    instance_type: Option<String>,
    security_group: Option<String>,
    subnet: Option<String>,
    image_owners: Vec<String>,
    /// vCPUs and memory per instance type: the table, and what EC2 said of others.
    sizes: Arc<Mutex<HashMap<String, TypeSize>>>,
}

impl Ec2Compute {
    /// Where and how instances are launched comes from `config`: its `instance_type` (every
    /// instance gets it instead of the smallest type that fits), `security_group`, `subnet`
    /// and `image_owners`.
    pub fn new(
        client: Client,
        cloudwatch: aws_sdk_cloudwatch::Client,
        ssm: aws_sdk_ssm::Client,
        config: &AwsConfig,
    ) -> Self {
        let sizes = INSTANCE_TYPES
            .iter()
            .map(|(t, c, m)| {
                let size = TypeSize {
                    cpus: f64::from(*c),
                    memory: m * MIB,
                };
                (t.to_string(), size)
            })
            .collect();
        Self {
            client,
            cloudwatch,
            ssm: config.exec_ssm.then_some(ssm),
            instance_type: config.instance_type.clone(),
            security_group: config.security_group.clone(),
            subnet: config.subnet.clone(),
            image_owners: config.image_owners.clone(),
            sizes: Arc::new(Mutex::new(sizes)),
        }
    }

    /// What a type holds: from the table, or asked of EC2 once.
    async fn size(&self, kind: &str) -> Result<Option<TypeSize>> {
        if let Some(s) = self.sizes.lock().expect("sizes lock").get(kind) {
            return Ok(Some(*s));
        }
        let out = self
            .client
            .describe_instance_types()
            .instance_types(InstanceType::from(kind))
            .send()
            .await
            .map_err(|e| map(e, &format!("instance type {kind}")))?;
        let Some(info) = out.instance_types().first() else {
            return Ok(None);
        };
        let (Some(cpus), Some(mib)) = (
            info.v_cpu_info().and_then(|v| v.default_v_cpus()),
            info.memory_info().and_then(|m| m.size_in_mib()),
        ) else {
            return Ok(None);
        };
        let size = TypeSize {
            cpus: f64::from(cpus),
            memory: u64::try_from(mib).unwrap_or(0) * MIB,
        };
        self.sizes
            .lock()
            .expect("sizes lock")
            .insert(kind.to_string(), size);
        Ok(Some(size))
    }

    async fn instance(&self, i: &Ec2Instance) -> Result<Instance> {
        let id = i.instance_id().unwrap_or_default();
        let mut out = Instance::new(id, tag(i, NAME_TAG).unwrap_or_default(), SCHEME);
        out.image = i.image_id().unwrap_or_default().to_string();
        out.state = state(state_name(i));
        if let Some(kind) = i.instance_type() {
            if let Some(size) = self.size(kind.as_str()).await? {
                out.cpus = Some(size.cpus);
                out.memory = Some(size.memory);
            }
        }
        out.labels = i
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?, t.value().unwrap_or_default())))
            .filter(|(k, _)| *k != NAME_TAG && *k != OWNER_TAG)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        out.created_at = i
            .launch_time()
            .and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()));
        Ok(out)
    }

    /// Nubes' live instances that pass `filters`.
    async fn describe(&self, filters: Vec<Filter>) -> Result<Vec<Ec2Instance>> {
        let mut all = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .client
                .describe_instances()
                .set_filters(Some(
                    [
                        filter(&format!("tag:{OWNER_TAG}"), ["true"]),
                        filter("instance-state-name", LIVE),
                    ]
                    .into_iter()
                    .chain(filters.iter().cloned())
                    .collect(),
                ))
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| map(e, "listing instances"))?;
            for r in page.reservations() {
                all.extend(r.instances().iter().cloned());
            }
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => return Ok(all),
            }
        }
    }

    /// A live Nubes instance by id (`i-…`) or by name.
    async fn find(&self, id: &str) -> Result<Ec2Instance> {
        let by = if is_instance_id(id) {
            filter("instance-id", [id])
        } else {
            filter(&format!("tag:{NAME_TAG}"), [id])
        };
        self.describe(vec![by])
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| missing(id))
    }

    /// The instance once it is in one of `want`, polled with backoff until `within` passes.
    async fn settle(
        &self,
        id: &str,
        want: &[InstanceStateName],
        within: Duration,
    ) -> Result<Ec2Instance> {
        let deadline = Instant::now() + within;
        let mut wait = Duration::from_millis(100);
        // EC2's reads catch up with a launch a little later: an instance just made may not be
        // found yet.
        let unseen_until = Instant::now() + Duration::from_secs(30);
        loop {
            let i = match self.find(id).await {
                Ok(i) => i,
                Err(e) if e.kind() == ErrorKind::NotFound && Instant::now() < unseen_until => {
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(5));
                    continue;
                }
                Err(e) => return Err(e),
            };
            let now = state_name(&i);
            if now.is_some_and(|s| want.contains(s)) {
                return Ok(i);
            }
            if Instant::now() + wait > deadline {
                return Err(Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "instance {id} is still {} after {within:?}",
                        state(now).as_str()
                    ),
                )
                .with_provider(SCHEME));
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(5));
        }
    }

    /// Refuses an image that is not an AMI id, one this connection may not launch, or one that
    /// brings volumes besides its root; answers the root volume's mapping, to be deleted with
    /// the instance whatever the image says.
    async fn check_image(&self, image: &str) -> Result<Option<BlockDeviceMapping>> {
        let hex = image.strip_prefix("ami-").unwrap_or_default();
        if !(8..=17).contains(&hex.len()) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::invalid_input(format!(
                "image `{image}` is not an AMI id (ami- and 8 or 17 hex digits)"
            )));
        }
        let out = self
            .client
            .describe_images()
            .image_ids(image)
            .set_owners((!self.image_owners.is_empty()).then(|| self.image_owners.clone()))
            .send()
            .await
            .map_err(|e| map(e, &format!("image {image}")))?;
        let Some(found) = out.images().first() else {
            return Err(Error::not_found(format!(
                "image {image} not found among the images this connection may launch"
            ))
            .with_provider(SCHEME));
        };
        let root = found.root_device_name();
        let extra = found
            .block_device_mappings()
            .iter()
            .filter(|m| m.ebs().is_some() && m.device_name() != root)
            .count();
        if extra > 0 {
            return Err(Error::invalid_input(format!(
                "image {image} brings {extra} volume(s) besides its root; instances here boot \
                 from one root volume, and disks are made as disks"
            ))
            .with_provider(SCHEME));
        }
        let root = found
            .block_device_mappings()
            .iter()
            .find(|m| m.device_name() == root)
            .and_then(|m| Some((m.device_name()?, m.ebs()?)))
            .map(|(device, ebs)| {
                BlockDeviceMapping::builder()
                    .device_name(device)
                    .ebs(
                        EbsBlockDevice::builder()
                            .set_snapshot_id(ebs.snapshot_id().map(str::to_string))
                            .set_volume_size(ebs.volume_size())
                            .set_volume_type(ebs.volume_type().cloned())
                            .delete_on_termination(true)
                            .build(),
                    )
                    .build()
            });
        Ok(root)
    }

    async fn stopped(&self, id: &str, timeout: Duration) -> Result<Ec2Instance> {
        let i = self.find(id).await?;
        let ec2_id = i.instance_id().unwrap_or_default().to_string();
        if state_name(&i) == Some(&InstanceStateName::Stopped) {
            return Ok(i);
        }
        self.client
            .stop_instances()
            .instance_ids(&ec2_id)
            .send()
            .await
            .map_err(|e| map(e, &format!("instance {id}")))?;
        let done = [InstanceStateName::Stopped];
        match self.settle(&ec2_id, &done, timeout).await {
            Err(e) if e.kind() == ErrorKind::Timeout => {
                // Asked nicely and it did not stop: AWS's forced stop is the kill.
                self.client
                    .stop_instances()
                    .instance_ids(&ec2_id)
                    .force(true)
                    .send()
                    .await
                    .map_err(|e| map(e, &format!("instance {id}")))?;
                self.settle(&ec2_id, &done, SETTLE).await
            }
            other => other,
        }
    }
}

#[async_trait]
impl Compute for Ec2Compute {
    fn provider(&self) -> &str {
        SCHEME
    }

    /// Exec through SSM RunCommand where the connection says `exec=ssm` (without stdin or
    /// streaming); ports need security group rules, and disk limits a root volume size,
    /// neither of which Nubes manages.
    fn capability(&self) -> ComputeCapability {
        let mut cap = ComputeCapability::default();
        cap.restart = true;
        cap.exec = self.ssm.is_some();
        cap.logs = true;
        cap.stats = true;
        cap.resize = true;
        cap.sized = true;
        cap
    }

    async fn create(&self, spec: InstanceSpec) -> Result<Instance> {
        let refuse = |what: &str| {
            Err(
                Error::unsupported(format!("EC2 instances here take no {what}"))
                    .with_provider(SCHEME),
            )
        };
        if spec.vm.is_some() {
            return refuse("VM settings (the AMI is what boots)");
        }
        if !spec.volumes.is_empty() {
            return refuse("mounted disks (attach EBS volumes to a running instance)");
        }
        if !spec.ports.is_empty() {
            return refuse("published ports (they need security groups)");
        }
        if spec.disk.is_some() {
            return refuse("disk limit");
        }
        if spec.pids.is_some() {
            return refuse("process limit");
        }
        if spec.labels.contains_key(NAME_TAG) {
            return Err(Error::invalid_input(
                "label `Name` is the instance's name on EC2; name the instance instead",
            ));
        }
        let kind = match &self.instance_type {
            Some(t) => t.clone(),
            None => instance_type_for(spec.cpus, spec.memory)?.to_string(),
        };
        let user_data = user_data(&spec)?;
        let root = self.check_image(&spec.image).await?;
        if !self
            .describe(vec![filter(&format!("tag:{NAME_TAG}"), [&spec.name])])
            .await?
            .is_empty()
        {
            return Err(Error::already_exists(format!(
                "an instance named {} already exists",
                spec.name
            ))
            .with_provider(SCHEME));
        }
        let mut tags = TagSpecification::builder()
            .resource_type(ResourceType::Instance)
            .tags(Tag::builder().key(NAME_TAG).value(&spec.name).build())
            .tags(Tag::builder().key(OWNER_TAG).value("true").build());
        for (k, v) in &spec.labels {
            tags = tags.tags(Tag::builder().key(k).value(v).build());
        }
        let made = self
            .client
            .run_instances()
            .image_id(&spec.image)
            .instance_type(InstanceType::from(kind.as_str()))
            .min_count(1)
            .max_count(1)
            // One token per create: the SDK's own retries of this call launch one instance.
            .client_token(uuid_like())
            .set_user_data(user_data)
            .tag_specifications(tags.build())
            .set_security_group_ids(self.security_group.clone().map(|g| vec![g]))
            .set_subnet_id(self.subnet.clone())
            // The root volume goes with the instance, whatever the image says.
            .set_block_device_mappings(root.map(|m| vec![m]))
            .send()
            .await
            .map_err(|e| map(e, &format!("instance {}", spec.name)))?;
        let id = made
            .instances()
            .first()
            .and_then(|i| i.instance_id())
            .ok_or_else(|| Error::unexpected("EC2 launched no instance"))?
            .to_string();
        let up = match self
            .settle(&id, &[InstanceStateName::Running], SETTLE)
            .await
        {
            Ok(i) => self.instance(&i).await,
            Err(e) => Err(e),
        };
        match up {
            Ok(i) => Ok(i),
            Err(e) => {
                // Nothing is left behind: a launch that did not come up is terminated.
                let _ = self
                    .client
                    .terminate_instances()
                    .instance_ids(&id)
                    .send()
                    .await;
                Err(e)
            }
        }
    }

    async fn get(&self, id: &str) -> Result<Instance> {
        self.instance(&self.find(id).await?).await
    }

    async fn list(&self, options: ListOptions) -> Result<Vec<Instance>> {
        let filters = options
            .labels
            .iter()
            .map(|(k, v)| filter(&format!("tag:{k}"), [v]))
            .collect();
        let mut all = Vec::new();
        for i in self.describe(filters).await? {
            let i = self.instance(&i).await?;
            if options.matches(&i) {
                all.push(i);
            }
        }
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(all)
    }

    async fn start(&self, id: &str) -> Result<Instance> {
        let mut i = self.find(id).await?;
        let ec2_id = i.instance_id().unwrap_or_default().to_string();
        if state_name(&i) == Some(&InstanceStateName::Stopping) {
            i = self
                .settle(&ec2_id, &[InstanceStateName::Stopped], SETTLE)
                .await?;
        }
        if state_name(&i) == Some(&InstanceStateName::Stopped) {
            self.client
                .start_instances()
                .instance_ids(&ec2_id)
                .send()
                .await
                .map_err(|e| map(e, &format!("instance {id}")))?;
        }
        let i = self
            .settle(&ec2_id, &[InstanceStateName::Running], SETTLE)
            .await?;
        self.instance(&i).await
    }

    async fn stop(&self, id: &str, options: StopOptions) -> Result<Instance> {
        let i = self.stopped(id, options.timeout).await?;
        self.instance(&i).await
    }

    /// A running instance reboots (EC2 keeps it `running` throughout); a stopped one starts.
    async fn restart(&self, id: &str, _options: StopOptions) -> Result<Instance> {
        let i = self.find(id).await?;
        if state_name(&i) != Some(&InstanceStateName::Running) {
            return self.start(id).await;
        }
        self.client
            .reboot_instances()
            .instance_ids(i.instance_id().unwrap_or_default())
            .send()
            .await
            .map_err(|e| map(e, &format!("instance {id}")))?;
        self.get(id).await
    }

    /// Terminates the instance; its root volume goes with it, as the AMI says.
    async fn delete(&self, id: &str, options: DeleteOptions) -> Result<()> {
        let i = self.find(id).await?;
        let live = matches!(
            state_name(&i),
            Some(InstanceStateName::Running | InstanceStateName::Pending)
        );
        if live && !options.force {
            return Err(Error::conflict(format!(
                "instance {id} is running: stop it first or delete with force"
            ))
            .with_provider(SCHEME));
        }
        self.client
            .terminate_instances()
            .instance_ids(i.instance_id().unwrap_or_default())
            .send()
            .await
            .map_err(|e| map(e, &format!("instance {id}")))?;
        Ok(())
    }

    async fn exec(&self, id: &str, request: ExecRequest) -> Result<ExecOutput> {
        let Some(ssm) = &self.ssm else {
            return Err(Error::unsupported(
                "exec on EC2 goes through SSM RunCommand: connect with exec=ssm",
            )
            .with_provider(SCHEME));
        };
        let i = self.find(id).await?;
        if state_name(&i) != Some(&InstanceStateName::Running) {
            return Err(
                Error::conflict(format!("instance {id} is not running")).with_provider(SCHEME)
            );
        }
        crate::ssm::exec(ssm, i.instance_id().unwrap_or_default(), &request).await
    }

    /// The console output EC2 keeps (the last 64 KiB); a snapshot, so it cannot be followed.
    async fn logs(&self, id: &str, options: LogOptions) -> Result<LogStream> {
        if options.follow || options.since.is_some() {
            return Err(Error::unsupported(
                "EC2's console output is a snapshot without timestamps: it cannot be followed or \
                 read since a time",
            )
            .with_provider(SCHEME));
        }
        let i = self.find(id).await?;
        let out = self
            .client
            .get_console_output()
            .instance_id(i.instance_id().unwrap_or_default())
            .send()
            .await
            .map_err(|e| map(e, &format!("instance {id}")))?;
        let raw = out.output().unwrap_or_default();
        let text = aws_smithy_types::base64::decode(raw).unwrap_or_else(|_| raw.as_bytes().into());
        let text = match options.tail {
            Some(n) => tail(&text, n),
            None => text,
        };
        let chunk = LogChunk {
            stream: LogStreamKind::Stdout,
            data: Bytes::from(text),
        };
        Ok(Box::pin(futures::stream::iter(
            (!chunk.data.is_empty()).then_some(Ok(chunk)),
        )))
    }

    /// From CloudWatch (see the `cloudwatch` module): 0 for what EC2 has not reported yet.
    async fn stats(&self, id: &str) -> Result<InstanceStats> {
        let i = self.find(id).await?;
        let now = self.instance(&i).await?;
        let launched = i
            .launch_time()
            .and_then(|t| std::time::SystemTime::try_from(*t).ok());
        crate::cloudwatch::stats(
            &self.cloudwatch,
            i.instance_id().unwrap_or_default(),
            launched,
            now.cpus.unwrap_or(1.0),
            now.memory,
        )
        .await
    }

    /// The vCPUs and memory of the type these would get.
    async fn fit(&self, cpus: Option<f64>, memory: Option<u64>) -> Result<Size> {
        let kind = match &self.instance_type {
            Some(t) => t.as_str(),
            None => instance_type_for(cpus, memory)?,
        };
        Ok(match self.size(kind).await? {
            Some(s) => Size::new(Some(s.cpus), Some(s.memory)),
            None => Size::new(cpus, memory),
        })
    }

    /// Changes the instance type, which EC2 allows only while the instance is stopped.
    async fn resize(&self, id: &str, request: ResizeRequest) -> Result<Instance> {
        let i = self.find(id).await?;
        if state_name(&i) != Some(&InstanceStateName::Stopped) {
            return Err(Error::conflict(format!(
                "instance {id} must be stopped to change its instance type"
            ))
            .with_provider(SCHEME));
        }
        if self.instance_type.is_some() {
            return Err(Error::unsupported(
                "every instance of this connection is its instance_type: it is not resized",
            )
            .with_provider(SCHEME));
        }
        let now = self.instance(&i).await?;
        let kind = instance_type_for(request.cpus.or(now.cpus), request.memory.or(now.memory))?;
        self.client
            .modify_instance_attribute()
            .instance_id(i.instance_id().unwrap_or_default())
            .instance_type(AttributeValue::builder().value(kind).build())
            .send()
            .await
            .map_err(|e| map(e, &format!("instance {id}")))?;
        self.get(id).await
    }
}

/// The last `n` lines of `text`.
fn tail(text: &[u8], n: u64) -> Vec<u8> {
    let body = text.strip_suffix(b"\n").unwrap_or(text);
    let mut start = body.len();
    for _ in 0..n {
        match body[..start].iter().rposition(|b| *b == b'\n') {
            Some(p) => start = p,
            None => return text.to_vec(),
        }
    }
    if n == 0 {
        return Vec::new();
    }
    text[start + 1..].to_vec()
}

/// A fresh idempotency token for one RunInstances call.
fn uuid_like() -> String {
    (0..32).map(|_| fastrand::alphanumeric()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_smallest_type_that_holds_the_spec() {
        assert_eq!(instance_type_for(None, None).unwrap(), "t3.nano");
        assert_eq!(
            instance_type_for(Some(0.5), Some(64 * MIB)).unwrap(),
            "t3.nano"
        );
        assert_eq!(
            instance_type_for(Some(1.0), Some(513 * MIB)).unwrap(),
            "t3.micro"
        );
        assert_eq!(instance_type_for(Some(3.0), None).unwrap(), "t3.xlarge");
        assert_eq!(
            instance_type_for(Some(2.0), Some(8192 * MIB)).unwrap(),
            "t3.large"
        );
        let too_big = instance_type_for(Some(97.0), None).unwrap_err();
        assert_eq!(too_big.kind(), ErrorKind::InvalidInput);
    }

    #[test]
    fn the_command_becomes_a_quoted_script() {
        let spec = InstanceSpec::new("a", "ami-12345678")
            .command(["sh", "-c", "echo 'it''s' $HOME"])
            .env("GREETING", "it's");
        let script = aws_smithy_types::base64::decode(user_data(&spec).unwrap().unwrap()).unwrap();
        assert_eq!(
            String::from_utf8(script).unwrap(),
            "#!/bin/sh\nexport GREETING='it'\\''s'\nexec 'sh' '-c' 'echo '\\''it'\\'''\\''s'\\'' $HOME'\n"
        );
        assert_eq!(user_data(&InstanceSpec::new("a", "ami-1")).unwrap(), None);
        let env_only = InstanceSpec::new("a", "ami-1").env("A", "b");
        assert_eq!(
            user_data(&env_only).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        let huge = InstanceSpec::new("a", "ami-1").command(["echo", &"x".repeat(17_000)]);
        assert_eq!(
            user_data(&huge).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        for key in ["MY-VAR", "1A", "A;reboot", "$(id)", "A B"] {
            let bad = InstanceSpec::new("a", "ami-1")
                .command(["true"])
                .env(key, "x");
            assert_eq!(
                user_data(&bad).unwrap_err().kind(),
                ErrorKind::InvalidInput,
                "{key}"
            );
        }
    }

    #[test]
    fn only_instance_ids_are_ids() {
        assert!(is_instance_id("i-0123456789abcdef0"));
        assert!(is_instance_id("i-12345678"));
        for name in ["i-web", "i-", "web", "i-0123456789abcdefg"] {
            assert!(!is_instance_id(name), "{name}");
        }
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail(b"a\nb\nc\n", 1), b"c\n");
        assert_eq!(tail(b"a\nb\nc\n", 2), b"b\nc\n");
        assert_eq!(tail(b"a\nb\nc", 1), b"c");
        assert_eq!(tail(b"a\nb\n", 5), b"a\nb\n");
        assert_eq!(tail(b"a\nb\n", 0), b"");
    }
}
