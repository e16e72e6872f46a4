//! Records every authenticated mutating request in the audit log: who, in which organization,
//! what, on which path, how it ended, when, and from where; and, of anonymous requests, only
//! sign-ins and registrations (rate-limited per address), by route. Anything else an anonymous
//! client sends is refused without a row, so nobody can fill the table without an account. A
//! failed write of the log is reported, not hidden.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use nubes_auth::token;

use super::extract::{bearer, client_ip};
use super::AppState;
use crate::accounts::now;
use crate::db::AuditEntry;
use crate::tenancy::{self, Ref};

/// Set by handlers whose organization is not in the path, for the audit row.
#[derive(Debug, Clone)]
pub struct AuditOrg(pub String);

/// A create's answer: 201, the new resource, and its organization for the audit row.
pub type Created<T> = (StatusCode, axum::Extension<AuditOrg>, axum::Json<T>);

pub fn created<T>(org_id: String, body: T) -> Created<T> {
    (
        StatusCode::CREATED,
        axum::Extension(AuditOrg(org_id)),
        axum::Json(body),
    )
}

/// Routes recorded whatever their method: an interactive exec or a console (a GET upgraded to
/// a WebSocket) can change anything inside its instance.
const ALWAYS: &[&str] = &[
    "/v1/instances/{instance}/exec",
    "/v1/instances/{instance}/console",
];

/// Anonymous requests worth a row: attempts to get in.
const SIGN_INS: &[&str] = &["/v1/auth/register", "/v1/auth/login", "/v1/auth/verify-otp"];

/// The most of a request's path a row keeps.
const MAX_RESOURCE: usize = 512;

/// `path`, cut to at most `MAX_RESOURCE` bytes on a character boundary.
fn bounded(path: &str) -> String {
    let mut end = path.len().min(MAX_RESOURCE);
    while !path.is_char_boundary(end) {
        end -= 1;
    }
    path[..end].to_string()
}

pub async fn record(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string());
    let reads = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if reads && !route.as_deref().is_some_and(|r| ALWAYS.contains(&r)) {
        return next.run(req).await;
    }
    let action = format!(
        "{} {}",
        req.method(),
        route.as_deref().unwrap_or("(no route)")
    );
    let source = client_ip(req.extensions());
    let bearer = bearer(req.headers()).ok().map(str::to_string);
    let user_id = match bearer {
        Some(t) => state.accounts.identify(&t).await,
        None => None,
    };
    let resource = match (&user_id, route.as_deref()) {
        (Some(_), _) => bounded(req.uri().path()),
        (None, Some(r)) if SIGN_INS.contains(&r) => r.to_string(),
        (None, _) => return next.run(req).await,
    };
    // Look the organization up before the handler runs: a delete removes the row it names.
    let in_org = req.uri().query().and_then(|q| {
        q.split('&')
            .find_map(|pair| pair.strip_prefix("org_id="))
            .map(str::to_string)
    });
    let org_id = org_of(&state, &resource, in_org.as_deref(), user_id.as_deref()).await;

    let response = next.run(req).await;
    // An anonymous attempt refused by the per-address limit leaves no row: otherwise anyone
    // could write rows as fast as they can send.
    if user_id.is_none() && response.status() == StatusCode::TOO_MANY_REQUESTS {
        return response;
    }
    // A create names its organization only in the body or the answer; the handler says it.
    let org_id = org_id.or_else(|| response.extensions().get::<AuditOrg>().map(|o| o.0.clone()));
    let entry = AuditEntry {
        id: token::random_id(),
        at: now(),
        user_id,
        org_id,
        action,
        resource,
        status: response.status().as_u16() as i64,
        source,
    };
    if let Err(e) = state.accounts.db().insert_audit(&entry).await {
        tracing::error!(error = %e, action = %entry.action, "could not write the audit log");
    }
    response
}

/// The organization of what `path` names: by id, or by a name only one of the caller's
/// organizations uses (in `in_org`, when the request says which).
async fn org_of(
    state: &AppState,
    path: &str,
    in_org: Option<&str>,
    user_id: Option<&str>,
) -> Option<String> {
    use crate::db::{ClusterRow, InstanceRow};
    use tenancy::{Bucket, Disk, Function};
    let mut parts = path.trim_start_matches('/').split('/');
    let (db, user_id) = (state.accounts.db(), user_id?);
    let (kind, reference) = match (parts.next(), parts.next(), parts.next()) {
        (Some("v1"), Some("orgs"), Some(org)) if org != "join" => return Some(org.to_string()),
        (Some("v1"), Some(kind), Some(reference)) => (kind, reference),
        _ => return None,
    };
    let r = Ref {
        id_or_name: reference,
        org_id: in_org,
    };
    match kind {
        "instances" => tenancy::org_of::<InstanceRow>(db, user_id, r).await,
        "clusters" => tenancy::org_of::<ClusterRow>(db, user_id, r).await,
        "disks" => tenancy::org_of::<Disk>(db, user_id, r).await,
        "buckets" => tenancy::org_of::<Bucket>(db, user_id, r).await,
        "functions" => tenancy::org_of::<Function>(db, user_id, r).await,
        _ => None,
    }
}
