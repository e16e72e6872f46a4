//! Compute: instances (containers or VMs) and what can be done with them.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};

use crate::{validate, ByteStream, ComputeCapability, Error, Result};

/// The most stdin a backend without streamed exec is given: it holds all of it at once.
pub const EXEC_STDIN_WHOLE_MAX: usize = 16 << 20;

/// What to create. `Default` leaves every optional knob unset; `name` and `image` are required.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct InstanceSpec {
    pub name: String,
    pub image: String,
    /// CPU cores, fractions allowed (0.5 is half a core).
    pub cpus: Option<f64>,
    /// Memory limit in bytes.
    pub memory: Option<u64>,
    /// Disk limit in bytes, where the backend can enforce one (`ComputeCapability::disk_limit`).
    pub disk: Option<u64>,
    /// Maximum number of processes.
    pub pids: Option<u64>,
    pub env: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    /// Overrides the image's default command.
    pub command: Option<Vec<String>>,
    pub ports: Vec<PortMapping>,
    /// Placement: when capacity is short, higher priorities are admitted first (default 0).
    /// Providers that place nothing (one engine, one host) ignore it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i32>,
    /// Placement: the cluster (a reserved pool of fleet capacity) to run in, by id.
    /// Providers that place nothing ignore it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// For virtual machines: what to boot besides the image. Container providers refuse it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm: Option<VmSpec>,
    /// Disks of the same provider mounted into the instance (`ComputeCapability::volumes`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Volume>,
    /// Placement: the share of the backend kept apart for the instance and its peers, and what
    /// they may hold there together. A platform passes one per organization; providers that
    /// partition a shared backend (a Kubernetes namespace with a ResourceQuota) honour it,
    /// those that keep no shares (one engine, one host) ignore it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
}

/// A share of a backend kept apart from the others: see [`InstanceSpec::scope`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Scope {
    /// Names the share: 1-32 of `a-z0-9`, so providers can make names of their own from it.
    pub name: String,
    /// What all of the share's instances may hold at once, where the backend enforces it;
    /// none leaves them unbounded there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<crate::Resources>,
}

impl Scope {
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            limits: None,
        }
    }

    pub fn limits(mut self, limits: crate::Resources) -> Self {
        self.limits = Some(limits);
        self
    }

    pub fn validate(&self) -> Result<()> {
        let n = &self.name;
        if n.is_empty()
            || n.len() > 32
            || !n
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            return Err(Error::invalid_input(format!(
                "scope `{}` is not 1-32 lowercase letters and digits",
                n.escape_debug()
            )));
        }
        Ok(())
    }
}

/// A disk mounted into an instance at `path`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Volume {
    /// The disk, by name, on the same provider.
    pub disk: String,
    /// Where it appears inside the instance: an absolute path.
    pub path: String,
    #[serde(default)]
    pub read_only: bool,
}

impl Volume {
    pub fn new(disk: impl Into<String>, path: impl Into<String>) -> Self {
        Self {
            disk: disk.into(),
            path: path.into(),
            read_only: false,
        }
    }

    pub fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }
}

/// What a virtual machine boots besides its image (its boot disk). Files are named within the
/// provider's boot directory, never by path.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct VmSpec {
    /// An installation ISO, attached as a cdrom and booted first.
    pub iso: Option<String>,
    /// A kernel to boot directly; the instance's `command` is its command line.
    pub kernel: Option<String>,
    pub initrd: Option<String>,
    /// `user` (the default: outbound only), `none`, or `bridge:NAME`.
    pub network: Option<String>,
}

impl VmSpec {
    pub fn iso(mut self, file: impl Into<String>) -> Self {
        self.iso = Some(file.into());
        self
    }

    pub fn kernel(mut self, file: impl Into<String>, initrd: Option<String>) -> Self {
        self.kernel = Some(file.into());
        self.initrd = initrd;
        self
    }

    pub fn network(mut self, mode: impl Into<String>) -> Self {
        self.network = Some(mode.into());
        self
    }

