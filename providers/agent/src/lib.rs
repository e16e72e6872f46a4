#![doc = include_str!("../README.md")]

pub mod agent;
pub mod fleet;
pub mod protocol;
pub mod scheduler;

pub use agent::{run, AgentConfig};
pub use fleet::{AgentStatus, Drained, Fleet, FleetConfig, FleetEvent, Store};
pub use scheduler::{Resources, Strategy};
