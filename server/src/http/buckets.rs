//! `/v1/buckets/...`: buckets, and their objects as raw bytes (streamed both ways, with ranges).

use axum::body::Body as HttpBody;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::TryStreamExt;
use nubes::{ByteRange, Error, GetOptions, ListObjectsOptions, ObjectMeta, ObjectPage};

use super::audit::{created, Created};
use super::error::{ApiError, ApiResult};
use super::extract::{Body, Named, OrgQuery, Params};
use super::AppState;
use crate::buckets::{CreateBucket, PresignObject, TenantBucket};
use crate::tenancy::Principal;
use axum::routing::get;
pub use nubes_api::buckets::ListQuery;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    // Object keys hold '/', so their route is axum's catch-all; the document names it {key}
    // (see `super::openapi`).
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get_one, delete))
        .routes(routes!(list_objects))
        .routes(routes!(presign))
        .route(
            "/v1/buckets/{bucket}/objects/{*key}",
            get(get_object)
                .head(head_object)
                .put(put_object)
                .delete(delete_object),
        )
}

#[utoipa::path(
    post,
    path = "/v1/buckets",
    operation_id = "buckets_create",
    tag = "buckets",
    summary = "Create a bucket",
    request_body = CreateBucket,
    responses((status = 201, body = TenantBucket), super::error::Errors)
)]
async fn create(
    State(s): State<AppState>,
    p: Principal,
    Body(b): Body<CreateBucket>,
) -> ApiResult<Created<TenantBucket>> {
    let bucket = s.buckets.create(&p, b).await?;
    Ok(created(bucket.org_id.clone(), bucket))
}

#[utoipa::path(
    get,
    path = "/v1/buckets",
    operation_id = "buckets_list",
    tag = "buckets",
    summary = "The buckets of the caller's organizations",
    responses((status = 200, body = Vec<TenantBucket>), super::error::Errors)
)]
async fn list(State(s): State<AppState>, p: Principal) -> ApiResult<Json<Vec<TenantBucket>>> {
    Ok(Json(s.buckets.list(&p).await?))
}

#[utoipa::path(
    get,
    path = "/v1/buckets/{bucket}",
    operation_id = "buckets_get_one",
    tag = "buckets",
    summary = "One bucket",
    params(("bucket" = String, Path, description = "The bucket's id or name"), OrgQuery),
    responses((status = 200, body = TenantBucket), super::error::Errors)
)]
async fn get_one(
    State(s): State<AppState>,
    p: Principal,
    Path(bucket): Path<String>,
    Params(q): Params<OrgQuery>,
) -> ApiResult<Json<TenantBucket>> {
    Ok(Json(s.buckets.get(&p, q.named(&bucket)).await?))
}

#[utoipa::path(
    delete,
    path = "/v1/buckets/{bucket}",
    operation_id = "buckets_delete",
    tag = "buckets",
    summary = "Delete an empty bucket",
    params(("bucket" = String, Path, description = "The bucket's id or name"), OrgQuery),
    responses((status = 204), super::error::Errors)
)]
async fn delete(
    State(s): State<AppState>,
    p: Principal,
    Path(bucket): Path<String>,
    Params(q): Params<OrgQuery>,
) -> ApiResult<StatusCode> {
    s.buckets.delete(&p, q.named(&bucket)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/v1/buckets/{bucket}/objects",
    operation_id = "buckets_list_objects",
    tag = "buckets",
    summary = "One page of objects, in key order",
    params(("bucket" = String, Path, description = "The bucket's id or name"), ListQuery),
    responses((status = 200, body = nubes::ObjectPage), super::error::Errors)
)]
async fn list_objects(
    State(s): State<AppState>,
    p: Principal,
    Path(bucket): Path<String>,
    Params(q): Params<ListQuery>,
) -> ApiResult<Json<ObjectPage>> {
    let mut options = ListObjectsOptions::default();
    options.prefix = q.prefix;
    options.limit = q.limit;
    options.continuation = q.continuation;
    let r = crate::tenancy::Ref {
        id_or_name: &bucket,
        org_id: q.org_id.as_deref(),
    };
    Ok(Json(s.buckets.list_objects(&p, r, options).await?))
}

#[utoipa::path(
    post,
    path = "/v1/buckets/{bucket}/presign",
    operation_id = "buckets_presign",
    tag = "buckets",
    summary = "A URL to read one object that anyone holding it may use until it expires",
    description = "Whoever may read the bucket may share an object this way. Only `get`: a URL \
        to write with would skip this server's bound on an object's size. 404 for an object \
        that does not exist; 400 for an expiry outside 1 second to 7 days.",
    params(("bucket" = String, Path, description = "The bucket's id or name"), OrgQuery),
    request_body = PresignObject,
    responses((status = 200, body = nubes::PresignedRequest), super::error::Errors)
)]
async fn presign(
    State(s): State<AppState>,
    p: Principal,
    Path(bucket): Path<String>,
    Params(q): Params<OrgQuery>,
    Body(b): Body<PresignObject>,
) -> ApiResult<Json<nubes::PresignedRequest>> {
    Ok(Json(s.buckets.presign(&p, q.named(&bucket), b).await?))
}

/// Streams the request body into the object; nothing is buffered whole.
#[utoipa::path(
    put,
    path = "/v1/buckets/{bucket}/objects/{key}",
    operation_id = "buckets_put_object",
    tag = "buckets",
    summary = "Write an object from the request body, streamed",
    params(("bucket" = String, Path, description = "The bucket's id or name"), ("key" = String, Path, description = "The object's key; '/' separates its segments"), OrgQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = nubes::ObjectMeta), super::error::Errors)
)]
pub(super) async fn put_object(
    State(s): State<AppState>,
    p: Principal,
    Path((bucket, key)): Path<(String, String)>,
    Params(q): Params<OrgQuery>,
    req: Request,
) -> ApiResult<(StatusCode, Json<ObjectMeta>)> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let body = req
        .into_body()
        .into_data_stream()
        .map_err(|e| Error::invalid_input(format!("the upload was cut short: {e}")));
    let meta = s
        .buckets
        .put(&p, q.named(&bucket), &key, declared, Box::pin(body))
        .await?;
    Ok((StatusCode::CREATED, Json(meta)))
}