    pub fn validate(&self) -> Result<()> {
        for (what, file) in [
            ("iso", &self.iso),
            ("kernel", &self.kernel),
            ("initrd", &self.initrd),
        ] {
            if let Some(f) = file {
                if f.is_empty() || f.contains('/') || f.contains('\\') || f == ".." || f == "." {
                    return Err(Error::invalid_input(format!(
                        "{what} `{f}` must be a file name in the boot directory, not a path"
                    )));
                }
            }
        }
        if self.initrd.is_some() && self.kernel.is_none() {
            return Err(Error::invalid_input("an initrd needs a kernel"));
        }
        match self.network.as_deref() {
            None | Some("user") | Some("none") => Ok(()),
            Some(n) => match n.strip_prefix("bridge:") {
                Some(b)
                    if !b.is_empty()
                        && b.len() <= 15
                        && b.bytes().all(|c| {
                            c.is_ascii_alphanumeric() || c == b'-' || c == b'_' || c == b'.'
                        }) =>
                {
                    Ok(())
                }
                _ => Err(Error::invalid_input(format!(
                    "network `{n}` is not one of user, none, bridge:NAME"
                ))),
            },
        }
    }
}

/// The cpus an instance gets when its spec names none.
pub const DEFAULT_CPUS: f64 = 1.0;
/// The memory a container gets when its spec names none.
pub const DEFAULT_MEMORY: u64 = 256 << 20;
/// The memory a VM gets when its spec names none: a guest kernel needs more than a container.
pub const DEFAULT_VM_MEMORY: u64 = 512 << 20;

impl InstanceSpec {
    /// Sets cpus and memory where the spec leaves them unset, to the defaults every provider
    /// applies. A platform calls it before admission, so that what it counts against plans,
    /// bills and asks the backend to enforce is one size.
    pub fn apply_defaults(&mut self) {
        self.cpus.get_or_insert(DEFAULT_CPUS);
        let memory = if self.vm.is_some() {
            DEFAULT_VM_MEMORY
        } else {
            DEFAULT_MEMORY
        };
        self.memory.get_or_insert(memory);
    }

    pub fn new(name: impl Into<String>, image: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            image: image.into(),
            ..Self::default()
        }
    }

    pub fn cpus(mut self, cpus: f64) -> Self {
        self.cpus = Some(cpus);
        self
    }

    pub fn memory(mut self, bytes: u64) -> Self {
        self.memory = Some(bytes);
        self
    }

    pub fn disk(mut self, bytes: u64) -> Self {
        self.disk = Some(bytes);
        self
    }

    pub fn command<S: Into<String>>(mut self, argv: impl IntoIterator<Item = S>) -> Self {
        self.command = Some(argv.into_iter().map(Into::into).collect());
        self
    }

    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(key.into(), value.into());
        self
    }

    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    pub fn priority(mut self, priority: i32) -> Self {
        self.priority = Some(priority);
        self
    }

    pub fn vm(mut self, vm: VmSpec) -> Self {
        self.vm = Some(vm);
        self
    }

    pub fn cluster(mut self, id: impl Into<String>) -> Self {
        self.cluster = Some(id.into());
        self
    }

    pub fn port(mut self, mapping: PortMapping) -> Self {
        self.ports.push(mapping);
        self
    }

    pub fn volume(mut self, volume: Volume) -> Self {
        self.volumes.push(volume);
        self
    }

    pub fn scope(mut self, scope: Scope) -> Self {
        self.scope = Some(scope);
        self
    }

    /// Fails with `Unsupported` when the spec mounts disks: for providers without
    /// `ComputeCapability::volumes`, so a mount is never silently dropped.
    pub fn refuse_volumes(&self, provider: &str) -> Result<()> {
        match self.volumes.first() {
            None => Ok(()),
            Some(v) => Err(Error::unsupported(format!(
                "the {provider} provider mounts no disks into instances (disk `{}` at {})",
                v.disk, v.path
            ))),
        }
    }

    /// Checks everything that does not depend on the backend. Providers call this first so bad
    /// input fails the same way everywhere and before anything is created.
    pub fn validate(&self) -> Result<()> {
        validate::name("instance", &self.name)?;
        if self.image.trim().is_empty() {
            return Err(Error::invalid_input("instance image must not be empty"));
        }
        validate::resources(self.cpus, self.memory)?;
        if self.disk == Some(0) {
            return Err(Error::invalid_input(
                "instance disk must be greater than zero",
            ));
        }
        if self.pids == Some(0) {
            return Err(Error::invalid_input(
                "instance pids limit must be greater than zero",
            ));
        }
        if let Some(cmd) = &self.command {
            if cmd.is_empty() {
                return Err(Error::invalid_input(
                    "instance command must not be an empty list",
                ));
            }
        }
        validate::env(&self.env)?;
        validate::labels(&self.labels)?;
        for p in &self.ports {
            p.validate()?;
        }
        if let Some(vm) = &self.vm {
            vm.validate()?;
        }
        if let Some(scope) = &self.scope {
            scope.validate()?;
        }
        let mut paths = std::collections::BTreeSet::new();
        for v in &self.volumes {
            validate::name("disk", &v.disk)?;
            let p = v.path.trim_end_matches('/');
            if !p.starts_with('/')
                || p.split('/').any(|c| c == ".." || c == ".")
                || p.contains('\0')
            {
                return Err(Error::invalid_input(format!(
                    "volume path `{}` must be an absolute path without `.` or `..`",
                    v.path.escape_debug()
                )));
            }
            if !paths.insert(p) {
                return Err(Error::invalid_input(format!(
                    "two volumes are mounted at {}",
                    v.path
                )));
            }
        }
        Ok(())
    }
}

