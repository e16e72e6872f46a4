//! Buckets and their objects for tenants: rows record who owns which bucket, the storage provider
//! behind the server holds the bytes. Object keys are the tenant's own; bucket names are mapped.

use std::sync::Arc;

use nubes::{
    ByteStream, Error, ErrorKind, GetOptions, GetResult, ListObjectsOptions, ObjectMeta,
    ObjectPage, PresignMethod, PresignedRequest, Result, Storage,
};
use nubes_auth::{token, Action};

use crate::accounts::now;
use crate::bounds::Bounds;
use crate::db::{Db, Kind, ResourceRow};
use crate::tenancy::Principal;
use crate::tenancy::{self, Ref};
pub use nubes_api::buckets::{CreateBucket, PresignObject, TenantBucket};

impl From<ResourceRow> for TenantBucket {
    fn from(r: ResourceRow) -> Self {
        Self {
            id: r.id,
            name: r.name,
            org_id: r.org_id,
            owner_id: r.owner_id,
            created_at: r.created_at,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Buckets {
    db: Db,
    storage: Option<Arc<dyn Storage>>,
    bounds: Bounds,
}

impl Buckets {
    pub fn new(db: Db, storage: Option<Arc<dyn Storage>>, bounds: Bounds) -> Self {
        Self {
            db,
            storage,
            bounds,
        }
    }

    fn storage(&self) -> Result<&Arc<dyn Storage>> {
        self.storage
            .as_ref()
            .ok_or_else(|| Error::unsupported("this server has no storage provider configured"))
    }

    /// What the provider behind this server can do, as far as the API carries it: presigned
    /// URLs are not part of the API yet.
    pub fn capability(&self) -> Option<nubes::StorageCapability> {
        let mut cap = self.storage.as_ref()?.capability();
        // Read URLs, yes; neither of these goes through this API: a presigned PUT would skip
        // the per-object bound, and multipart parts would need one of their own.
        cap.presign_put = false;
        cap.multipart = false;
        Some(cap)
    }

    async fn authorized(&self, p: &Principal, r: Ref<'_>, action: Action) -> Result<ResourceRow> {
        self.storage()?;
        tenancy::resource(&self.db, p, Kind::Bucket, r, action).await
    }

    pub async fn create(&self, p: &Principal, req: CreateBucket) -> Result<TenantBucket> {
        let storage = self.storage()?;
        nubes::validate::bucket(&req.name)?;
        let org_id = tenancy::creating_in(&self.db, p, req.org_id).await?;
        let id = token::random_id();
        let row = ResourceRow {
            backend_id: tenancy::backend_name(&id),
            id,
            kind: Kind::Bucket,
            org_id,
            owner_id: p.user_id.clone(),
            name: req.name,
            created_at: now(),
        };
        self.db
            .insert_resource_within(&row, self.bounds.per_org(row.kind))
            .await?;
        if let Err(e) = storage.create_bucket(&row.backend_id).await {
            self.db.delete_resource(&row.id).await?;
            return Err(e);
        }
        Ok(row.into())
    }

    /// Every bucket of the organizations the caller belongs to.
    pub async fn list(&self, p: &Principal) -> Result<Vec<TenantBucket>> {
        self.storage()?;
        let rows = self
            .db
            .resources_visible_to(Kind::Bucket, &p.user_id)
            .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    pub async fn get(&self, p: &Principal, r: Ref<'_>) -> Result<TenantBucket> {
        Ok(self.authorized(p, r, Action::Read).await?.into())
    }

    /// Deletes an empty bucket; one with objects is a `Conflict`.
    pub async fn delete(&self, p: &Principal, r: Ref<'_>) -> Result<()> {
        let row = self.authorized(p, r, Action::Delete).await?;
        match self.storage()?.delete_bucket(&row.backend_id).await {
            Ok(()) => {}
            // Already gone from the backend: the row is all that is left.
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(row.explain(e)),
        }
        self.db.delete_resource(&row.id).await
    }

    /// Writes an object from `body`; `declared` is its length, when the client said.
    pub async fn put(
        &self,
        p: &Principal,
        r: Ref<'_>,
        key: &str,
        declared: Option<u64>,
        body: ByteStream,
    ) -> Result<ObjectMeta> {
        nubes::validate::object_key(key)?;
        let row = self.authorized(p, r, Action::Operate).await?;
        let body = self.bounds.object(declared, body)?;
        let storage = self.storage()?;
        storage
            .put(&row.backend_id, key, body)
            .await
            .map_err(|e| row.explain(e))
    }

    pub async fn get_object(
        &self,
        p: &Principal,
        r: Ref<'_>,
        key: &str,
        options: GetOptions,
    ) -> Result<GetResult> {
        let row = self.authorized(p, r, Action::Read).await?;
        self.storage()?
            .get(&row.backend_id, key, options)
            .await
            .map_err(|e| row.explain(e))
    }

    /// A URL to read one object that anyone holding it may use until it expires: who may read
    /// the bucket may share it. Only for objects that exist, and never to write with.
    pub async fn presign(
        &self,
        p: &Principal,
        r: Ref<'_>,
        req: PresignObject,
    ) -> Result<PresignedRequest> {
        let expires_in = std::time::Duration::from_secs(req.expires_secs);
        nubes::storage::check_presign_expiry(expires_in)?;
        if req.method != PresignMethod::Get {
            return Err(Error::unsupported(
                "this server makes presigned URLs to read with only: a URL to write would skip \
                 its bound on an object's size",
            ));
        }
        let row = self.authorized(p, r, Action::Read).await?;
        let storage = self.storage()?;
        storage
            .head(&row.backend_id, &req.key)
            .await
            .map_err(|e| row.explain(e))?;
        storage
            .presign(&row.backend_id, &req.key, req.method, expires_in)
            .await
            .map_err(|e| row.explain(e))
    }

    pub async fn head(&self, p: &Principal, r: Ref<'_>, key: &str) -> Result<ObjectMeta> {
        let row = self.authorized(p, r, Action::Read).await?;
        self.storage()?
            .head(&row.backend_id, key)
            .await
            .map_err(|e| row.explain(e))
    }

    pub async fn list_objects(
        &self,
        p: &Principal,
        r: Ref<'_>,
        mut options: ListObjectsOptions,
    ) -> Result<ObjectPage> {
        options.limit = self.bounds.page(options.limit)?;
        let row = self.authorized(p, r, Action::Read).await?;
        self.storage()?
            .list(&row.backend_id, options)
            .await
            .map_err(|e| row.explain(e))
    }

    pub async fn delete_object(&self, p: &Principal, r: Ref<'_>, key: &str) -> Result<()> {
        let row = self.authorized(p, r, Action::Operate).await?;
        self.storage()?
            .delete(&row.backend_id, key)
            .await
            .map_err(|e| row.explain(e))
    }
}
