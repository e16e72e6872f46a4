//! What a backend can do. Operations outside a backend's capability fail with
//! [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported) in the capability layer that every
//! [`Cloud`](crate::Cloud) applies, before the backend is touched.

use serde::{Deserialize, Serialize};

use crate::disk::DiskFormat;
use crate::Operation;

/// Compute capabilities. create, get, list, start, stop and delete are always supported.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[non_exhaustive]
pub struct ComputeCapability {
    pub restart: bool,
    pub exec: bool,
    /// `exec` accepts bytes for the command's stdin.
    pub exec_stdin: bool,
    /// `exec_stream` yields output while the command runs and writes stdin as it arrives,
    /// rather than all at the end.
    pub exec_stream: bool,
    pub logs: bool,
    pub logs_follow: bool,
    pub stats: bool,
    pub resize: bool,
    /// `resize` applies to a running instance without a restart.
    pub resize_live: bool,
    /// Published ports in `InstanceSpec::ports` are honoured.
    pub ports: bool,
    /// `InstanceSpec::disk` is enforced as a hard limit.
    pub disk_limit: bool,
    /// `console` attaches to the serial console (`ConsoleKind::Serial`); logs may come from it.
    pub console: bool,
    /// `console` attaches to the graphical screen over RFB (`ConsoleKind::Vnc`).
    #[serde(default)]
    pub vnc: bool,
    pub gpu: bool,
    /// Instances come in fixed sizes (a cloud's instance types): `cpus` and `memory` are
    /// rounded up to the smallest size that holds them, and an instance reports the size it
    /// got, which is what it is billed for.
    #[serde(default)]
    pub sized: bool,
    /// `InstanceSpec::volumes` are mounted: disks of the same provider, by name.
    #[serde(default)]
    pub volumes: bool,
}

impl ComputeCapability {
    /// What a container engine offers: restart, exec with stdin and streamed output, logs that
    /// follow, stats, and resizing while running. A provider adds what else it has.
    pub fn containers() -> Self {
        Self {
            restart: true,
            exec: true,
            exec_stdin: true,
            exec_stream: true,
            logs: true,
            logs_follow: true,
            stats: true,
            resize: true,
            resize_live: true,
            ..Self::default()
        }
    }

    pub fn supports(&self, op: Operation) -> bool {
        match op {
            Operation::ComputeRestart => self.restart,
            Operation::ComputeExec => self.exec,
            Operation::ComputeLogs => self.logs,
            Operation::ComputeStats => self.stats,
            Operation::ComputeResize => self.resize,
            Operation::ComputeConsole => self.console || self.vnc,
            _ => true,
        }
    }

    /// Whether `console` attaches to this kind of console.
    pub fn has_console(&self, kind: crate::ConsoleKind) -> bool {
        match kind {
            crate::ConsoleKind::Serial => self.console,
            crate::ConsoleKind::Vnc => self.vnc,
        }
    }
}

/// Disk capabilities. create, get, list and delete are always supported.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[non_exhaustive]
pub struct DiskCapability {
    pub resize: bool,
    /// `resize` also shrinks, when asked to (`DiskResizeRequest::allow_shrink`); without it a
    /// smaller size is `Unsupported`.
    #[serde(default)]
    pub shrink: bool,
    pub convert: bool,
    pub rename: bool,
    /// Formats `create` and `convert` accept.
    pub formats: Vec<DiskFormat>,
}

impl DiskCapability {
    pub fn supports(&self, op: Operation) -> bool {
        match op {
            Operation::DiskResize => self.resize,
            Operation::DiskConvert => self.convert,
            Operation::DiskRename => self.rename,
            _ => true,
        }
    }
}

/// Storage capabilities. Bucket and whole-object operations are always supported.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[non_exhaustive]
pub struct StorageCapability {
    /// `get` honours `GetOptions::range`.
    pub range: bool,
    /// `list` honours `ListObjectsOptions::limit` and continuation tokens.
    pub pagination: bool,
    /// `presign` makes URLs to read an object that anyone holding them can use, without
    /// credentials, until they expire.
    #[serde(default)]
    pub presign: bool,
    /// ... and URLs to write one.
    #[serde(default)]
    pub presign_put: bool,
    /// Multipart uploads: parts sent in any order, resumable by upload id, completed or aborted
    /// (`Storage::create_upload` and the rest).
    #[serde(default)]
    pub multipart: bool,
}

impl StorageCapability {
    /// Ranged reads and paged listings.
    pub fn ranges_and_pages() -> Self {
        Self {
            range: true,
            pagination: true,
            presign: false,
            presign_put: false,
            multipart: false,
        }
    }

    pub fn supports(&self, op: Operation) -> bool {
        match op {
            Operation::StoragePresign => self.presign,
            Operation::StorageUpload | Operation::StoragePart => self.multipart,
            _ => true,
        }
    }
}

/// Function capabilities. deploy, get, list, invoke and delete are always supported.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[non_exhaustive]
pub struct FunctionCapability {
    /// `FunctionSpec::timeout` is enforced per invocation.
    pub timeout: bool,
    /// `FunctionSpec::cpus`/`memory` are enforced per invocation.
    pub limits: bool,
    /// Deploys take the code as a zip archive (`FunctionSpec::code`), run by `image` as a
    /// runtime; without it, code is refused and `image` holds everything.
    #[serde(default)]
    pub code: bool,
    /// Payloads and results are JSON documents (Lambda's); the backend may re-encode them, so
    /// they compare as JSON, not as bytes. Without it they are any bytes.
    #[serde(default)]
    pub json: bool,
    /// `invoke_async` starts an invocation and returns its id at once.
    #[serde(default)]
    pub invoke_async: bool,
}

impl FunctionCapability {
    pub fn supports(&self, op: Operation) -> bool {
        match op {
            Operation::FunctionInvokeAsync => self.invoke_async,
            _ => true,
        }
    }
}
