//! What the backends behind a server can do.

use nubes_core::{ComputeCapability, DiskCapability, FunctionCapability, StorageCapability};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Capabilities {
    pub compute: Option<ComputeCapability>,
    pub storage: Option<StorageCapability>,
    pub disk: Option<DiskCapability>,
    pub function: Option<FunctionCapability>,
}