#[utoipa::path(
    get,
    path = "/v1/buckets/{bucket}/objects/{key}",
    operation_id = "buckets_get_object",
    tag = "buckets",
    summary = "Read an object, or one range of it (Range: bytes=START-END)",
    params(("bucket" = String, Path, description = "The bucket's id or name"), ("key" = String, Path, description = "The object's key; '/' separates its segments"), OrgQuery, ("range" = Option<String>, Header, description = "bytes=START-END or bytes=START-")),
    responses((status = 200, body = Vec<u8>, content_type = "application/octet-stream"), (status = 206, body = Vec<u8>, content_type = "application/octet-stream"), super::error::Errors)
)]
pub(super) async fn get_object(
    State(s): State<AppState>,
    p: Principal,
    Path((bucket, key)): Path<(String, String)>,
    Params(q): Params<OrgQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let options = match headers.get(header::RANGE) {
        Some(v) => GetOptions::range(range(v)?),
        None => GetOptions::default(),
    };
    let partial = options.range.is_some();
    let got = s
        .buckets
        .get_object(&p, q.named(&bucket), &key, options)
        .await?;
    let mut response = HttpBody::from_stream(got.body.0).into_response();
    let h = response.headers_mut();
    describe(h, &got.meta);
    h.insert(
        header::CONTENT_LENGTH,
        HeaderValue::from(got.range.end - got.range.start),
    );
    if partial {
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
        let value = format!(
            "bytes {}-{}/{}",
            got.range.start,
            got.range.end.saturating_sub(1),
            got.meta.size
        );
        if let Ok(v) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(header::CONTENT_RANGE, v);
        }
    }
    Ok(response)
}

#[utoipa::path(
    head,
    path = "/v1/buckets/{bucket}/objects/{key}",
    operation_id = "buckets_head_object",
    tag = "buckets",
    summary = "An object's size and modification time, in headers",
    params(("bucket" = String, Path, description = "The bucket's id or name"), ("key" = String, Path, description = "The object's key; '/' separates its segments"), OrgQuery),
    responses((status = 200), super::error::Errors)
)]
pub(super) async fn head_object(
    State(s): State<AppState>,
    p: Principal,
    Path((bucket, key)): Path<(String, String)>,
    Params(q): Params<OrgQuery>,
) -> ApiResult<Response> {
    let meta = s.buckets.head(&p, q.named(&bucket), &key).await?;
    let mut response = StatusCode::OK.into_response();
    describe(response.headers_mut(), &meta);
    response
        .headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(meta.size));
    Ok(response)
}

#[utoipa::path(
    delete,
    path = "/v1/buckets/{bucket}/objects/{key}",
    operation_id = "buckets_delete_object",
    tag = "buckets",
    summary = "Delete an object",
    params(("bucket" = String, Path, description = "The bucket's id or name"), ("key" = String, Path, description = "The object's key; '/' separates its segments"), OrgQuery),
    responses((status = 204), super::error::Errors)
)]
pub(super) async fn delete_object(
    State(s): State<AppState>,
    p: Principal,
    Path((bucket, key)): Path<(String, String)>,
    Params(q): Params<OrgQuery>,
) -> ApiResult<StatusCode> {
    s.buckets.delete_object(&p, q.named(&bucket), &key).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The object's size and modification time, which `Content-Length` alone cannot carry for a
/// range.
fn describe(h: &mut HeaderMap, meta: &ObjectMeta) {
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(
        nubes_api::buckets::OBJECT_SIZE_HEADER,
        HeaderValue::from(meta.size),
    );
    if let Some(at) = meta.last_modified {
        let http_date = at.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        if let Ok(v) = HeaderValue::from_str(&http_date) {
            h.insert(header::LAST_MODIFIED, v);
        }
    }
}

/// `Range: bytes=start-end` (end inclusive) or `bytes=start-`.
fn range(value: &HeaderValue) -> Result<ByteRange, ApiError> {
    let bad = || {
        ApiError(Error::invalid_input(
            "Range must be `bytes=START-END` or `bytes=START-` (one range, END inclusive)",
        ))
    };
    let spec = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("bytes="))
        .ok_or_else(bad)?;
    let (start, end) = spec.split_once('-').ok_or_else(bad)?;
    let start: u64 = start.trim().parse().map_err(|_| bad())?;
    let end = match end.trim() {
        "" => None,
        e => {
            let last: u64 = e.parse().map_err(|_| bad())?;
            if last < start {
                return Err(bad());
            }
            Some(last.checked_add(1).ok_or_else(bad)?)
        }
    };
    Ok(ByteRange { start, end })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_with_an_inclusive_end() {
        let r = |s: &str| range(&HeaderValue::from_str(s).unwrap());
        assert_eq!(
            r("bytes=0-9").unwrap(),
            ByteRange {
                start: 0,
                end: Some(10)
            }
        );
        assert_eq!(r("bytes=5-").unwrap(), ByteRange::from(5));
        for bad in [
            "bytes=-5",
            "bytes=9-1",
            "items=0-1",
            "bytes=a-b",
            "bytes=0-1,4-5",
            "bytes=0-18446744073709551615",
        ] {
            assert!(r(bad).is_err(), "{bad}");
        }
    }
}
