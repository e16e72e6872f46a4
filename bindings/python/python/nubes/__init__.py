"""Nubes, the cloud SDK, for Python.

``nubes.Cloud.connect(uri)`` gives blocking services that release the GIL while they wait;
``await nubes.AsyncCloud.connect(uri)`` gives the same services for asyncio. Both run on one
tokio runtime inside the native module::

    import nubes

    cloud = nubes.Cloud.connect("docker://")
    web = cloud.compute.create("web", "alpine", cpus=0.5, memory="256Mi", command=["sleep", "60"])
    print(cloud.compute.exec(web.id, ["echo", "hi"]).stdout)
"""

from nubes._nubes import (
    AsyncCloud,
    AsyncCompute,
    AsyncDisk,
    AsyncFunction,
    AsyncLogs,
    AsyncObjects,
    AsyncStorage,
    Bucket,
    Cloud,
    Compute,
    Disk,
    DiskImage,
    ExecOutput,
    Function,
    FunctionInfo,
    Instance,
    InstanceStats,
    InvokeResponse,
    LogChunk,
    Logs,
    ObjectMeta,
    Objects,
    Storage,
    error_classes,
)
from nubes.errors import (
    AlreadyExists,
    Conflict,
    Error,
    InsufficientCredits,
    InvalidInput,
    NotFound,
    PermissionDenied,
    QuotaExceeded,
    RateLimited,
    Timeout,
    Unauthenticated,
    Unavailable,
    Unexpected,
    Unsupported,
)

__all__ = [
    "AsyncCloud",
    "AsyncCompute",
    "AsyncDisk",
    "AsyncFunction",
    "AsyncLogs",
    "AsyncObjects",
    "AsyncStorage",
    "Bucket",
    "Cloud",
    "Compute",
    "Disk",
    "DiskImage",
    "ExecOutput",
    "Function",
    "FunctionInfo",
    "Instance",
    "InstanceStats",
    "InvokeResponse",
    "LogChunk",
    "Logs",
    "ObjectMeta",
    "Objects",
    "Storage",
    "error_classes",
    "Error",
    "NotFound",
    "AlreadyExists",
    "InvalidInput",
    "Unsupported",
    "PermissionDenied",
    "Unauthenticated",
    "QuotaExceeded",
    "InsufficientCredits",
    "Conflict",
    "RateLimited",
    "Timeout",
    "Unavailable",
    "Unexpected",
]
