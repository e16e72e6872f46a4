//! `/v1/agents/connect`: the WebSocket each lessor agent dials, refused (401) before the upgrade
//! unless its token is live; and `/v1/admin/agents/...`, where platform admins issue, list,
//! cordon and revoke agents.

use axum::extract::ws::{Message, WebSocket};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use futures::{SinkExt, StreamExt};
use nubes::{Error, Result};
use nubes_agent::protocol::{self, AgentMessage};
use nubes_agent::Fleet;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ApiResult};
use super::extract::{bearer, Body, Upgrade};
use super::AppState;
use crate::agents::{AgentInstance, AgentView, DrainReport, NewAgent};
use crate::tenancy::Principal;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(connect))
        .routes(routes!(create, list))
        .routes(routes!(get_one, revoke))
        .routes(routes!(cordon))
        .routes(routes!(uncordon))
        .routes(routes!(drain))
        .routes(routes!(instances))
        .routes(routes!(earnings))
}

#[utoipa::path(
    get,
    path = "/v1/agents/{agent}/earnings",
    operation_id = "agents_earnings",
    tag = "agents",
    summary = "What the agent's lessor has earned from the usage it ran (platform admins)",
    params(("agent" = String, Path, description = ID)),
    responses((status = 200, body = crate::billing::Balance), super::error::Errors)
)]
async fn earnings(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<crate::billing::Balance>> {
    Ok(Json(s.agents.earnings(&p, &id).await?))
}

const ID: &str = "The agent's id";

/// The largest message an agent may send: a hello or heartbeat naming thousands of instances
/// fits, as does an output piece (64 KiB, base64). Larger closes the connection.
const AGENT_MESSAGE_MAX: usize = 4 << 20;

#[utoipa::path(
    get,
    path = "/v1/agents/connect",
    operation_id = "agents_connect",
    tag = "agents",
    summary = "An agent's WebSocket (upgrade; Authorization: Bearer nbg_...)",
    responses((status = 101, description = "Switching to the agent protocol"), super::error::Errors),
    security(())
)]
async fn connect(
    State(s): State<AppState>,
    headers: HeaderMap,
    Upgrade(upgrade): Upgrade,
) -> ApiResult<Response> {
    let token = bearer(&headers).map_err(ApiError)?;
    let (agent_id, cordoned) = s.agents.authenticate(token).await?;
    let fleet = s.agents.fleet()?.clone();
    let upgrade = upgrade
        .max_message_size(AGENT_MESSAGE_MAX)
        .max_frame_size(AGENT_MESSAGE_MAX);
    Ok(upgrade.on_upgrade(move |socket| async move {
        if let Err(e) = serve_agent(fleet, agent_id.clone(), cordoned, socket).await {
            tracing::warn!(agent = %agent_id, error = %e, "agent session ended");
        }
    }))
}

/// Hello first, then messages both ways until the socket closes. Writes go through the fleet's
/// channel, so a slow agent never blocks the fleet.
async fn serve_agent(
    fleet: Fleet,
    agent_id: String,
    cordoned: bool,
    socket: WebSocket,
) -> Result<()> {
    let (mut sink, mut stream) = socket.split();
    let hello = loop {
        match stream.next().await {
            Some(Ok(Message::Text(text))) => match protocol::decode::<AgentMessage>(&text) {
                Ok(AgentMessage::Hello(h)) => break h,
                Ok(_) => return Err(Error::invalid_input("the first message must be hello")),
                Err(u) => return Err(Error::invalid_input(u.message)),
            },
            Some(Ok(Message::Close(_))) | None => return Ok(()),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(Error::unexpected(format!("websocket: {e}"))),
        }
    };
    let (conn, mut outbox) = match fleet.connect(&agent_id, hello).await {
        Ok(c) => c,
        Err(e) => {
            let refusal = protocol::ServerMessage::Error {
                id: None,
                kind: e.kind().as_str().to_string(),
                message: e.message().to_string(),
            };
            let _ = sink.send(frame(&refusal)).await;
            return Err(e);
        }
    };
    if cordoned {
        let _ = fleet.cordon(&agent_id, true);
    }
    // The outbox closes when the fleet lets the agent go (its token revoked, say); then the
    // socket closes too, and the agent's reconnect meets the token check.
    let mut writer = tokio::spawn(async move {
        while let Some(msg) = outbox.recv().await {
            if sink.send(frame(&msg)).await.is_err() {
                return;
            }
        }
        let _ = sink.send(Message::Close(None)).await;
    });
    loop {
        tokio::select! {
            frame = stream.next() => match frame {
                Some(Ok(Message::Text(text))) => match protocol::decode::<AgentMessage>(&text) {
                    Ok(msg) => fleet.receive(&agent_id, conn, msg),
                    Err(u) => fleet.undecodable(&agent_id, conn, u),
                },
                Some(Ok(Message::Binary(data))) => match protocol::decode_piece::<AgentMessage>(data) {
                    Ok(msg) => fleet.receive(&agent_id, conn, msg),
                    Err(u) => fleet.undecodable(&agent_id, conn, u),
                },
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
            _ = &mut writer => break,
        }
    }
    fleet.disconnect(&agent_id, conn);
    writer.abort();
    Ok(())
}

fn frame(msg: &protocol::ServerMessage) -> Message {
    match protocol::encode(msg) {
        protocol::Frame::Text(text) => Message::text(text),
        protocol::Frame::Binary(data) => Message::Binary(data),
    }
}

#[utoipa::path(
    post,
    path = "/v1/admin/agents",
    operation_id = "agents_create",
    tag = "agents",
    summary = "Issue a token for a new agent (shown once; platform admins)",
    request_body = NewAgent,
    responses((status = 201, body = AgentView), super::error::Errors)
)]
async fn create(
    State(s): State<AppState>,
    p: Principal,
    Body(b): Body<NewAgent>,
) -> ApiResult<(StatusCode, Json<AgentView>)> {
    Ok((StatusCode::CREATED, Json(s.agents.create(&p, b).await?)))
}

