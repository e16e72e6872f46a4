//! What one request or one organization may take of what plans do not price: an object's size,
//! a page of a listing, a disk image's size, and how many buckets, disks and functions an
//! organization holds. Each is a setting (`Config::bounds`) with a clear 4xx past it.

use futures::StreamExt;
use nubes::{ByteStream, Error, ErrorKind, Result};

use crate::db::Kind;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Bytes in one object.
    pub object_bytes: u64,
    /// Entries in one page of a listing.
    pub page: usize,
    /// Virtual bytes of one disk image.
    pub disk_bytes: u64,
    pub buckets_per_org: u64,
    pub disks_per_org: u64,
    pub functions_per_org: u64,
    /// Connections one client address may hold open at once (lessor agents behind one NAT
    /// count together; a trusted proxy's are not counted).
    pub connections_per_address: usize,
}

impl Default for Bounds {
    fn default() -> Self {
        Self {
            object_bytes: 5 << 30,
            page: 1000,
            disk_bytes: 1 << 40,
            buckets_per_org: 100,
            disks_per_org: 100,
            functions_per_org: 100,
            connections_per_address: crate::listen::CONNECTIONS_PER_ADDRESS,
        }
    }
}

impl Bounds {
    /// How many resources of `kind` one organization may hold.
    pub fn per_org(&self, kind: Kind) -> u64 {
        match kind {
            Kind::Bucket => self.buckets_per_org,
            Kind::Disk => self.disks_per_org,
            Kind::Function => self.functions_per_org,
        }
    }

    /// A page size as asked (the backend's default when unset), within the bound.
    pub fn page(&self, asked: Option<usize>) -> Result<Option<usize>> {
        match asked {
            Some(n) if n == 0 || n > self.page => Err(Error::invalid_input(format!(
                "limit must be 1 to {}",
                self.page
            ))),
            other => Ok(other),
        }
    }

    /// A disk image's size, within the bound.
    pub fn disk(&self, bytes: u64) -> Result<()> {
        if bytes > self.disk_bytes {
            return Err(Error::invalid_input(format!(
                "a disk is at most {} bytes",
                self.disk_bytes
            )));
        }
        Ok(())
    }

    /// An upload, refused at once when it declares more than an object may hold, and cut off
    /// with an error (so the backend keeps nothing) as soon as it sends more.
    pub fn object(&self, declared: Option<u64>, body: ByteStream) -> Result<ByteStream> {
        let max = self.object_bytes;
        let too_large = move || Error::invalid_input(format!("an object is at most {max} bytes"));
        if declared.is_some_and(|n| n > max) {
            return Err(too_large());
        }
        let mut seen = 0u64;
        Ok(Box::pin(body.map(move |chunk| {
            let chunk = chunk?;
            seen = seen.saturating_add(chunk.len() as u64);
            if seen > max {
                return Err(too_large());
            }
            Ok(chunk)
        })))
    }
}

/// An organization already holds as many of `kind` as it may.
pub fn full(kind: Kind, max: u64) -> Error {
    Error::new(
        ErrorKind::QuotaExceeded,
        format!(
            "an organization holds at most {max} {}s: delete one first",
            kind.as_str()
        ),
    )
}
