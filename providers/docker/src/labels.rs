//! The labels that mark a container as Nubes's. `list` and `get` only ever see containers that
//! carry them, so the provider never touches containers it did not create.

pub const MANAGED: &str = "io.nubes.managed";
pub const KIND: &str = "io.nubes.kind";
pub const KIND_INSTANCE: &str = "instance";
pub const KIND_FUNCTION: &str = "function";
pub const KIND_NETWORK: &str = "network";
pub const FUNCTION_NAME: &str = "io.nubes.function.name";
pub const FUNCTION_TIMEOUT_MS: &str = "io.nubes.function.timeout-ms";

/// Docker's name for the container that holds a function's definition.
pub fn function_container(name: &str) -> String {
    format!("nubes-fn-{name}")
}
pub const KIND_INVOCATION: &str = "invocation";
