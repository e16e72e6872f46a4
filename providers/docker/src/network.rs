//! A network of its own for each instance, so instances never share a bridge: what one serves
//! cannot be reached from another, whoever owns them. In `isolated` mode (the default) the
//! network is internal and the host side of its bridge has no address, so an instance reaches
//! neither the host's services nor anything outside; an instance that publishes ports gets a
//! `private` network instead (its own bridge with outbound NAT: other instances stay out of
//! reach, the host's services do not). `bridge` is Docker's shared default bridge, by choice.

use std::collections::HashMap;

use bollard::models::{Ipam, IpamConfig, NetworkCreateRequest};
use bollard::query_parameters::ListNetworksOptions;
use nubes_core::{Error, Result};

use crate::client::Engine;
use crate::{error, labels};

/// How instances are networked (`docker://?network=isolated|private|bridge`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NetworkMode {
    /// A network per instance reaching nothing but itself (published ports need `private`,
    /// which an instance that publishes any gets).
    #[default]
    Isolated,
    /// A network per instance with outbound access.
    Private,
    /// Docker's default bridge, shared by every container on the engine.
    Bridge,
}

impl std::str::FromStr for NetworkMode {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "isolated" => Ok(NetworkMode::Isolated),
            "private" => Ok(NetworkMode::Private),
            "bridge" => Ok(NetworkMode::Bridge),
            other => Err(Error::invalid_input(format!(
                "unknown Docker network mode `{other}`: expected isolated, private or bridge"
            ))),
        }
    }
}

/// Where per-instance networks take their subnets from: an IPv4 range split into /28s (one
/// instance needs one address; Docker's own pools would run out after about thirty networks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subnets {
    base: u32,
    /// How many /28 blocks the range holds.
    blocks: u32,
}

impl Default for Subnets {
    fn default() -> Self {
        "10.213.0.0/16".parse().expect("the default range parses")
    }
}

impl std::str::FromStr for Subnets {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            Error::invalid_input(format!(
                "`{s}` is not an IPv4 range for instance networks (like 10.213.0.0/16, /12 to /24)"
            ))
        };
        let (addr, len) = s.split_once('/').ok_or_else(bad)?;
        let addr: std::net::Ipv4Addr = addr.parse().map_err(|_| bad())?;
        let len: u32 = len.parse().map_err(|_| bad())?;
        if !(12..=24).contains(&len) {
            return Err(bad());
        }
        let mask = u32::MAX << (32 - len);
        Ok(Subnets {
            base: u32::from(addr) & mask,
            blocks: 1 << (28 - len),
        })
    }
}

impl Subnets {
    /// The `i`th /28 of the range.
    fn block(&self, i: u32) -> String {
        let net = std::net::Ipv4Addr::from(self.base + (i % self.blocks) * 16);
        format!("{net}/28")
    }
}

/// The network of the instance named `instance`.
pub fn name_for(instance: &str) -> String {
    format!("nubes-{instance}")
}

/// The request that makes an instance's network (pure, for tests).
pub fn body(instance: &str, mode: NetworkMode, subnet: &str) -> NetworkCreateRequest {
    let mut options = HashMap::from([(
        "com.docker.network.bridge.enable_icc".to_string(),
        "false".to_string(),
    )]);
    if mode == NetworkMode::Isolated {
        // No address on the host side: the bridge is no way into the host.
        options.insert(
            "com.docker.network.bridge.inhibit_ipv4".to_string(),
            "true".to_string(),
        );
    }
    NetworkCreateRequest {
        name: name_for(instance),
        driver: Some("bridge".into()),
        internal: Some(mode == NetworkMode::Isolated),
        options: Some(options),
        labels: Some(HashMap::from([
            (labels::MANAGED.to_string(), "true".to_string()),
            (labels::KIND.to_string(), labels::KIND_NETWORK.to_string()),
        ])),
        ipam: Some(Ipam {
            config: Some(vec![IpamConfig {
                subnet: Some(subnet.to_string()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

impl Engine {
    /// Makes the network an instance will join; `None` where it joins Docker's bridge.
    pub(crate) async fn make_network(
        &self,
        instance: &str,
        publishes: bool,
    ) -> Result<Option<String>> {
        let mode = match (self.network, publishes) {
            (NetworkMode::Bridge, _) => return Ok(None),
            (NetworkMode::Isolated, true) => NetworkMode::Private,
            (mode, _) => mode,
        };
        // A network left by an instance whose delete was cut short would shadow the new one.
        self.remove_network(instance).await;
        let taken = self.subnets_in_use().await?;
        let start = fastrand::u32(..self.subnets.blocks);
        let mut tries = 0;
        for i in 0..self.subnets.blocks {
            let subnet = self.subnets.block(start.wrapping_add(i));
            if taken.contains(&subnet) {
                continue;
            }
            match self
                .docker
                .create_network(body(instance, mode, &subnet))
                .await
            {
                Ok(_) => return Ok(Some(name_for(instance))),
                // Taken meanwhile by a create racing this one: try the next block.
                Err(e) if tries < 16 && e.to_string().contains("overlap") => tries += 1,
                Err(e) => return Err(error::map(e)),
            }
        }
        Err(Error::new(
            nubes_core::ErrorKind::QuotaExceeded,
            "no subnet is left for another instance network: widen ?subnets=",
        ))
    }

    async fn subnets_in_use(&self) -> Result<Vec<String>> {
        let query = ListNetworksOptions {
            filters: Some(HashMap::from([(
                "label".to_string(),
                vec![format!("{}={}", labels::KIND, labels::KIND_NETWORK)],
            )])),
        };
        let networks = self
            .docker
            .list_networks(Some(query))
            .await
            .map_err(error::map)?;
        Ok(networks
            .into_iter()
            .flat_map(|n| n.ipam.and_then(|i| i.config).unwrap_or_default())
            .filter_map(|c| c.subnet)
            .collect())
    }

    /// Removes an instance's network, if it has one.
    pub(crate) async fn remove_network(&self, instance: &str) {
        match self.docker.remove_network(&name_for(instance)).await {
            Ok(()) => {}
            Err(e) if error::status(&e) == Some(404) => {}
            Err(e) => {
                tracing::warn!(%instance, error = %e, "could not remove an instance's network")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isolated_networks_are_internal_and_give_the_host_no_address() {
        let b = body("nb-1", NetworkMode::Isolated, "10.213.0.16/28");
        assert_eq!(b.name, "nubes-nb-1");
        assert_eq!(b.internal, Some(true));
        let o = b.options.unwrap();
        assert_eq!(o["com.docker.network.bridge.inhibit_ipv4"], "true");
        assert_eq!(o["com.docker.network.bridge.enable_icc"], "false");
        let p = body("nb-1", NetworkMode::Private, "10.213.0.16/28");
        assert_eq!(p.internal, Some(false));
        assert!(!p
            .options
            .unwrap()
            .contains_key("com.docker.network.bridge.inhibit_ipv4"));
    }

    #[test]
    fn ranges_split_into_28s() {
        let s: Subnets = "10.213.7.9/16".parse().unwrap();
        assert_eq!(s.block(0), "10.213.0.0/28");
        assert_eq!(s.block(1), "10.213.0.16/28");
        assert_eq!(s.block(4096), "10.213.0.0/28", "wraps within the range");
        assert!("10.0.0.0/8".parse::<Subnets>().is_err());
        assert!("nonsense".parse::<Subnets>().is_err());
        assert_eq!(
            "isolated".parse::<NetworkMode>().unwrap(),
            NetworkMode::Isolated
        );
        assert!("host".parse::<NetworkMode>().is_err());
    }
}