/// A port published from the instance to its host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMapping {
    pub container_port: u16,
    /// `None` lets the backend choose a free host port.
    pub host_port: Option<u16>,
    pub protocol: Protocol,
}

impl PortMapping {
    pub fn tcp(container_port: u16, host_port: Option<u16>) -> Self {
        Self {
            container_port,
            host_port,
            protocol: Protocol::Tcp,
        }
    }

    fn validate(&self) -> Result<()> {
        if self.container_port == 0 || self.host_port == Some(0) {
            return Err(Error::invalid_input(
                "port numbers must be between 1 and 65535",
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
}

/// Where an instance is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum InstanceState {
    /// Accepted, waiting for capacity (a fleet's queue).
    Queued,
    Creating,
    Running,
    Paused,
    Restarting,
    Stopping,
    Stopped,
    Deleting,
    Failed,
    Unknown,
}

impl InstanceState {
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceState::Queued => "queued",
            InstanceState::Creating => "creating",
            InstanceState::Running => "running",
            InstanceState::Paused => "paused",
            InstanceState::Restarting => "restarting",
            InstanceState::Stopping => "stopping",
            InstanceState::Stopped => "stopped",
            InstanceState::Deleting => "deleting",
            InstanceState::Failed => "failed",
            InstanceState::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for InstanceState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An instance as the backend reports it now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Instance {
    pub id: String,
    pub name: String,
    pub image: String,
    pub state: InstanceState,
    /// Exit code of the main process once it has stopped, where the backend knows it.
    pub exit_code: Option<i64>,
    pub cpus: Option<f64>,
    pub memory: Option<u64>,
    pub disk: Option<u64>,
    pub labels: BTreeMap<String, String>,
    pub ports: Vec<PortMapping>,
    pub created_at: Option<DateTime<Utc>>,
    /// The provider's scheme ("docker", "memory", ...).
    pub provider: String,
    /// The consoles [`Compute::console`] can attach to now.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consoles: Vec<ConsoleKind>,
}

impl Instance {
    /// A new record in the `Creating` state; providers fill in the rest.
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        provider: impl Into<String>,
    ) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            image: String::new(),
            state: InstanceState::Creating,
            exit_code: None,
            cpus: None,
            memory: None,
            disk: None,
            labels: BTreeMap::new(),
            ports: Vec::new(),
            created_at: None,
            provider: provider.into(),
            consoles: Vec::new(),
        }
    }
}

/// Filters for `Compute::list`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ListOptions {
    /// Only instances carrying every one of these labels with these values.
    pub labels: BTreeMap<String, String>,
    /// Only instances whose name starts with this.
    pub name_prefix: Option<String>,
}

impl ListOptions {
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    pub fn name_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.name_prefix = Some(prefix.into());
        self
    }

    /// Whether an instance passes these filters; providers that cannot filter server-side use it.
    pub fn matches(&self, instance: &Instance) -> bool {
        self.labels
            .iter()
            .all(|(k, v)| instance.labels.get(k) == Some(v))
            && self
                .name_prefix
                .as_deref()
                .is_none_or(|p| instance.name.starts_with(p))
    }
}

