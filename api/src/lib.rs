#![doc = include_str!("../README.md")]

pub mod accounts;
pub mod admin;
pub mod agents;
pub mod billing;
pub mod buckets;
pub mod capabilities;
pub mod channel;
pub mod clusters;
pub mod disks;
pub mod error;
pub mod events;
pub mod functions;
pub mod instances;
pub mod orgs;
pub mod protocol;

pub use capabilities::Capabilities;
pub use error::{ErrorBody, ErrorDetail, KIND_HEADER};
