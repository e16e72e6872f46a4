//! Billing over HTTP on SQLite and PostgreSQL, on a clock the test moves: monthly grants made
//! once, plan switches prorated, admin top-ups and adjustments, a ledger that always balances,
//! and charges that never overspend a balance however many race for it.

mod common;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use axum::http::StatusCode;
use common::{error, on_postgres, on_sqlite, user, Api};
use nubes_billing::Credits;
use serde_json::{json, Value};

#[derive(Debug)]
struct Manual(AtomicI64);

impl nubes_server::billing::Clock for Manual {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// 2026-11-16T00:00:00Z: 14 of November's 30 days to go... and then some hours.
const MID_NOVEMBER: i64 = 1_794_787_200;

async fn server(url: &str, clock: Arc<Manual>) -> (Api, nubes_server::AppState) {
    let config = nubes_server::Config {
        database_url: url.to_string(),
        ..Default::default()
    };
    let backends = nubes_server::Backends {
        clock: Some(clock),
        ..Default::default()
    };
    let state = nubes_server::state_with(&config, backends).await.unwrap();
    (
        Api {
            app: nubes_server::app(state.clone()),
        },
        state,
    )
}

async fn admin_token(api: &Api, state: &nubes_server::AppState) -> String {
    let boot = state
        .accounts
        .bootstrap_admin("admin@example.com")
        .await
        .unwrap()
        .unwrap();
    let (status, tokens) = api
        .post(
            "/v1/auth/login",
            None,
            json!({"email": boot.email, "password": boot.password}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    tokens["access_token"].as_str().unwrap().to_string()
}

async fn balance(api: &Api, token: &str) -> String {
    let (status, b) = api.get("/v1/billing/balance", Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{b}");
    b["credits"].as_str().unwrap().to_string()
}

async fn user_id(api: &Api, token: &str) -> String {
    let (_, me) = api.get("/v1/auth/me", Some(token)).await;
    me["id"].as_str().unwrap().to_string()
}

async fn plans_grants_switches_and_top_ups(url: String) {
    let clock = Arc::new(Manual(AtomicI64::new(MID_NOVEMBER)));
    let (api, state) = server(&url, clock.clone()).await;
    let admin = admin_token(&api, &state).await;
    let alice = user(&api, "alice@example.com").await;
    let alice_id = user_id(&api, &alice).await;

    // Free until switched; its 15 credits granted once for the month, however often asked.
    let (_, plan) = api.get("/v1/billing/plan", Some(&alice)).await;
    assert_eq!(
        (plan["plan"].as_str(), plan["monthly"].as_str()),
        (Some("free"), Some("15"))
    );
    for _ in 0..3 {
        assert_eq!(balance(&api, &alice).await, "15");
    }
    let (_, catalog) = api.get("/v1/billing/plans", Some(&alice)).await;
    assert_eq!(catalog["plans"].as_array().unwrap().len(), 4, "{catalog}");
    assert_eq!(catalog["prices"]["core_hour"], "0.2");

    // Half of November left (15 of 30 days): Pro's 150 less Free's 15, halved.
    assert_eq!(
        api.send(
            "PUT",
            "/v1/billing/plan",
            Some(&alice),
            Some(json!({"plan": "pro"}).to_string())
        )
        .await
        .1["prorated"],
        "67.5"
    );
    assert_eq!(balance(&api, &alice).await, "82.5");
    let again = api
        .send(
            "PUT",
            "/v1/billing/plan",
            Some(&alice),
            Some(json!({"plan": "pro"}).to_string()),
        )
        .await;
    error(&again, StatusCode::CONFLICT, "conflict");
    let bad = api
        .send(
            "PUT",
            "/v1/billing/plan",
            Some(&alice),
            Some(json!({"plan": "gold"}).to_string()),
        )
        .await;
    error(&bad, StatusCode::BAD_REQUEST, "invalid_input");

    // A new month: Pro's grant, once.
    clock.0.store(MID_NOVEMBER + 20 * 86_400, Ordering::SeqCst);
    assert_eq!(balance(&api, &alice).await, "232.5");
    assert_eq!(balance(&api, &alice).await, "232.5");

    // Admins top up and adjust; others may not; bad amounts lose nothing.
    let top = json!({"user_id": alice_id, "amount": "10.000001", "memo": "invoice 7"});
    assert_eq!(
        api.post("/v1/admin/billing/top-ups", Some(&alice), top.clone())
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        api.post("/v1/admin/billing/top-ups", Some(&admin), top)
            .await
            .0,
        StatusCode::CREATED
    );
    let fix = json!({"user_id": alice_id, "amount": "-2.5", "memo": "double grant"});
    assert_eq!(
        api.post("/v1/admin/billing/adjustments", Some(&admin), fix)
            .await
            .0,
        StatusCode::CREATED
    );
    for bad in [
        json!({"user_id": alice_id, "amount": "-1", "memo": "x"}),
        json!({"user_id": alice_id, "amount": "1.0000001", "memo": "x"}),
        json!({"user_id": alice_id, "amount": "0", "memo": "x"}),
        json!({"user_id": alice_id, "amount": "1", "memo": ""}),
        json!({"user_id": "nobody", "amount": "1", "memo": "x"}),
    ] {
        let res = api
            .post("/v1/admin/billing/top-ups", Some(&admin), bad.clone())
            .await;
        assert!(res.0.is_client_error(), "{bad}: {:?}", res);
    }
    assert_eq!(balance(&api, &alice).await, "240.000001");

    let (_, txs) = api.get("/v1/billing/transactions", Some(&alice)).await;
    let kinds: Vec<&str> = txs
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["adjustment", "top_up", "grant", "plan_switch", "grant"],
        "{txs}"
    );
    let sum: Credits = txs
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["amount"].as_str().unwrap().parse::<Credits>().unwrap())
        .sum();
    assert_eq!(
        sum.to_string(),
        "240.000001",
        "the balance is its transactions"
    );

    // The ledger balances: every transaction, and all accounts together.
    let (unbalanced, total) = state.accounts.db().ledger_audit().await.unwrap();
    assert!(unbalanced.is_empty(), "{unbalanced:?}");
    assert_eq!(total, 0);
}

#[tokio::test]
async fn plans_grants_switches_and_top_ups_on_sqlite() {
    on_sqlite(plans_grants_switches_and_top_ups).await;
}

#[tokio::test]
async fn plans_grants_switches_and_top_ups_on_postgres() {
    on_postgres(plans_grants_switches_and_top_ups).await;
}

/// Forty charges of one credit race for a balance of fifteen: exactly fifteen get through, the
/// balance ends at zero, and a replayed charge (same key) changes nothing.
async fn racing_charges_never_overspend(url: String) {
    let clock = Arc::new(Manual(AtomicI64::new(MID_NOVEMBER)));
    let (api, state) = server(&url, clock).await;
    let bob = user(&api, "bob@example.com").await;
    let bob_id = user_id(&api, &bob).await;
    assert_eq!(balance(&api, &bob).await, "15");
    let mut racers = Vec::new();
    for i in 0..40 {
        let (billing, id) = (state.billing.clone(), bob_id.clone());
        racers.push(tokio::spawn(async move {
            billing
                .charge_upfront(
                    &id,
                    format!("race:{i}"),
                    "first hour".into(),
                    Credits::whole(1),
                )
                .await
        }));
    }
    let mut through = Vec::new();
    for (i, r) in racers.into_iter().enumerate() {
        match r.await.unwrap() {
            Ok(_) => through.push(i),
            Err(e) => assert_eq!(e.kind(), nubes::ErrorKind::InsufficientCredits, "{e}"),
        }
    }
    assert_eq!(through.len(), 15);
    assert_eq!(balance(&api, &bob).await, "0");
    let replay = state
        .billing
        .charge_upfront(
            &bob_id,
            format!("race:{}", through[0]),
            "first hour".into(),
            Credits::whole(1),
        )
        .await
        .unwrap();
    assert_eq!(replay, nubes_server::db::Posted::Replayed);
    let (unbalanced, total) = state.accounts.db().ledger_audit().await.unwrap();
    assert!(
        unbalanced.is_empty() && total == 0,
        "{unbalanced:?} {total}"
    );
    let _: Value = api.get("/v1/billing/transactions", Some(&bob)).await.1;
}

#[tokio::test(flavor = "multi_thread")]
async fn racing_charges_never_overspend_on_sqlite() {
    on_sqlite(racing_charges_never_overspend).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn racing_charges_never_overspend_on_postgres() {
    on_postgres(racing_charges_never_overspend).await;
}
