//! Request extractors that fail with the API's error shape.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use nubes::{Error, ErrorKind};
use serde::de::DeserializeOwned;

use super::error::ApiError;
use super::AppState;
use crate::tenancy::Principal;
pub use nubes_api::orgs::OrgQuery;

/// A JSON body; malformed JSON, wrong types and unknown fields are 400 with serde's reason.
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Body(v)),
            Err(rejection) => {
                let message = match &rejection {
                    JsonRejection::MissingJsonContentType(_) => {
                        "expected a JSON body with content-type application/json".to_string()
                    }
                    other => other.body_text(),
                };
                Err(ApiError(Error::invalid_input(message)))
            }
        }
    }
}

/// Query parameters; malformed ones are 400 in the API's error shape.
#[derive(Debug)]
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Params(q.0))
            .map_err(|rejection| ApiError(Error::invalid_input(rejection.body_text())))
    }
}

/// The caller, from `Authorization: Bearer <access token>`.
impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(&parts.headers).map_err(ApiError)?;
        Ok(state.accounts.authenticate(token).await?)
    }
}

/// The client's address when the server knows it (it does over a real socket).
#[derive(Debug, Clone)]
pub struct ClientAddr(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(client_ip(&parts.extensions)))
    }
}

/// The subprotocol a browser's WebSocket asks for: a browser cannot set `Authorization` on one,
/// so it offers `["nubes", "nubes.bearer.<token>"]` and the server answers `nubes`.
pub const WS_PROTOCOL: &str = "nubes";
const WS_BEARER: &str = "nubes.bearer.";

/// The token in `Authorization: Bearer <token>` or, with no such header on a WebSocket upgrade,
/// its `nubes.bearer.<token>` subprotocol; or why there is none.
pub fn bearer(headers: &axum::http::HeaderMap) -> Result<&str, Error> {
    let Some(header) = headers.get(axum::http::header::AUTHORIZATION) else {
        return ws_bearer(headers)
            .ok_or_else(|| Error::new(ErrorKind::Unauthenticated, "missing bearer token"));
    };
    header
        .to_str()
        .ok()
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Unauthenticated,
                "expected `Authorization: Bearer <token>`",
            )
        })
}

/// Only an upgrade's: a plain request never signs in by a subprotocol header.
fn ws_bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    let upgrade = headers
        .get(axum::http::header::UPGRADE)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|h| h.eq_ignore_ascii_case("websocket"));
    if !upgrade {
        return None;
    }
    headers
        .get_all(axum::http::header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(','))
        .find_map(|p| p.trim().strip_prefix(WS_BEARER))
        .filter(|t| !t.is_empty())
}

/// The client's IP address, when the server knows it (it does over a real socket).
pub fn client_ip(extensions: &axum::http::Extensions) -> Option<String> {
    extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string())
}

/// A raw request body held in memory, up to axum's body limit; too large is a clear 400.
#[derive(Debug)]
pub struct Payload(pub nubes::Bytes);

impl<S: Send + Sync> FromRequest<S> for Payload {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        nubes::Bytes::from_request(req, state)
            .await
            .map(Payload)
            .map_err(|rejection| ApiError(Error::invalid_input(rejection.body_text())))
    }
}

/// A resource named in a path, looked up in the organization a `?org_id=` names.
pub trait Named {
    fn named<'a>(&'a self, id_or_name: &'a str) -> crate::tenancy::Ref<'a>;
}

macro_rules! named {
    ($($query:ty),*) => {$(
        impl Named for $query {
            fn named<'a>(&'a self, id_or_name: &'a str) -> crate::tenancy::Ref<'a> {
                crate::tenancy::Ref {
                    id_or_name,
                    org_id: self.org_id.as_deref(),
                }
            }
        }
    )*};
}

named!(
    OrgQuery,
    nubes_api::instances::StopQuery,
    nubes_api::instances::DeleteQuery,
    nubes_api::instances::LogQuery,
    nubes_api::instances::ConsoleQuery
);

/// A WebSocket upgrade; a request that is not one is a 400 in the API's error shape.
#[derive(Debug)]
pub struct Upgrade(pub axum::extract::ws::WebSocketUpgrade);

impl<S: Send + Sync> FromRequestParts<S> for Upgrade {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::ws::WebSocketUpgrade::from_request_parts(parts, state)
            .await
            // Only `nubes` is ever answered: the token's protocol is never echoed back.
            .map(|u| Upgrade(u.protocols([WS_PROTOCOL])))
            .map_err(|r| {
                ApiError(Error::invalid_input(format!(
                    "expected a WebSocket upgrade: {}",
                    r.body_text()
                )))
            })
    }
}
