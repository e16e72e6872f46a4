#![doc = include_str!("../README.md")]

pub mod auth;
mod client;
mod compute;

use std::sync::Arc;

pub use client::Client;
pub use compute::RemoteCompute;
use nubes_core::{Cloud, Registry, Result};

/// Shown as the provider of errors and instances.
pub const SCHEME: &str = "remote";

/// Connects to a Nubes server at `url` (`https://nubes.example.com`) with `token` (an access
/// token or an API token).
pub fn connect_with_token(url: &str, token: &str) -> Result<Cloud> {
    let client = Client::new(url, token)?;
    Ok(Cloud::new(SCHEME).with_compute(Arc::new(RemoteCompute::new(client))))
}

/// Registers `http://` and `https://`, taking the token from `NUBES_TOKEN`.
pub fn register(registry: &mut Registry) {
    for scheme in ["http", "https"] {
        registry.register(scheme, |uri: String| async move {
            let token = std::env::var("NUBES_TOKEN").unwrap_or_default();
            connect_with_token(&uri, &token)
        });
    }
}
