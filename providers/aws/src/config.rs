//! `aws://REGION?endpoint=URL&profile=NAME&path_style=true`: which account and region, and
//! where. Credentials come from the standard chain (environment, profile, web identity, instance
//! metadata) and never from the URI, so a URI can be logged and echoed.

use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use nubes_core::uri::ProviderUri;
use nubes_core::{Error, Result};

use crate::SCHEME;

/// Where a connection goes. Holds no secret: it is safe to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsConfig {
    pub region: String,
    /// Another endpoint than AWS's (moto, LocalStack, MinIO, any S3-compatible store).
    pub endpoint: Option<String>,
    /// A named profile of the shared config and credentials files.
    pub profile: Option<String>,
    /// Path-style S3 addressing (`endpoint/bucket/key`); implied by an endpoint override.
    pub path_style: bool,
    /// The availability zone volumes are made in (`REGIONa` unless said).
    pub zone: String,
    /// The EC2 instance type every instance gets, instead of the smallest that fits.
    pub instance_type: Option<String>,
    /// The IAM role (an ARN) Lambda functions run as.
    pub role: Option<String>,
    /// The security group instances are launched in (the VPC default's otherwise, whose members
    /// reach each other: a server with tenants names one that lets no member in).
    pub security_group: Option<String>,
    /// The subnet instances are launched in (the default VPC's otherwise).
    pub subnet: Option<String>,
    /// Whose AMIs may be launched (`amazon`, `self`, account ids); any the account can see
    /// otherwise.
    pub image_owners: Vec<String>,
    /// Exec on instances through SSM RunCommand (`exec=ssm`): their SSM agent must be
    /// registered, through an instance profile that allows it.
    pub exec_ssm: bool,
}

impl AwsConfig {
    pub fn parse(uri: &str) -> Result<Self> {
        let u = ProviderUri::parse(
            uri,
            "AWS",
            &[
                "endpoint",
                "profile",
                "path_style",
                "zone",
                "instance_type",
                "role",
                "security_group",
                "subnet",
                "image_owners",
                "exec",
            ],
        )?;
        if u.target.is_empty() || u.target.contains('/') {
            return Err(Error::invalid_input(format!(
                "an AWS URI names its region: {SCHEME}://us-east-1, not `{uri}`"
            )));
        }
        let endpoint = u.option("endpoint").map(str::to_string);
        if let Some(e) = &endpoint {
            if !(e.starts_with("http://") || e.starts_with("https://")) {
                return Err(Error::invalid_input(format!(
                    "endpoint `{e}` is not an http:// or https:// URL"
                )));
            }
        }
        let path_style = match u.option("path_style") {
            None => endpoint.is_some(),
            Some("true") => true,
            Some("false") => false,
            Some(v) => {
                return Err(Error::invalid_input(format!(
                    "path_style is true or false, not `{v}`"
                )))
            }
        };
        Ok(Self {
            zone: u
                .option("zone")
                .map_or_else(|| format!("{}a", u.target), str::to_string),
            profile: u.option("profile").map(str::to_string),
            instance_type: u.option("instance_type").map(str::to_string),
            role: u.option("role").map(str::to_string),
            security_group: u.option("security_group").map(str::to_string),
            subnet: u.option("subnet").map(str::to_string),
            exec_ssm: match u.option("exec") {
                None => false,
                Some("ssm") => true,
                Some(v) => {
                    return Err(Error::invalid_input(format!(
                        "exec is `ssm` (SSM RunCommand) or left out, not `{v}`"
                    )))
                }
            },
            image_owners: u
                .option("image_owners")
                .map(|o| o.split(',').map(str::to_string).collect())
                .unwrap_or_default(),
            region: u.target,
            endpoint,
            path_style,
        })
    }

    /// The SDK's configuration: this region and endpoint, credentials from the standard chain,
    /// HTTPS through rustls.
    pub async fn load(&self) -> SdkConfig {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http)
            .region(aws_config::Region::new(self.region.clone()));
        if let Some(e) = &self.endpoint {
            loader = loader.endpoint_url(e);
        }
        if let Some(p) = &self.profile {
            loader = loader.profile_name(p);
        }
        loader.load().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nubes_core::ErrorKind;

    #[test]
    fn uris_name_a_region_and_options() {
        let c = AwsConfig::parse("aws://us-east-1").unwrap();
        assert_eq!((c.region.as_str(), c.path_style), ("us-east-1", false));
        assert_eq!(c.zone, "us-east-1a");
        let c = AwsConfig::parse("aws://eu-west-1?endpoint=http://127.0.0.1:5000").unwrap();
        assert_eq!(c.endpoint.as_deref(), Some("http://127.0.0.1:5000"));
        assert!(c.path_style, "an endpoint override implies path style");
        let c = AwsConfig::parse("aws://eu-west-1?endpoint=https://s3.x&path_style=false").unwrap();
        assert!(!c.path_style);
        for bad in [
            "aws://",
            "aws://us-east-1/x",
            "aws://us-east-1?endpoint=ftp://x",
            "aws://us-east-1?secret=x",
            "aws://us-east-1?path_style=maybe",
            "aws://us-east-1?exec=ssh",
        ] {
            assert_eq!(
                AwsConfig::parse(bad).unwrap_err().kind(),
                ErrorKind::InvalidInput,
                "{bad}"
            );
        }
    }
}