#[utoipa::path(
    get,
    path = "/v1/admin/agents",
    operation_id = "agents_list",
    tag = "agents",
    summary = "Every agent: state, capacity, free, last heartbeat, instances (platform admins)",
    responses((status = 200, body = Vec<AgentView>), super::error::Errors)
)]
async fn list(State(s): State<AppState>, p: Principal) -> ApiResult<Json<Vec<AgentView>>> {
    Ok(Json(s.agents.list(&p).await?))
}

#[utoipa::path(
    get,
    path = "/v1/admin/agents/{agent}",
    operation_id = "agents_get",
    tag = "agents",
    summary = "One agent (platform admins)",
    params(("agent" = String, Path, description = ID)),
    responses((status = 200, body = AgentView), super::error::Errors)
)]
async fn get_one(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<AgentView>> {
    Ok(Json(s.agents.get(&p, &id).await?))
}

#[utoipa::path(
    delete,
    path = "/v1/admin/agents/{agent}",
    operation_id = "agents_revoke",
    tag = "agents",
    summary = "Revoke an agent's token and drop its connection (platform admins)",
    params(("agent" = String, Path, description = ID)),
    responses((status = 204), super::error::Errors)
)]
async fn revoke(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.agents.revoke(&p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/v1/admin/agents/{agent}/cordon",
    operation_id = "agents_cordon",
    tag = "agents",
    summary = "Keep what the agent runs, place nothing new on it (platform admins)",
    params(("agent" = String, Path, description = ID)),
    responses((status = 200, body = AgentView), super::error::Errors)
)]
async fn cordon(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<AgentView>> {
    Ok(Json(s.agents.cordon(&p, &id, true).await?))
}

#[utoipa::path(
    post,
    path = "/v1/admin/agents/{agent}/uncordon",
    operation_id = "agents_uncordon",
    tag = "agents",
    summary = "Place work on the agent again (platform admins)",
    params(("agent" = String, Path, description = ID)),
    responses((status = 200, body = AgentView), super::error::Errors)
)]
async fn uncordon(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<AgentView>> {
    Ok(Json(s.agents.cordon(&p, &id, false).await?))
}

#[utoipa::path(
    get,
    path = "/v1/admin/agents/{agent}/instances",
    operation_id = "agents_instances",
    tag = "agents",
    summary = "The tenants' instances placed on the agent (platform admins)",
    params(("agent" = String, Path, description = ID)),
    responses((status = 200, body = Vec<AgentInstance>), super::error::Errors)
)]
async fn instances(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<AgentInstance>>> {
    Ok(Json(s.agents.instances(&p, &id).await?))
}

#[utoipa::path(
    post,
    path = "/v1/admin/agents/{agent}/drain",
    operation_id = "agents_drain",
    tag = "agents",
    summary = "Cordon the agent and move its instances to other agents, restarted (platform admins)",
    params(("agent" = String, Path, description = ID)),
    responses((status = 200, body = DrainReport), super::error::Errors)
)]
async fn drain(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<DrainReport>> {
    Ok(Json(s.agents.drain(&p, &id).await?))
}
