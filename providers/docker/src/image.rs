//! Images: pull from a registry (where one is reachable), import a root filesystem tarball (how
//! machines without a registry get images), list.

use bollard::query_parameters::{CreateImageOptions, ListImagesOptions};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use nubes_core::{Error, ErrorKind, Result};
use serde::Serialize;

use crate::client::Engine;
use crate::{error, SCHEME};

/// An image on the engine.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageInfo {
    pub id: String,
    pub tags: Vec<String>,
    pub size: u64,
    pub created_at: Option<DateTime<Utc>>,
}

/// Progress of a pull: a layer's status and, while downloading, bytes done of total.
#[derive(Debug, Clone, PartialEq)]
pub struct PullProgress {
    pub layer: Option<String>,
    pub status: String,
    pub current: Option<u64>,
    pub total: Option<u64>,
}

fn split_reference(reference: &str) -> (String, String) {
    // The tag is after the last ':' unless that ':' belongs to a registry port (a '/' follows).
    match reference.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo.to_string(), tag.to_string()),
        _ => (reference.to_string(), "latest".to_string()),
    }
}

/// Why a pull failed, by what the engine said: the registry is unreachable, or has no such image.
fn pull_error(reference: &str, said: &str) -> Error {
    let lower = said.to_ascii_lowercase();
    let unreachable = [
        "dial tcp",
        "no such host",
        "connection refused",
        "i/o timeout",
        "tls handshake",
        "network is unreachable",
    ];
    let missing = [
        "not found",
        "manifest unknown",
        "pull access denied",
        "repository does not exist",
    ];
    let err = if unreachable.iter().any(|s| lower.contains(s)) {
        Error::new(
            ErrorKind::Unavailable,
            format!("cannot reach the registry for {reference}: {said}"),
        )
        .set_temporary()
    } else if missing.iter().any(|s| lower.contains(s)) {
        Error::not_found(format!("the registry has no image {reference}: {said}"))
    } else {
        Error::unexpected(format!("pulling {reference} failed: {said}"))
    };
    err.with_provider(SCHEME)
}

impl Engine {
    /// Pulls `reference`, reporting progress as the engine sends it.
    pub async fn pull_image(
        &self,
        reference: &str,
        mut progress: impl FnMut(PullProgress),
    ) -> Result<()> {
        let (repo, tag) = split_reference(reference);
        let options = CreateImageOptions {
            from_image: Some(repo),
            tag: Some(tag),
            ..Default::default()
        };
        let mut stream = self.docker.create_image(Some(options), None, None);
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| pull_error(reference, &error::said(&e)))?;
            if let Some(detail) = info.error_detail {
                return Err(pull_error(reference, &detail.message.unwrap_or_default()));
            }
            let detail = info.progress_detail.unwrap_or_default();
            progress(PullProgress {
                layer: info.id,
                status: info.status.unwrap_or_default(),
                current: detail.current.map(|c| c.max(0) as u64),
                total: detail.total.map(|t| t.max(0) as u64),
            });
        }
        Ok(())
    }

    /// Creates image `reference` from a tarball of a root filesystem (what `docker import` does).
    /// `changes` are Dockerfile instructions applied on top, like `CMD ["/bin/sh"]`.
    pub async fn import_image<S>(
        &self,
        reference: &str,
        rootfs: S,
        changes: Vec<String>,
    ) -> Result<ImageInfo>
    where
        S: Stream<Item = std::io::Result<Bytes>> + Send + 'static,
    {
        let (repo, tag) = split_reference(reference);
        let options = CreateImageOptions {
            from_src: Some("-".into()),
            repo: Some(repo),
            tag: Some(tag),
            changes,
            ..Default::default()
        };
        let body = bollard::body_try_stream(rootfs);
        let mut stream = self.docker.create_image(Some(options), Some(body), None);
        while let Some(item) = stream.next().await {
            // The engine answers 500 when it cannot read the tarball: that is bad input.
            let info = item.map_err(|e| match error::status(&e) {
                Some(500) => Error::invalid_input(format!(
                    "the engine could not import the tarball: {}",
                    error::said(&e)
                ))
                .with_provider(SCHEME),
                _ => error::map(e),
            })?;
            if let Some(detail) = info.error_detail {
                return Err(Error::invalid_input(format!(
                    "the engine could not import the tarball: {}",
                    detail.message.unwrap_or_default()
                ))
                .with_provider(SCHEME));
            }
        }
        self.image(reference).await
    }

    /// One image by reference or id.
    pub async fn image(&self, reference: &str) -> Result<ImageInfo> {
        match self.docker.inspect_image(reference).await {
            Ok(i) => Ok(ImageInfo {
                id: i.id.unwrap_or_default(),
                tags: i.repo_tags.unwrap_or_default(),
                size: i.size.unwrap_or(0).max(0) as u64,
                created_at: i.created,
            }),
            Err(e) if error::status(&e) == Some(404) => {
                Err(Error::not_found(format!("image {reference} not found")).with_provider(SCHEME))
            }
            Err(e) => Err(error::map(e)),
        }
    }

    /// Deletes an image; one that containers still use is a `Conflict`.
    pub async fn delete_image(&self, reference: &str) -> Result<()> {
        match self
            .docker
            .remove_image(
                reference,
                None::<bollard::query_parameters::RemoveImageOptions>,
                None,
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => Err(match error::status(&e) {
                Some(404) => Error::not_found(format!("image {reference} not found")),
                Some(409) => {
                    Error::conflict(format!("image {reference} is in use: {}", error::said(&e)))
                }
                _ => return Err(error::map(e)),
            }
            .with_provider(SCHEME)),
        }
    }

    pub async fn list_images(&self) -> Result<Vec<ImageInfo>> {
        let images = self
            .docker
            .list_images(Some(ListImagesOptions::default()))
            .await
            .map_err(error::map)?;
        Ok(images
            .into_iter()
            .map(|i| ImageInfo {
                id: i.id,
                tags: i.repo_tags,
                size: i.size.max(0) as u64,
                created_at: DateTime::from_timestamp(i.created, 0),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use nubes_core::ErrorKind;

    use super::{pull_error, split_reference};

    #[test]
    fn pull_failures_have_kinds() {
        let offline = pull_error(
            "busybox",
            r#"Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: no such host"#,
        );
        assert_eq!(offline.kind(), ErrorKind::Unavailable);
        assert!(offline.is_temporary());
        let missing = pull_error(
            "nope/nope",
            "pull access denied for nope/nope, repository does not exist",
        );
        assert_eq!(missing.kind(), ErrorKind::NotFound);
    }

    #[test]
    fn references_split_at_the_tag() {
        assert_eq!(
            split_reference("busybox"),
            ("busybox".into(), "latest".into())
        );
        assert_eq!(
            split_reference("nubes-test/busybox:1.36"),
            ("nubes-test/busybox".into(), "1.36".into())
        );
        assert_eq!(
            split_reference("localhost:5000/app"),
            ("localhost:5000/app".into(), "latest".into())
        );
        assert_eq!(
            split_reference("localhost:5000/app:v2"),
            ("localhost:5000/app".into(), "v2".into())
        );
    }
}