/// How to stop an instance: ask it to exit, wait up to `timeout`, then kill it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StopOptions {
    pub timeout: Duration,
}

impl Default for StopOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
        }
    }
}

impl StopOptions {
    pub fn timeout(timeout: Duration) -> Self {
        Self { timeout }
    }
}

/// How to delete an instance.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DeleteOptions {
    /// Delete a running instance (killing it) instead of failing with `Conflict`.
    pub force: bool,
    /// Keep the disks the instance made for itself (a VM's boot disk), as disk images.
    #[serde(default)]
    pub keep_disks: bool,
}

impl DeleteOptions {
    pub fn new(force: bool, keep_disks: bool) -> Self {
        Self { force, keep_disks }
    }

    pub fn force() -> Self {
        Self {
            force: true,
            keep_disks: false,
        }
    }

    pub fn keep_disks(mut self) -> Self {
        self.keep_disks = true;
        self
    }
}

/// A command to run inside a running instance.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ExecRequest {
    /// The program and its arguments; no shell is involved unless you name one.
    pub command: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub workdir: Option<String>,
    /// Bytes written to the command's stdin, which is then closed.
    pub stdin: Option<Bytes>,
    /// Fails with `ErrorKind::Timeout` if the command has not finished by then.
    pub timeout: Option<Duration>,
    /// When the output is collected ([`Compute::exec`]), keep at most this many bytes of each
    /// of stdout and stderr; the rest is read and dropped, and [`ExecOutput::truncated`] says
    /// so. Streams ([`Compute::exec_stream`]) are not cut.
    #[serde(default)]
    pub max_output: Option<u64>,
}

impl ExecRequest {
    pub fn new<S: Into<String>>(argv: impl IntoIterator<Item = S>) -> Self {
        Self {
            command: argv.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }

    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(key.into(), value.into());
        self
    }

    pub fn workdir(mut self, dir: impl Into<String>) -> Self {
        self.workdir = Some(dir.into());
        self
    }

    pub fn stdin(mut self, bytes: impl Into<Bytes>) -> Self {
        self.stdin = Some(bytes.into());
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    pub fn max_output(mut self, bytes: u64) -> Self {
        self.max_output = Some(bytes);
        self
    }

    pub fn validate(&self) -> Result<()> {
        match self.command.first() {
            None => Err(Error::invalid_input("exec command must not be empty")),
            Some(p) if p.is_empty() => {
                Err(Error::invalid_input("exec program name must not be empty"))
            }
            Some(_) => validate::env(&self.env),
        }
    }
}

/// What a finished command produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ExecOutput {
    pub exit_code: i64,
    pub stdout: Bytes,
    pub stderr: Bytes,
    /// Output past [`ExecRequest::max_output`] was dropped.
    #[serde(default)]
    pub truncated: bool,
}

impl ExecOutput {
    pub fn new(exit_code: i64, stdout: impl Into<Bytes>, stderr: impl Into<Bytes>) -> Self {
        Self {
            exit_code,
            stdout: stdout.into(),
            stderr: stderr.into(),
            truncated: false,
        }
    }

    pub fn success(&self) -> bool {
        self.exit_code == 0
    }

    /// Keeps at most `max` bytes of each of stdout and stderr, for backends that hand over a
    /// command's output whole.
    pub fn truncate(mut self, max: Option<u64>) -> Self {
        let limit = max.map_or(usize::MAX, |m| usize::try_from(m).unwrap_or(usize::MAX));
        for out in [&mut self.stdout, &mut self.stderr] {
            if out.len() > limit {
                out.truncate(limit);
                self.truncated = true;
            }
        }
        self
    }
}

/// A moment in a running command's life, as [`Compute::exec_stream`] yields them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ExecEvent {
    /// Output, as the command wrote it.
    Output(LogChunk),
    /// The command ended with this code; always the last event.
    Exit { exit_code: i64 },
}

/// A command's output as it is written, ending with its [`ExecEvent::Exit`].
pub type ExecStream = BoxStream<'static, Result<ExecEvent>>;

