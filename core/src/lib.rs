#![doc = include_str!("../README.md")]

pub mod capability;
pub mod cloud;
pub mod compute;
#[cfg(feature = "testkit")]
pub mod conformance;
pub mod disk;
pub mod error;
pub mod function;
pub mod layer;
pub mod memory;
pub mod multipart;
mod operation;
pub mod resources;
pub mod storage;
pub mod units;
pub mod uri;
pub mod validate;
pub mod wait;

pub use capability::{ComputeCapability, DiskCapability, FunctionCapability, StorageCapability};
pub use cloud::{Cloud, Registry};
pub use compute::{
    collect_exec, Compute, ConsoleKind, DeleteOptions, ExecEvent, ExecOutput, ExecRequest,
    ExecStream, Instance, InstanceSpec, InstanceState, InstanceStats, ListOptions, LogChunk,
    LogOptions, LogStream, LogStreamKind, PortMapping, Protocol, ResizeRequest, Scope, StopOptions,
    VmSpec, Volume,
};
pub use disk::{Disk, DiskFormat, DiskImage, DiskResizeRequest, DiskSpec, Progress};
pub use error::{Error, ErrorKind, Result};
pub use function::{
    AsyncInvocation, Function, FunctionError, FunctionInfo, FunctionSpec, InvokeResponse,
};
pub use operation::Operation;
pub use resources::Resources;
pub use storage::{
    byte_stream, collect_bytes, Bucket, ByteRange, ByteStream, GetOptions, GetResult,
    ListObjectsOptions, ObjectMeta, ObjectPage, PresignMethod, PresignedRequest, Storage,
};
pub use wait::{wait_for, WaitCondition};

/// Re-exported so providers implement the traits with the same macro version.
pub use async_trait::async_trait;
pub use bytes::Bytes;
