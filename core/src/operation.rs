//! The operations of the four traits, named once so errors, layers and capability checks agree.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One operation of one trait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Operation {
    ComputeCreate,
    ComputeGet,
    ComputeList,
    ComputeStart,
    ComputeStop,
    ComputeRestart,
    ComputeDelete,
    ComputeExec,
    /// Attaching to a serial console or a screen.
    ComputeConsole,
    ComputeLogs,
    ComputeStats,
    ComputeResize,
    DiskCreate,
    DiskGet,
    DiskList,
    DiskResize,
    DiskConvert,
    DiskRename,
    DiskDelete,
    StorageCreateBucket,
    StorageListBuckets,
    StorageDeleteBucket,
    StoragePut,
    StorageGet,
    StorageHead,
    StorageList,
    StorageDelete,
    StoragePresign,
    /// Starting, completing or aborting a multipart upload.
    StorageUpload,
    /// Storing or listing a multipart upload's parts.
    StoragePart,
    FunctionDeploy,
    FunctionGet,
    FunctionList,
    FunctionInvoke,
    FunctionInvokeAsync,
    FunctionDelete,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        use Operation::*;
        match self {
            ComputeCreate => "compute.create",
            ComputeGet => "compute.get",
            ComputeList => "compute.list",
            ComputeStart => "compute.start",
            ComputeStop => "compute.stop",
            ComputeRestart => "compute.restart",
            ComputeDelete => "compute.delete",
            ComputeExec => "compute.exec",
            ComputeConsole => "compute.console",
            ComputeLogs => "compute.logs",
            ComputeStats => "compute.stats",
            ComputeResize => "compute.resize",
            DiskCreate => "disk.create",
            DiskGet => "disk.get",
            DiskList => "disk.list",
            DiskResize => "disk.resize",
            DiskConvert => "disk.convert",
            DiskRename => "disk.rename",
            DiskDelete => "disk.delete",
            StorageCreateBucket => "storage.create_bucket",
            StorageListBuckets => "storage.list_buckets",
            StorageDeleteBucket => "storage.delete_bucket",
            StoragePut => "storage.put",
            StorageGet => "storage.get",
            StorageHead => "storage.head",
            StorageList => "storage.list",
            StorageDelete => "storage.delete",
            StoragePresign => "storage.presign",
            StorageUpload => "storage.upload",
            StoragePart => "storage.part",
            FunctionDeploy => "function.deploy",
            FunctionGet => "function.get",
            FunctionList => "function.list",
            FunctionInvoke => "function.invoke",
            FunctionInvokeAsync => "function.invoke_async",
            FunctionDelete => "function.delete",
        }
    }

    /// Whether running the operation twice leaves the same state as running it once, so a retry
    /// after a temporary failure cannot duplicate work. Creates, exec, invoke and streamed uploads
    /// are not: the first attempt may have taken effect before the error came back.
    pub fn is_idempotent(self) -> bool {
        use Operation::*;
        !matches!(
            self,
            ComputeCreate
                | ComputeExec
                | ComputeConsole
                | ComputeRestart
                | DiskCreate
                | DiskConvert
                | DiskRename
                | StorageCreateBucket
                | StoragePut
                | StorageUpload
                | FunctionDeploy
                | FunctionInvoke
                | FunctionInvokeAsync
        )
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