/// Reads an exec stream to its end, keeping at most `max_output` bytes of each of stdout and
/// stderr (all of it with `None`): memory stays bounded however much the command writes.
pub async fn collect_exec(mut stream: ExecStream, max_output: Option<u64>) -> Result<ExecOutput> {
    use futures::StreamExt;
    let limit = max_output.map_or(usize::MAX, |m| usize::try_from(m).unwrap_or(usize::MAX));
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let mut truncated = false;
    while let Some(event) = stream.next().await {
        match event? {
            ExecEvent::Output(chunk) => {
                let kept = match chunk.stream {
                    LogStreamKind::Stdout => &mut stdout,
                    LogStreamKind::Stderr => &mut stderr,
                };
                let room = limit.saturating_sub(kept.len());
                truncated |= chunk.data.len() > room;
                kept.extend_from_slice(&chunk.data[..chunk.data.len().min(room)]);
            }
            ExecEvent::Exit { exit_code } => {
                let mut out = ExecOutput::new(exit_code, stdout, stderr);
                out.truncated = truncated;
                return Ok(out);
            }
        }
    }
    Err(Error::unexpected(
        "the command's output ended without an exit code",
    ))
}

/// Which log lines to read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LogOptions {
    /// Only the last `tail` lines of what is already there.
    pub tail: Option<u64>,
    /// Keep the stream open and yield new output as it is written.
    pub follow: bool,
    pub since: Option<DateTime<Utc>>,
}

impl LogOptions {
    pub fn tail(mut self, lines: u64) -> Self {
        self.tail = Some(lines);
        self
    }

    pub fn follow(mut self, follow: bool) -> Self {
        self.follow = follow;
        self
    }
}

/// Which stream a piece of output came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogStreamKind {
    Stdout,
    Stderr,
}

/// A piece of an instance's output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogChunk {
    pub stream: LogStreamKind,
    pub data: Bytes,
}

/// An instance's output, in order; ends when the instance stops or, without `follow`, at the end.
pub type LogStream = BoxStream<'static, Result<LogChunk>>;

/// A resource usage sample.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[non_exhaustive]
pub struct InstanceStats {
    /// CPU use in percent of one core (200.0 is two cores busy).
    pub cpu_percent: f64,
    pub memory_bytes: u64,
    pub memory_limit_bytes: Option<u64>,
    pub network_rx_bytes: u64,
    pub network_tx_bytes: u64,
    pub block_read_bytes: u64,
    pub block_write_bytes: u64,
    pub pids: Option<u64>,
}

/// New limits for `Compute::resize`; fields left `None` stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ResizeRequest {
    pub cpus: Option<f64>,
    pub memory: Option<u64>,
}

impl ResizeRequest {
    pub fn cpus(mut self, cpus: f64) -> Self {
        self.cpus = Some(cpus);
        self
    }

    pub fn memory(mut self, bytes: u64) -> Self {
        self.memory = Some(bytes);
        self
    }

    pub fn validate(&self) -> Result<()> {
        if self.cpus.is_none() && self.memory.is_none() {
            return Err(Error::invalid_input("resize needs new cpus or memory"));
        }
        validate::resources(self.cpus, self.memory)
    }
}

/// Which of an instance's consoles [`Compute::console`] attaches to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ConsoleKind {
    /// The first serial port, as a terminal: what the guest writes there, and keystrokes to it
    /// (`ComputeCapability::console`).
    Serial,
    /// The graphical screen as an RFB (VNC) byte stream, as noVNC and VNC viewers speak it
    /// (`ComputeCapability::vnc`).
    Vnc,
}

impl ConsoleKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsoleKind::Serial => "serial",
            ConsoleKind::Vnc => "vnc",
        }
    }
}

impl std::fmt::Display for ConsoleKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ConsoleKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "serial" => Ok(ConsoleKind::Serial),
            "vnc" => Ok(ConsoleKind::Vnc),
            _ => Err(Error::invalid_input(format!(
                "console `{}` is not one of serial, vnc",
                s.escape_debug()
            ))),
        }
    }
}

