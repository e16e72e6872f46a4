#![doc = include_str!("../README.md")]

#[cfg(feature = "ec2")]
mod cloudwatch;
pub mod config;
#[cfg(feature = "ec2")]
mod ebs;
#[cfg(feature = "ec2")]
mod ec2;
mod error;
#[cfg(feature = "lambda")]
mod lambda;
#[cfg(feature = "s3")]
mod s3;
#[cfg(feature = "ec2")]
mod ssm;

use nubes_core::{Cloud, Registry, Result};

pub use config::AwsConfig;
#[cfg(feature = "ec2")]
pub use ebs::EbsDisk;
#[cfg(feature = "ec2")]
pub use ec2::{instance_type_for, Ec2Compute, INSTANCE_TYPES};
pub use error::kind as error_kind;
#[cfg(feature = "lambda")]
pub use lambda::{zip_dir, LambdaFunction, CODE_MAX};
#[cfg(feature = "s3")]
pub use s3::{S3Storage, PART};

/// `aws://REGION?endpoint=URL&profile=NAME&path_style=true`.
pub const SCHEME: &str = "aws";

/// The tag every instance and volume Nubes makes carries; what lacks it is never seen.
pub const OWNER_TAG: &str = "nubes-managed";

/// Connects to the services this build has, in the region the URI names.
#[cfg_attr(
    not(any(feature = "s3", feature = "ec2", feature = "lambda")),
    allow(unused_variables)
)]
pub async fn connect(uri: &str) -> Result<Cloud> {
    let config = AwsConfig::parse(uri)?;
    let sdk = config.load().await;
    #[allow(unused_mut)]
    let mut cloud = Cloud::new(SCHEME);
    #[cfg(feature = "s3")]
    {
        let s3 = aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(config.path_style)
            .build();
        let client = aws_sdk_s3::Client::from_conf(s3);
        cloud = cloud.with_storage(std::sync::Arc::new(S3Storage::new(
            client,
            config.region.clone(),
        )));
    }
    #[cfg(feature = "ec2")]
    {
        let client = aws_sdk_ec2::Client::new(&sdk);
        cloud = cloud
            .with_compute(std::sync::Arc::new(Ec2Compute::new(
                client.clone(),
                aws_sdk_cloudwatch::Client::new(&sdk),
                aws_sdk_ssm::Client::new(&sdk),
                &config,
            )))
            .with_disk(std::sync::Arc::new(EbsDisk::new(
                client,
                config.zone.clone(),
            )));
    }
    #[cfg(feature = "lambda")]
    {
        let client = aws_sdk_lambda::Client::new(&sdk);
        cloud = cloud.with_function(std::sync::Arc::new(LambdaFunction::new(
            client,
            config.role.clone(),
        )));
    }
    Ok(cloud)
}

pub fn register(registry: &mut Registry) {
    registry.register(SCHEME, |uri: String| async move { connect(&uri).await });
}
