//! `GET /v1/events`: a WebSocket of live events (JSON text frames). A user sees their own
//! organizations' events, a platform admin all of them.

use axum::extract::ws::{close_code, CloseFrame, Message, WebSocket};
use axum::extract::State;
use axum::response::Response;
use tokio::sync::broadcast::error::RecvError;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ApiResult;
use super::extract::Upgrade;
use super::AppState;
use crate::events::Event;
use crate::tenancy;
use crate::tenancy::Principal;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(events))
}

#[utoipa::path(
    get,
    path = "/v1/events",
    operation_id = "events_stream",
    tag = "events",
    summary = "Live events over a WebSocket: instance states, the queue, agents online and offline, disk conversions",
    responses((status = 101, description = "Switching to a stream of Event frames"), super::error::Errors)
)]
async fn events(
    State(s): State<AppState>,
    p: Principal,
    Upgrade(upgrade): Upgrade,
) -> ApiResult<Response> {
    let pass = s.sockets.enter(&p.user_id)?;
    // The client only closes: anything it sends is ignored, and none of it is read whole past
    // a small frame (the default would buffer 64 MiB before ignoring it).
    let upgrade = upgrade.max_message_size(4 << 10).max_frame_size(4 << 10);
    Ok(upgrade.on_upgrade(move |socket| async move {
        stream(s, p, socket).await;
        drop(pass);
    }))
}

/// Whether `p` may see `e`: platform events and every organization's for platform admins, their
/// organizations' for everyone else (checked per event, so joining or leaving applies at once).
async fn visible(s: &AppState, p: &Principal, e: &Event) -> bool {
    if let Some(user) = &e.user_id {
        if user == &p.user_id {
            return true;
        }
    }
    let org = e.org_id.as_deref().unwrap_or("");
    match tenancy::actor(s.accounts.db(), p, org).await {
        Ok(actor) => {
            actor.platform_admin
                || (e.user_id.is_none() && e.org_id.is_some() && actor.org.is_some())
        }
        Err(_) => false,
    }
}

async fn stream(s: AppState, p: Principal, mut socket: WebSocket) {
    let mut rx = s.events.subscribe();
    let ended = super::session_ends(&s, &p);
    tokio::pin!(ended);
    loop {
        tokio::select! {
            () = &mut ended => {
                let _ = socket.send(Message::Close(Some(CloseFrame {
                    code: close_code::POLICY,
                    reason: "the session ended".into(),
                }))).await;
                break;
            }
            event = rx.recv() => {
                let event = match event {
                    Ok(e) => e,
                    Err(RecvError::Lagged(missed)) => {
                        let mut e = crate::events::event("lagged");
                        e.state = Some(format!("{missed} events were dropped: this client read too slowly"));
                        e
                    }
                    Err(RecvError::Closed) => break,
                };
                if event.kind != "lagged" && !visible(&s, &p, &event).await {
                    continue;
                }
                let text = serde_json::to_string(&event).expect("events serialize");
                if socket.send(Message::text(text)).await.is_err() {
                    break;
                }
            }
            // The client may only close; anything else it sends is ignored.
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
        }
    }
}