/// Instances: containers or VMs. `id` arguments accept the instance's id or its name.
#[async_trait]
pub trait Compute: Debug + Send + Sync + 'static {
    /// The scheme of the provider behind this handle ("docker", "memory", ...).
    fn provider(&self) -> &str;
    fn capability(&self) -> ComputeCapability;

    /// Creates the instance and starts it. On failure nothing is left behind.
    async fn create(&self, spec: InstanceSpec) -> Result<Instance>;
    async fn get(&self, id: &str) -> Result<Instance>;
    async fn list(&self, options: ListOptions) -> Result<Vec<Instance>>;
    /// Starts a stopped instance; starting a running one is a no-op.
    async fn start(&self, id: &str) -> Result<Instance>;
    /// Stops a running instance; stopping a stopped one is a no-op.
    async fn stop(&self, id: &str, options: StopOptions) -> Result<Instance>;
    async fn restart(&self, id: &str, options: StopOptions) -> Result<Instance>;
    async fn delete(&self, id: &str, options: DeleteOptions) -> Result<()>;
    /// Runs a command in a running instance and waits for it; a non-zero exit is not an error.
    async fn exec(&self, id: &str, request: ExecRequest) -> Result<ExecOutput>;
    /// Runs a command and yields its output as it is written, then its exit code.
    /// `request.stdin` is written first, then `stdin`'s pieces as they arrive; the end of `stdin`
    /// closes the command's. Dropping the returned stream abandons the command.
    ///
    /// Backends without `ComputeCapability::exec_stream` read all of `stdin` first, at most
    /// [`EXEC_STDIN_WHOLE_MAX`] bytes, and answer with the whole output at the end.
    async fn exec_stream(
        &self,
        id: &str,
        mut request: ExecRequest,
        stdin: Option<ByteStream>,
    ) -> Result<ExecStream> {
        if let Some(mut more) = stdin {
            use futures::StreamExt;
            let mut all = request.stdin.take().map(Vec::from).unwrap_or_default();
            while let Some(piece) = more.next().await {
                let piece = piece?;
                // Held whole, so bounded: a caller streaming without end must not fill memory.
                if all.len() + piece.len() > EXEC_STDIN_WHOLE_MAX {
                    return Err(Error::invalid_input(format!(
                        "this backend takes a command's stdin whole, at most {} MiB",
                        EXEC_STDIN_WHOLE_MAX >> 20
                    )));
                }
                all.extend_from_slice(&piece);
            }
            request.stdin = Some(all.into());
        }
        let out = self.exec(id, request).await?;
        let events = [
            (LogStreamKind::Stdout, out.stdout),
            (LogStreamKind::Stderr, out.stderr),
        ]
        .into_iter()
        .filter(|(_, data)| !data.is_empty())
        .map(|(stream, data)| Ok(ExecEvent::Output(LogChunk { stream, data })))
        .chain(std::iter::once(Ok(ExecEvent::Exit {
            exit_code: out.exit_code,
        })));
        Ok(Box::pin(futures::stream::iter(events.collect::<Vec<_>>())))
    }
    async fn logs(&self, id: &str, options: LogOptions) -> Result<LogStream>;
    /// Attaches to one of a running instance's consoles: `input`'s bytes reach it as they
    /// arrive, and the returned stream yields what it sends. Dropping the stream detaches; the
    /// instance runs on. Where a console takes one session at a time, a second is `Conflict`.
    async fn console(&self, id: &str, kind: ConsoleKind, input: ByteStream) -> Result<ByteStream> {
        let _ = (id, input);
        Err(Error::unsupported(format!(
            "the {} provider has no {kind} console",
            self.provider()
        )))
    }
    async fn stats(&self, id: &str) -> Result<InstanceStats>;
    async fn resize(&self, id: &str, request: ResizeRequest) -> Result<Instance>;
    /// The cpus and memory an instance asking for these would get. Unchanged, unless instances
    /// come in sizes (`ComputeCapability::sized`): then the size that holds them, so a caller
    /// can count and bill what will be enforced before it is made.
    async fn fit(&self, cpus: Option<f64>, memory: Option<u64>) -> Result<Size> {
        Ok(Size { cpus, memory })
    }
}

/// Cpus and memory, as [`Compute::fit`] answers them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Size {
    pub cpus: Option<f64>,
    pub memory: Option<u64>,
}

impl Size {
    pub fn new(cpus: Option<f64>, memory: Option<u64>) -> Self {
        Self { cpus, memory }
    }
}
