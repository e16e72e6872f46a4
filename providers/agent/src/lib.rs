#![doc = include_str!("../README.md")]

pub mod agent;
pub mod fleet;
pub use nubes_api::protocol;
pub mod scheduler;

pub use agent::{host_capacity, run, AgentConfig};
pub use fleet::{Drained, Fleet, FleetConfig, FleetEvent, Store, Waiting};
pub use nubes_api::agents::AgentStatus;
pub use scheduler::{Resources, Strategy};
