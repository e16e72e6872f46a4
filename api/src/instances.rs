//! Instances as tenants create, see, run commands in and resize them.

use std::collections::BTreeMap;
use std::time::Duration;

use nubes_core::{
    Error, ExecRequest, Instance, InstanceSpec, InstanceState, ResizeRequest, VmSpec,
};
use serde::{Deserialize, Serialize};

/// What a tenant asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateInstance {
    /// Defaults to the caller's personal organization.
    pub org_id: Option<String>,
    pub name: String,
    pub image: String,
    pub cpus: Option<f64>,
    /// Bytes.
    pub memory: Option<u64>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    pub command: Option<Vec<String>>,
    /// Higher is admitted first when the fleet is full (fleet servers only).
    pub priority: Option<i32>,
    /// A cluster of the same organization to run in, counted against its reservation.
    pub cluster_id: Option<String>,
    /// Bytes: a VM's boot disk size, or a container's disk limit where the provider enforces one.
    pub disk: Option<u64>,
    /// For VMs: an ISO, a kernel and initrd (file names in the provider's boot directory), and
    /// the network (`user`, `none` or `bridge:NAME`).
    pub vm: Option<VmBody>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct VmBody {
    pub iso: Option<String>,
    pub kernel: Option<String>,
    pub initrd: Option<String>,
    pub network: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ExecBody {
    pub command: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    pub workdir: Option<String>,
    pub stdin: Option<String>,
    /// Seconds; 300 when unset, at most 3600.
    pub timeout_secs: Option<u64>,
    /// Bytes of each of stdout and stderr to keep (at most, and by default, 1 MiB); past it
    /// the rest is dropped and `truncated` says so.
    pub max_output: Option<u64>,
}

/// An instance as its tenant sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TenantInstance {
    pub id: String,
    pub name: String,
    pub org_id: String,
    pub owner_id: String,
    pub state: InstanceState,
    pub exit_code: Option<i64>,
    pub image: String,
    pub cpus: Option<f64>,
    pub memory: Option<u64>,
    pub labels: BTreeMap<String, String>,
    pub created_at: i64,
    /// The consoles `GET /v1/instances/{instance}/console` attaches to now.
    #[serde(default)]
    pub consoles: Vec<nubes_core::ConsoleKind>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExecResult {
    pub exit_code: i64,
    pub stdout: String,
    pub stderr: String,
    /// Output past `max_output` was dropped.
    pub truncated: bool,
}

/// What a create would do, without doing it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DryRun {
    /// `placed` (on `agent_id`), `queued` (it waits for capacity), `refused` (it never could
    /// run here), or `direct` (this server's own provider runs it).
    pub placement: String,
    pub agent_id: Option<String>,
    /// Why it would wait or be refused.
    pub placement_message: Option<String>,
    /// Whether the creator's plan allows it (always, on a server that does not bill).
    pub within_plan: bool,
    pub plan_message: Option<String>,
    /// Credits an hour while it runs.
    pub hourly: String,
    /// Credits paid at create (the first hour and the disk), on a server that bills.
    pub due_now: Option<String>,
    /// The creator's credits now, on a server that bills.
    pub balance: Option<String>,
    /// The cpus and memory it would run with: what was asked, or where instances come in
    /// sizes, the size that holds it. Plans count and billing charges these.
    #[serde(default)]
    pub cpus: Option<f64>,
    #[serde(default)]
    pub memory: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct StopQuery {
    /// Which organization the instance's name is looked up in, when several have one.
    pub org_id: Option<String>,
    /// Seconds to wait before killing; 10 when unset, at most 300.
    pub timeout_secs: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct DeleteQuery {
    /// Which organization the instance's name is looked up in, when several have one.
    pub org_id: Option<String>,
    #[serde(default)]
    pub force: bool,
    /// Keep the disks a VM made for itself (its boot disk), as disk images of the provider.
    #[serde(default)]
    pub keep_disks: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    /// Which organization the instance's name is looked up in, when several have one.
    pub org_id: Option<String>,
    pub tail: Option<u64>,
    #[serde(default)]
    pub follow: bool,
}

/// Which console `GET /v1/instances/{instance}/console` attaches to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct ConsoleQuery {
    /// Which organization the instance's name is looked up in, when several have one.
    pub org_id: Option<String>,
    /// `serial` (the first serial port, as a terminal) or `vnc` (the screen, over RFB).
    #[cfg_attr(feature = "openapi", param(value_type = String))]
    pub kind: nubes_core::ConsoleKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ResizeBody {
    pub cpus: Option<f64>,
    /// Bytes.
    pub memory: Option<u64>,
}

/// The first frame: what to run. Like every client frame on the socket, at most
/// [`FRAME_MAX`](crate::channel::FRAME_MAX) bytes: large input belongs in stdin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ExecStart {
    pub command: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    pub workdir: Option<String>,
    /// Written to stdin first.
    pub stdin: Option<String>,
    /// More stdin follows in binary frames, until an empty one.
    #[serde(default)]
    pub stdin_open: bool,
    pub timeout_secs: Option<u64>,
}

/// The last text frame of an interactive exec: the command's exit code, or the error that
/// ended it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecEnd {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<crate::ErrorDetail>,
}

