//! Buckets (their objects travel as bytes, with metadata in headers).

use nubes_core::{Bucket, ListObjectsOptions};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateBucket {
    /// Defaults to the caller's personal organization.
    pub org_id: Option<String>,
    pub name: String,
}

/// What to presign: one object, to read (`get`; the only method a server offers), for how long.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PresignObject {
    pub key: String,
    #[serde(default = "get")]
    pub method: nubes_core::PresignMethod,
    /// 1 second to 7 days.
    pub expires_secs: u64,
}

fn get() -> nubes_core::PresignMethod {
    nubes_core::PresignMethod::Get
}

/// A bucket as its tenant sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TenantBucket {
    pub id: String,
    pub name: String,
    pub org_id: String,
    pub owner_id: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub org_id: Option<String>,
    pub prefix: Option<String>,
    pub limit: Option<usize>,
    pub continuation: Option<String>,
}

/// An object's size, on the answers to GET and HEAD of an object (its bytes are the body).
pub const OBJECT_SIZE_HEADER: &str = "x-nubes-object-size";

impl TenantBucket {
    pub fn into_bucket(self) -> Bucket {
        let mut b = Bucket::new(self.name);
        b.created_at = chrono::DateTime::from_timestamp(self.created_at, 0);
        b
    }
}

impl ListQuery {
    pub fn of(options: &ListObjectsOptions, org_id: Option<String>) -> Self {
        Self {
            org_id,
            prefix: options.prefix.clone(),
            limit: options.limit,
            continuation: options.continuation.clone(),
        }
    }
}