impl StopQuery {
    /// How long a stop waits before killing: 10 s unless said, at most 300.
    pub fn timeout(&self) -> nubes_core::Result<Duration> {
        match self.timeout_secs.unwrap_or(10) {
            s @ 0..=300 => Ok(Duration::from_secs(s)),
            _ => Err(Error::invalid_input(
                "timeout_secs must be between 0 and 300",
            )),
        }
    }
}

impl VmBody {
    pub fn spec(self) -> VmSpec {
        let mut vm = VmSpec::default();
        vm.iso = self.iso;
        vm.kernel = self.kernel;
        vm.initrd = self.initrd;
        vm.network = self.network;
        vm
    }
}

impl From<&VmSpec> for VmBody {
    fn from(vm: &VmSpec) -> Self {
        Self {
            iso: vm.iso.clone(),
            kernel: vm.kernel.clone(),
            initrd: vm.initrd.clone(),
            network: vm.network.clone(),
        }
    }
}

impl ExecBody {
    /// The body for `req`. Stdin must be text here (JSON carries no bytes); whole seconds of
    /// timeout, rounded up so a deadline is never shortened.
    pub fn of(req: &ExecRequest) -> nubes_core::Result<Self> {
        let stdin = req
            .stdin
            .as_ref()
            .map(|b| {
                String::from_utf8(b.to_vec())
                    .map_err(|_| Error::unsupported("the server API takes text on stdin only"))
            })
            .transpose()?;
        Ok(Self {
            command: req.command.clone(),
            env: req.env.clone(),
            workdir: req.workdir.clone(),
            stdin,
            timeout_secs: req.timeout.map(whole_secs),
            max_output: req.max_output,
        })
    }

    /// The SDK request it asks for (the server then applies its bounds).
    pub fn into_request(self) -> ExecRequest {
        let mut req = ExecRequest::new(self.command);
        req.env = self.env;
        req.workdir = self.workdir;
        req.stdin = self.stdin.map(Into::into);
        req.timeout = self.timeout_secs.map(Duration::from_secs);
        req.max_output = self.max_output;
        req
    }
}

impl ExecStart {
    /// The exec it starts; stdin beyond `stdin` arrives in binary frames.
    pub fn into_body(self) -> ExecBody {
        ExecBody {
            command: self.command,
            env: self.env,
            workdir: self.workdir,
            stdin: self.stdin,
            timeout_secs: self.timeout_secs,
            max_output: None,
        }
    }
}

/// Whole seconds, rounded up.
pub fn whole_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

impl CreateInstance {
    /// The body that asks for `spec` in `org_id` (the caller's personal organization when
    /// `None`). Process limits and published ports are not part of the REST API.
    pub fn of(spec: &InstanceSpec, org_id: Option<String>) -> nubes_core::Result<Self> {
        if spec.pids.is_some() || !spec.ports.is_empty() {
            return Err(Error::unsupported(
                "the server API takes no pids or port settings yet",
            ));
        }
        Ok(Self {
            org_id,
            name: spec.name.clone(),
            image: spec.image.clone(),
            cpus: spec.cpus,
            memory: spec.memory,
            env: spec.env.clone(),
            labels: spec.labels.clone(),
            command: spec.command.clone(),
            priority: spec.priority,
            cluster_id: spec.cluster.clone(),
            disk: spec.disk,
            vm: spec.vm.as_ref().map(VmBody::from),
        })
    }

    /// The SDK spec it asks for, before the server's own rules (tenancy, defaults, priority).
    pub fn spec(&self) -> InstanceSpec {
        let mut spec = InstanceSpec::new(self.name.clone(), self.image.clone());
        spec.cpus = self.cpus;
        spec.memory = self.memory;
        spec.env = self.env.clone();
        spec.labels = self.labels.clone();
        spec.command = self.command.clone();
        spec.disk = self.disk;
        spec.vm = self.vm.clone().map(VmBody::spec);
        spec.priority = self.priority;
        spec.cluster = self.cluster_id.clone();
        spec
    }
}

impl TenantInstance {
    /// The SDK's view of it, as `provider` reports it.
    pub fn into_instance(self, provider: &str) -> Instance {
        let mut i = Instance::new(self.id, self.name, provider);
        i.state = self.state;
        i.exit_code = self.exit_code;
        i.image = self.image;
        i.cpus = self.cpus;
        i.memory = self.memory;
        i.labels = self.labels;
        i.created_at = chrono::DateTime::from_timestamp(self.created_at, 0);
        i.consoles = self.consoles;
        i
    }
}

impl From<&ResizeRequest> for ResizeBody {
    fn from(r: &ResizeRequest) -> Self {
        Self {
            cpus: r.cpus,
            memory: r.memory,
        }
    }
}

impl ResizeBody {
    pub fn request(&self) -> ResizeRequest {
        let mut r = ResizeRequest::default();
        r.cpus = self.cpus;
        r.memory = self.memory;
        r
    }
}
