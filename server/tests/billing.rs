//! Billing over HTTP on SQLite and PostgreSQL, on a clock the test moves: monthly grants made
//! once, plan switches prorated, admin top-ups and adjustments, a ledger that always balances,
//! and charges that never overspend a balance however many race for it.

mod common;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use axum::http::StatusCode;
use common::{error, journal_of, on_both, user, Api};
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

/// A server at mid-November, with the clock that moves it on.
async fn server(url: &str) -> (Arc<Manual>, Api, nubes_server::AppState) {
    let clock = Arc::new(Manual(AtomicI64::new(MID_NOVEMBER)));
    let (api, state) = server_with(url, clock.clone(), nubes_server::Config::default()).await;
    (clock, api, state)
}

async fn server_with(
    url: &str,
    clock: Arc<Manual>,
    config: nubes_server::Config,
) -> (Api, nubes_server::AppState) {
    let config = nubes_server::Config {
        database_url: url.to_string(),
        usage_journal: journal_of(url),
        ..config
    };
    let mut backends = nubes_server::Backends::connect(&config).await.unwrap();
    backends.clock = Some(clock);
    let state = nubes_server::state_with(&config, backends).await.unwrap();
    (
        Api {
            app: nubes_server::app(state.clone()),
        },
        state,
    )
}

/// The ledger balances: every transaction, and all accounts together.
async fn balanced(state: &nubes_server::AppState) {
    let (unbalanced, total) = state.accounts.db().ledger_audit().await.unwrap();
    assert!(
        unbalanced.is_empty() && total == 0,
        "{unbalanced:?} {total}"
    );
}

/// The message of a create or resize refused for a plan's limits.
#[track_caller]
fn refused(res: &(StatusCode, Value)) -> &str {
    error(res, StatusCode::FORBIDDEN, "quota_exceeded");
    res.1["error"]["message"].as_str().unwrap()
}

/// A billing server on the memory provider, at mid-November.
async fn billing_server(url: &str) -> (Api, nubes_server::AppState) {
    let clock = Arc::new(Manual(AtomicI64::new(MID_NOVEMBER)));
    let config = nubes_server::Config {
        compute: Some("memory://?images=img".into()),
        billing: true,
        ..Default::default()
    };
    server_with(url, clock, config).await
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

/// A platform admin's top-up of `amount` credits to `user_id`'s wallet.
async fn top_up(api: &Api, admin: &str, user_id: &str, amount: &str) {
    credit(api, admin, "top-ups", user_id, amount).await
}

/// A platform admin's adjustment (up or down) of `user_id`'s wallet.
async fn adjust(api: &Api, admin: &str, user_id: &str, amount: &str) {
    credit(api, admin, "adjustments", user_id, amount).await
}

async fn credit(api: &Api, admin: &str, kind: &str, user_id: &str, amount: &str) {
    let body = json!({"user_id": user_id, "amount": amount, "memo": "test"});
    let path = format!("/v1/admin/billing/{kind}");
    let (status, answer) = api.post(&path, Some(admin), body).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
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
    let (clock, api, state) = server(&url).await;
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

    // Half of November left (15 of 30 days): Pro's 150 less Free's 15, halved, for half of
    // Pro's 18-credit price.
    let (status, switched) = api
        .send(
            "PUT",
            "/v1/billing/plan",
            Some(&alice),
            Some(json!({"plan": "pro"}).to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{switched}");
    assert_eq!(
        (&switched["prorated"], &switched["price"], &switched["net"]),
        (&json!("67.5"), &json!("9"), &json!("58.5"))
    );
    assert_eq!(balance(&api, &alice).await, "73.5");
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

    // A new month: Pro's price paid and its grant given, once.
    clock.0.store(MID_NOVEMBER + 20 * 86_400, Ordering::SeqCst);
    assert_eq!(balance(&api, &alice).await, "205.5");
    assert_eq!(balance(&api, &alice).await, "205.5");

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
        json!({"user_id": alice_id, "amount": "9000000000000", "memo": "x"}),
    ] {
        let res = api
            .post("/v1/admin/billing/top-ups", Some(&admin), bad.clone())
            .await;
        assert!(res.0.is_client_error(), "{bad}: {:?}", res);
    }
    assert_eq!(balance(&api, &alice).await, "213.000001");

    let (_, txs) = api.get("/v1/billing/transactions", Some(&alice)).await;
    let kinds = nubes_testing::field(&txs, "kind");
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
        "213.000001",
        "the balance is its transactions"
    );

    // Admins see each user's plan and balance as they stand, a page at a time; looking
    // renews nobody's plan (bob, who never asked, has no grant yet).
    let bob = user(&api, "bob@example.com").await;
    let bob_id = user_id(&api, &bob).await;
    let (status, users) = api.get("/v1/admin/users", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{users}");
    let row = |id: &str| {
        users
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} is not in {users}"))
    };
    assert_eq!(
        (&row(&alice_id)["plan"], &row(&alice_id)["balance"]),
        (&json!("pro"), &json!("213.000001"))
    );
    assert_eq!(
        (&row(&bob_id)["plan"], &row(&bob_id)["balance"]),
        (&json!("free"), &json!("0"))
    );
    let mut paged = Vec::new();
    let mut after = String::new();
    loop {
        let path = match after.as_str() {
            "" => "/v1/admin/users?limit=1".to_string(),
            id => format!("/v1/admin/users?limit=1&after={id}"),
        };
        let (_, page) = api.get(&path, Some(&admin)).await;
        let page = page.as_array().unwrap().clone();
        assert!(page.len() <= 1, "{page:?}");
        let Some(u) = page.first() else { break };
        after = u["id"].as_str().unwrap().to_string();
        paged.push(after.clone());
    }
    let all: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        paged, all,
        "pages of one walk the same users in the same order"
    );
    for bad in ["limit=0", "limit=501", "limit=-1"] {
        let res = api
            .get(&format!("/v1/admin/users?{bad}"), Some(&admin))
            .await;
        assert_eq!(res.0, StatusCode::BAD_REQUEST, "{bad}: {:?}", res.1);
    }
    assert_eq!(
        api.get("/v1/admin/users", Some(&bob)).await.0,
        StatusCode::FORBIDDEN
    );

    balanced(&state).await;
}

async fn switch(api: &Api, token: &str, plan: &str) -> (StatusCode, Value) {
    api.send(
        "PUT",
        "/v1/billing/plan",
        Some(token),
        Some(json!({ "plan": plan }).to_string()),
    )
    .await
}

/// Plan switches never mint credits: four switches within one second each post their own
/// transaction (none is dropped as a replay while the plan changes anyway), every upgrade pays
/// its price, and twenty racing switches are applied one at a time, each a whole.
async fn plan_switches_never_mint_credits(url: String) {
    let (clock, api, state) = server(&url).await;
    let admin = admin_token(&api, &state).await;
    let eve = user(&api, "eve@example.com").await;
    let eve_id = user_id(&api, &eve).await;
    top_up(&api, &admin, &eve_id, "85").await;
    assert_eq!(balance(&api, &eve).await, "100");

    // Within one second: free -> pro -> free -> unlimited -> free. The grants come and go;
    // the prices of Pro and Unlimited for half a month (9 and 29) stay paid.
    for plan in ["pro", "free", "unlimited", "free"] {
        let res = switch(&api, &eve, plan).await;
        assert_eq!(res.0, StatusCode::OK, "{plan}: {}", res.1);
    }
    assert_eq!(balance(&api, &eve).await, "62");
    let (_, txs) = api.get("/v1/billing/transactions", Some(&eve)).await;
    let switches = txs
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["kind"] == "plan_switch")
        .count();
    assert_eq!(switches, 4, "one transaction per switch: {txs}");

    // An upgrade the wallet cannot pay for is refused whole: plan and balance unchanged.
    adjust(&api, &admin, &eve_id, "-60").await;
    let poor = switch(&api, &eve, "unlimited").await;
    error(&poor, StatusCode::PAYMENT_REQUIRED, "insufficient_credits");
    let (_, plan) = api.get("/v1/billing/plan", Some(&eve)).await;
    assert_eq!(plan["plan"], "free");
    assert_eq!(balance(&api, &eve).await, "2");

    // Twenty switches race (a second later). However they interleave, each that succeeds is
    // one whole transaction: the balance moves by exactly the sum of what they said they did,
    // and once back on Free, the grants have come and gone and only the prices stay paid.
    top_up(&api, &admin, &eve_id, "998").await;
    clock.0.store(MID_NOVEMBER + 1, Ordering::SeqCst);
    let mut racers = Vec::new();
    for i in 0..20 {
        let (api, eve) = (api.clone(), eve.clone());
        let plan = ["pro", "free", "unlimited"][i % 3];
        racers.push(tokio::spawn(async move { switch(&api, &eve, plan).await }));
    }
    let mut done = Vec::new();
    for r in racers {
        let (status, body) = r.await.unwrap();
        match status {
            StatusCode::OK => done.push(body),
            StatusCode::CONFLICT => assert_eq!(body["error"]["kind"], "conflict", "{body}"),
            other => panic!("{other}: {body}"),
        }
    }
    assert!(done.len() >= 2, "some switches went through");
    if api.get("/v1/billing/plan", Some(&eve)).await.1["plan"] != "free" {
        let back = switch(&api, &eve, "free").await;
        assert_eq!(back.0, StatusCode::OK, "{}", back.1);
        done.push(back.1);
    }
    let sum = |field: &str| -> Credits {
        done.iter()
            .map(|d| d[field].as_str().unwrap().parse::<Credits>().unwrap())
            .sum()
    };
    assert_eq!(
        sum("prorated"),
        Credits::ZERO,
        "grants came and went: {done:?}"
    );
    assert!(sum("price") > Credits::ZERO, "upgrades were paid: {done:?}");
    assert_eq!(
        balance(&api, &eve).await,
        Credits::whole(1000)
            .checked_add(sum("net"))
            .unwrap()
            .to_string(),
        "the balance moved by what the switches said, no more: {done:?}"
    );
    let (_, txs) = api.get("/v1/billing/transactions", Some(&eve)).await;
    let switches = txs
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["kind"] == "plan_switch")
        .count();
    assert_eq!(
        switches,
        4 + done.len(),
        "one transaction per switch: {txs}"
    );
    balanced(&state).await;
}

/// Forty charges of one credit race for a balance of fifteen: exactly fifteen get through, the
/// balance ends at zero, and a replayed charge (same key) changes nothing.
async fn racing_charges_never_overspend(url: String) {
    let (_, api, state) = server(&url).await;
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
    balanced(&state).await;
    let _: Value = api.get("/v1/billing/transactions", Some(&bob)).await.1;
}

/// With billing on, a create must fit the creator's plan and is paid for (its first hour and its
/// disk) before it is made; a resize must fit too; a create the balance cannot cover, or the
/// backend refuses, costs nothing and leaves nothing.
async fn plans_and_payment_hold_creates_and_resizes(url: String) {
    let (api, state) = billing_server(&url).await;
    let admin = admin_token(&api, &state).await;
    let carol = user(&api, "carol@example.com").await;
    let carol_id = user_id(&api, &carol).await;
    let create = |name: &str, cpus: f64, image: &str| json!({"name": name, "image": image, "cpus": cpus, "memory": 1_000_000_000u64});

    // A dry run says it all and does nothing.
    let (status, dry) = api
        .post(
            "/v1/instances/dry-run",
            Some(&carol),
            create("web", 1.0, "img"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{dry}");
    assert_eq!(
        (
            &dry["placement"],
            &dry["within_plan"],
            &dry["hourly"],
            &dry["due_now"],
            &dry["balance"]
        ),
        (
            &json!("direct"),
            &json!(true),
            &json!("0.8"),
            &json!("0.8"),
            &json!("15")
        ),
        "{dry}"
    );
    let (status, web) = api
        .post("/v1/instances", Some(&carol), create("web", 1.0, "img"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{web}");
    let (_, dry) = api
        .post(
            "/v1/instances/dry-run",
            Some(&carol),
            create("big", 1.5, "img"),
        )
        .await;
    assert_eq!(dry["within_plan"], false, "{dry}");
    assert!(
        dry["plan_message"]
            .as_str()
            .unwrap()
            .contains("free plan allows 2 of cpu"),
        "{dry}"
    );
    // 0.5 an instance-hour + 0.2 a core-hour + 0.1 a GB-hour, paid up front.
    assert_eq!(balance(&api, &carol).await, "14.2");

    let over = api
        .post("/v1/instances", Some(&carol), create("big", 1.5, "img"))
        .await;
    assert!(
        refused(&over).contains("free plan allows 2 of cpu"),
        "{}",
        over.1
    );
    let id = web["id"].as_str().unwrap();
    let grow = api
        .post(
            &format!("/v1/instances/{id}/resize"),
            Some(&carol),
            json!({"cpus": 3.0}),
        )
        .await;
    error(&grow, StatusCode::FORBIDDEN, "quota_exceeded");
    let fits = api
        .post(
            &format!("/v1/instances/{id}/resize"),
            Some(&carol),
            json!({"cpus": 1.5}),
        )
        .await;
    assert_eq!(fits.0, StatusCode::OK, "{}", fits.1);

    // The backend refuses it: nothing is charged.
    let (status, _) = api
        .post(
            "/v1/instances",
            Some(&carol),
            create("ghost", 0.0 + 0.001, "no-such-image"),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(balance(&api, &carol).await, "14.2");

    // Not enough credits: refused before anything is made.
    adjust(&api, &admin, &carol_id, "-14").await;
    let poor = api
        .post("/v1/instances", Some(&carol), create("poor", 0.001, "img"))
        .await;
    error(&poor, StatusCode::PAYMENT_REQUIRED, "insufficient_credits");
    let (_, list) = api.get("/v1/instances", Some(&carol)).await;
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["web"]);
    assert_eq!(balance(&api, &carol).await, "0.2");
    balanced(&state).await;
}

/// An organization's instances together are held to the plan of whoever made it, whatever the
/// plans of the members who create them: at create, in a dry run and at resize.
async fn organizations_are_held_to_their_creators_plan(url: String) {
    let (api, _state) = billing_server(&url).await;
    let team = common::team(&api).await;
    let to_pro = |token: String| {
        let api = &api;
        async move {
            let (status, body) = api
                .send(
                    "PUT",
                    "/v1/billing/plan",
                    Some(&token),
                    Some(json!({"plan": "pro"}).to_string()),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
    };
    // Bob is on Pro (4 cores); Acme was made by Alice, on Free (2 cores).
    to_pro(team.bob.clone()).await;
    let create = |name: &str, cpus: f64, org: Option<&str>| json!({"name": name, "image": "img", "cpus": cpus, "memory": 500_000_000u64, "org_id": org});
    let (status, first) = api
        .post(
            "/v1/instances",
            Some(&team.bob),
            create("first", 1.5, Some(&team.org)),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let org_full = "this organization's instances together: the free plan allows 2 of cpu";
    let over = api
        .post(
            "/v1/instances",
            Some(&team.bob),
            create("second", 1.0, Some(&team.org)),
        )
        .await;
    assert!(refused(&over).contains(org_full), "{}", over.1);
    let (_, dry) = api
        .post(
            "/v1/instances/dry-run",
            Some(&team.bob),
            create("second", 1.0, Some(&team.org)),
        )
        .await;
    assert_eq!(dry["within_plan"], false, "{dry}");
    assert!(
        dry["plan_message"].as_str().unwrap().contains(org_full),
        "{dry}"
    );
    // Alice's own instance in Acme counts too, though she made none of Bob's.
    let alice_in = api
        .post(
            "/v1/instances",
            Some(&team.alice),
            create("alices", 1.0, Some(&team.org)),
        )
        .await;
    error(&alice_in, StatusCode::FORBIDDEN, "quota_exceeded");
    // Bob's plan still has room outside Acme.
    let (status, own) = api
        .post("/v1/instances", Some(&team.bob), create("own", 1.0, None))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{own}");
    let id = first["id"].as_str().unwrap();
    let grow = api
        .post(
            &format!("/v1/instances/{id}/resize"),
            Some(&team.bob),
            json!({"cpus": 2.5}),
        )
        .await;
    assert!(refused(&grow).contains(org_full), "{}", grow.1);
    // Alice moves to Pro: Acme may hold 4 cores.
    to_pro(team.alice.clone()).await;
    let (status, second) = api
        .post(
            "/v1/instances",
            Some(&team.bob),
            create("second", 1.0, Some(&team.org)),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    // Bob now holds 3.5 of his own 4 cores, in two organizations: his plan is the limit.
    let mine = api
        .post(
            "/v1/instances",
            Some(&team.bob),
            create("third", 1.0, Some(&team.org)),
        )
        .await;
    assert!(
        refused(&mine).starts_with("the pro plan allows 4 of cpu"),
        "{}",
        mine.1
    );
}

/// How many mails reached `to` with `subject` (waiting a little for the first).
async fn mails_to(to: &str, subject: &str) -> usize {
    let maildir = common::from_test_script("NUBES_TEST_MAILDIR");
    let mut found = 0;
    for _ in 0..100 {
        found = ["new", "cur"]
            .iter()
            .filter_map(|d| std::fs::read_dir(std::path::Path::new(&maildir).join(d)).ok())
            .flat_map(|entries| entries.flatten())
            .filter(|e| {
                let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                text.lines()
                    .any(|l| l.eq_ignore_ascii_case(&format!("to: {to}")))
                    && text.contains(subject)
            })
            .count();
        if found > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    found
}

async fn metered_server(
    url: &str,
    clock: Arc<Manual>,
    compute: Arc<nubes::memory::MemoryCompute>,
) -> (Api, nubes_server::AppState) {
    let config = nubes_server::Config {
        database_url: url.to_string(),
        usage_journal: journal_of(url),
        billing: true,
        // Low-balance alerts go by email through the SMTP server the test script starts.
        smtp_url: Some(common::from_test_script("NUBES_TEST_SMTP_URL")),
        ..Default::default()
    };
    let backends = nubes_server::Backends {
        clock: Some(clock),
        ..nubes_server::Backends::of(&nubes::Cloud::new("memory").with_compute(compute))
    };
    let state = nubes_server::state_with(&config, backends).await.unwrap();
    (
        Api {
            app: nubes_server::app(state.clone()),
        },
        state,
    )
}

/// Running instances are charged per second of server time, exactly, after the hour paid at
/// create; nothing twice across a restart; an empty wallet stops what it pays for.
async fn metering_charges_running_time_exactly(url: String) {
    let clock = Arc::new(Manual(AtomicI64::new(MID_NOVEMBER)));
    let compute = Arc::new(nubes::memory::MemoryCompute::new().with_image("img"));
    let (api, state) = metered_server(&url, clock.clone(), compute.clone()).await;
    let admin = admin_token(&api, &state).await;
    // The maildir is shared between runs: an address of this run's own.
    let email = format!("dave-{}@example.com", fastrand::u32(..));
    let dave = user(&api, &email).await;
    let dave_id = user_id(&api, &dave).await;
    let size = nubes_billing::Resources::new(1000, 1_000_000_000, 0, 0);
    let prices = nubes_billing::Prices::default();
    let body = json!({"name": "web", "image": "img", "cpus": 1.0, "memory": 1_000_000_000u64});
    let (status, web) = api.post("/v1/instances", Some(&dave), body).await;
    assert_eq!(status, StatusCode::CREATED, "{web}");
    let id = web["id"].as_str().unwrap().to_string();
    let at = |secs: i64| clock.0.store(MID_NOVEMBER + secs, Ordering::SeqCst);
    let expect = |secs: u64| {
        // The grant, less what `secs` of running cost (the first hour paid up front).
        Credits::whole(15)
            .checked_sub(prices.accrued(size, secs).total().max(prices.hourly(size)))
            .unwrap()
            .to_string()
    };

    // Within the paid hour, nothing more is charged.
    at(1800);
    state.instances.meter().await.unwrap();
    assert_eq!(balance(&api, &dave).await, "14.2");
    // Irregular ticks over five hours: the formula, to the micro-credit.
    let mut t = 1800;
    let mut i = 0;
    while t < 5 * 3600 {
        i += 1;
        t += 13 + (i * 7919) % 211;
        at(t);
        state.instances.meter().await.unwrap();
    }
    assert_eq!(balance(&api, &dave).await, expect(t as u64));
    // A stop settles up to it; afterwards nothing accrues.
    at(t + 17);
    assert_eq!(
        api.post(&format!("/v1/instances/{id}/stop"), Some(&dave), json!({}))
            .await
            .0,
        StatusCode::OK
    );
    let stopped_at = t + 17;
    assert_eq!(balance(&api, &dave).await, expect(stopped_at as u64));
    at(stopped_at + 3600);
    state.instances.meter().await.unwrap();
    assert_eq!(balance(&api, &dave).await, expect(stopped_at as u64));

    // The usage report: the same, by resource, for the day it ran.
    let (status, usage) = api
        .get(
            "/v1/billing/usage?from=2026-11-16&to=2026-11-16",
            Some(&dave),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{usage}");
    let want = prices.accrued(size, stopped_at as u64);
    assert_eq!(usage["total"]["total"], want.total().to_string(), "{usage}");
    assert_eq!(usage["total"]["cpu"], want.cpu.to_string());
    assert_eq!(usage["days"][0]["name"], "web");
    assert_eq!(usage["days"].as_array().unwrap().len(), 1);
    let bad = api
        .get("/v1/billing/usage?from=2026-13-01", Some(&dave))
        .await;
    error(&bad, StatusCode::BAD_REQUEST, "invalid_input");

    // A restarted server ticks the same second again, and replays its whole usage journal (as
    // if it had never noted how far it applied it): nothing is charged twice.
    let journal = journal_of(&url).unwrap_or_else(|| {
        let file = url.strip_prefix("sqlite://").unwrap();
        std::path::PathBuf::from(format!("{file}.usage-journal"))
    });
    std::fs::remove_file(journal.join("released")).unwrap();
    let (api2, state2) = metered_server(&url, clock.clone(), compute.clone()).await;
    state2.instances.meter().await.unwrap();
    state2.instances.meter().await.unwrap();
    state2.instances.meter().await.unwrap();
    assert_eq!(balance(&api2, &dave).await, expect(stopped_at as u64));

    // Started again with a nearly empty wallet: it runs until the wallet is empty, then stops.
    let left: Credits = balance(&api2, &dave).await.parse().unwrap();
    adjust(
        &api2,
        &admin,
        &dave_id,
        &format!("-{}", left.checked_sub("5.3".parse().unwrap()).unwrap()),
    )
    .await;
    assert_eq!(balance(&api2, &dave).await, "5.3");
    let mut told = state2.events.subscribe();
    assert_eq!(
        api2.post(&format!("/v1/instances/{id}/start"), Some(&dave), json!({}))
            .await
            .0,
        StatusCode::OK
    );
    let mut now = stopped_at + 3600;
    // An hour a tick, 0.8 credits each: below 5, below 1, then empty.
    for _ in 0..8 {
        now += 3600;
        at(now);
        state2.instances.meter().await.unwrap();
    }
    let mut alerts = Vec::new();
    while let Ok(e) = told.try_recv() {
        if e.user_id.as_deref() == Some(dave_id.as_str())
            || e.kind == "billing.insufficient_credits"
        {
            alerts.push(e.kind.clone());
        }
    }
    assert_eq!(
        alerts,
        [
            "billing.low_balance",
            "billing.low_balance",
            "billing.insufficient_credits"
        ],
        "told at 5, at 1, and stopped at 0"
    );
    assert_eq!(mails_to(&email, "credits are running low").await, 2);
    let (_, got) = api2.get(&format!("/v1/instances/{id}"), Some(&dave)).await;
    assert_eq!(
        got["state"], "stopped",
        "an empty wallet stops its instances: {got}"
    );
    let b: Credits = balance(&api2, &dave).await.parse().unwrap();
    assert!(b <= Credits::ZERO && b > "-0.8".parse().unwrap(), "{b}");
    balanced(&state2).await;
}

/// Every lifecycle path that makes an instance run keeps its meter open: create, start,
/// restart of a stopped instance, a resize while running, and an instance the backend runs
/// without a transition passing through the server (an agent adopting it after a reconnect,
/// a move, a restart policy, a crash between the engine's answer and the journal). Each path
/// is followed by an hour of ticks, and each hour is charged exactly once.
async fn every_path_that_runs_an_instance_is_metered(url: String) {
    let clock = Arc::new(Manual(AtomicI64::new(MID_NOVEMBER)));
    let compute = Arc::new(nubes::memory::MemoryCompute::new().with_image("img"));
    let (api, state) = metered_server(&url, clock.clone(), compute.clone()).await;
    let fay = user(&api, &format!("fay-{}@example.com", fastrand::u32(..))).await;
    let body = json!({"name": "web", "image": "img", "cpus": 1.0, "memory": 1_000_000_000u64});
    let (status, web) = api.post("/v1/instances", Some(&fay), body).await;
    assert_eq!(status, StatusCode::CREATED, "{web}");
    let id = web["id"].as_str().unwrap().to_string();
    let backend = nubes::Compute::list(compute.as_ref(), Default::default())
        .await
        .unwrap()[0]
        .name
        .clone();
    let mut now = 0;
    let mut hour = |state: &nubes_server::AppState| {
        now += 3600;
        clock.0.store(MID_NOVEMBER + now, Ordering::SeqCst);
        let instances = state.instances.clone();
        async move {
            // Two ticks in the hour: the first notices, the second charges.
            instances.meter().await.unwrap();
        }
    };
    let op = |verb: &str| {
        let (api, fay, path) = (
            api.clone(),
            fay.clone(),
            format!("/v1/instances/{id}/{verb}"),
        );
        async move {
            let (status, body) = api.post(&path, Some(&fay), json!({})).await;
            assert_eq!(status, StatusCode::OK, "{path}: {body}");
        }
    };
    // 0.5 an instance-hour, 0.2 a core-hour, 0.1 a GB-hour; the first hour paid at create.
    let mut expected: Credits = "14.2".parse().unwrap();
    let one_core: Credits = "0.8".parse().unwrap();
    hour(&state).await;
    assert_eq!(balance(&api, &fay).await, expected.to_string(), "created");

    op("stop").await;
    op("start").await;
    hour(&state).await;
    expected = expected.checked_sub(one_core).unwrap();
    assert_eq!(balance(&api, &fay).await, expected.to_string(), "started");

    op("stop").await;
    op("restart").await;
    hour(&state).await;
    expected = expected.checked_sub(one_core).unwrap();
    assert_eq!(balance(&api, &fay).await, expected.to_string(), "restarted");

    op("stop").await;
    // The backend runs it again by itself; the next tick sees it running and meters it.
    nubes::Compute::start(compute.as_ref(), &backend)
        .await
        .unwrap();
    state.instances.meter().await.unwrap();
    hour(&state).await;
    expected = expected.checked_sub(one_core).unwrap();
    assert_eq!(
        balance(&api, &fay).await,
        expected.to_string(),
        "run behind the server's back"
    );

    let (status, body) = api
        .post(
            &format!("/v1/instances/{id}/resize"),
            Some(&fay),
            json!({"cpus": 2.0}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    hour(&state).await;
    expected = expected.checked_sub("1".parse().unwrap()).unwrap();
    assert_eq!(balance(&api, &fay).await, expected.to_string(), "resized");

    // Stopped, nothing accrues.
    op("stop").await;
    hour(&state).await;
    assert_eq!(balance(&api, &fay).await, expected.to_string(), "stopped");
}

/// Admission is atomic per user and per organization: eight one-cpu creates racing on a
/// two-cpu plan admit exactly two; a create refused because its name is taken is charged
/// nothing, however often it is retried.
/// With instances that come in sizes (EC2 types), plans count and billing charges the size an
/// instance gets, not the smaller one asked for: what is enforced is what is billed.
async fn sized_instances_are_billed_at_the_size_they_get(url: String) {
    let clock = Arc::new(Manual(AtomicI64::new(MID_NOVEMBER)));
    let endpoint = common::from_test_script("NUBES_TEST_AWS_ENDPOINT");
    let group = std::process::Command::new(common::from_test_script("NUBES_TEST_AWS_PYTHON"))
        .args(["-c", &format!(
            "import boto3, uuid; ec2 = boto3.client('ec2', endpoint_url='{endpoint}', region_name='us-east-1')\n\
             print(ec2.create_security_group(GroupName='nubes-' + uuid.uuid4().hex, Description='tenants')['GroupId'])"
        )])
        .output()
        .unwrap();
    let group = String::from_utf8(group.stdout).unwrap().trim().to_string();
    let config = nubes_server::Config {
        compute: Some(format!(
            "aws://us-east-1?endpoint={endpoint}&security_group={group}&image_owners=amazon"
        )),
        billing: true,
        ..Default::default()
    };
    let (api, state) = server_with(&url, clock, config).await;
    let admin = admin_token(&api, &state).await;
    let dora = user(&api, "dora@example.com").await;
    top_up(&api, &admin, &user_id(&api, &dora).await, "100").await;
    let ami = std::process::Command::new(common::from_test_script("NUBES_TEST_AWS_PYTHON"))
        .args(["-c", &format!(
            "import boto3; print(boto3.client('ec2', endpoint_url='{endpoint}', region_name='us-east-1').describe_images(Owners=['amazon'])['Images'][0]['ImageId'])"
        )])
        .output()
        .unwrap();
    let ami = String::from_utf8(ami.stdout).unwrap().trim().to_string();
    let ask = |cpus: f64, memory: u64| json!({"name": "web", "image": ami, "cpus": cpus, "memory": memory});
    let (_, small) = api
        .post("/v1/instances/dry-run", Some(&dora), ask(0.5, 64 << 20))
        .await;
    // A t3.nano: two vCPUs and 512 MiB, whatever less was asked for.
    let (_, nano) = api
        .post("/v1/instances/dry-run", Some(&dora), ask(2.0, 512 << 20))
        .await;
    assert_eq!(small["hourly"], nano["hourly"], "{small} {nano}");
    assert_eq!(small["within_plan"], json!(true), "{small}");
    {
        let (status, made) = api
            .post("/v1/instances", Some(&dora), ask(0.5, 64 << 20))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{made}");
        assert_eq!(
            (&made["cpus"], &made["memory"]),
            (&json!(2.0), &json!(512u64 << 20)),
            "{made}"
        );
        let id = made["id"].as_str().unwrap();
        api.post(&format!("/v1/instances/{id}/stop"), Some(&dora), json!({}))
            .await;
        let (status, _) = api
            .delete(&format!("/v1/instances/{id}"), Some(&dora))
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
    balanced(&state).await;
}

async fn creates_are_admitted_one_at_a_time(url: String) {
    let (api, state) = billing_server(&url).await;
    let gil = user(&api, "gil@example.com").await;
    let mut racers = Vec::new();
    for i in 0..8 {
        let (api, gil) = (api.clone(), gil.clone());
        racers.push(tokio::spawn(async move {
            let body = json!({"name": format!("w{i}"), "image": "img", "cpus": 1.0, "memory": 100_000_000u64});
            api.post("/v1/instances", Some(&gil), body).await
        }));
    }
    let mut made = 0;
    for r in racers {
        let res = r.await.unwrap();
        match res.0 {
            StatusCode::CREATED => made += 1,
            _ => assert!(
                refused(&res).contains("free plan allows 2 of cpu"),
                "{}",
                res.1
            ),
        }
    }
    assert_eq!(made, 2, "a two-cpu plan holds two one-cpu instances");
    let (_, list) = api.get("/v1/instances", Some(&gil)).await;
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
    // Each made one paid its first hour: 0.5 + 0.2 + 0.01 (0.1 GB).
    assert_eq!(balance(&api, &gil).await, "13.58");

    // With room again, a name that is taken: refused, and free, every time.
    let (_, list) = api.get("/v1/instances", Some(&gil)).await;
    let taken = list[0]["name"].as_str().unwrap().to_string();
    let other = list[1]["id"].as_str().unwrap();
    let gone = api
        .delete(&format!("/v1/instances/{other}?force=true"), Some(&gil))
        .await;
    assert_eq!(gone.0, StatusCode::NO_CONTENT, "{}", gone.1);
    for _ in 0..3 {
        let body = json!({"name": taken, "image": "img", "cpus": 0.1, "memory": 10_000_000u64});
        let res = api.post("/v1/instances", Some(&gil), body).await;
        error(&res, StatusCode::CONFLICT, "already_exists");
    }
    assert_eq!(balance(&api, &gil).await, "13.58");
    balanced(&state).await;
}

/// Functions are inside billing: each invocation is paid by its invoker for its size over the
/// seconds it ran (at the instance prices, at least one second), the most it could cost held
/// first; one that size does not fit the deployer's plan is refused, as is an invocation the
/// wallet cannot cover (before it runs); an unset timeout is the default.
async fn functions_are_metered_per_invocation(url: String) {
    let clock = Arc::new(Manual(AtomicI64::new(MID_NOVEMBER)));
    let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = runs.clone();
    let function = nubes::memory::MemoryFunction::new().with_handler("upper", move |b| {
        counted.fetch_add(1, Ordering::SeqCst);
        Ok(nubes::Bytes::from(
            String::from_utf8_lossy(&b).to_uppercase(),
        ))
    });
    let config = nubes_server::Config {
        database_url: url.to_string(),
        usage_journal: journal_of(&url),
        billing: true,
        ..Default::default()
    };
    let backends = nubes_server::Backends {
        clock: Some(clock),
        ..nubes_server::Backends::of(&nubes::Cloud::new("memory").with_function(Arc::new(function)))
    };
    let state = nubes_server::state_with(&config, backends).await.unwrap();
    let api = Api {
        app: nubes_server::app(state.clone()),
    };
    let admin = admin_token(&api, &state).await;
    let hal = user(&api, "hal@example.com").await;
    let hal_id = user_id(&api, &hal).await;

    let huge = json!({"name": "big", "image": "img", "handler": ["upper"], "memory": 32u64 << 30});
    let res = api.post("/v1/functions", Some(&hal), huge).await;
    assert!(
        refused(&res).contains("free plan allows 2 GB of memory"),
        "{}",
        res.1
    );
    let spec = json!({"name": "up", "image": "img", "handler": ["upper"], "cpus": 1.0, "memory": 1_000_000_000u64});
    let (status, f) = api.post("/v1/functions", Some(&hal), spec).await;
    assert_eq!(status, StatusCode::CREATED, "{f}");
    assert_eq!(f["timeout_secs"], 60, "the default timeout: {f}");

    let (status, out) = api
        .send_raw("POST", "/v1/functions/up/invoke", Some(&hal), &[], "hi")
        .await
        .json();
    assert_eq!(status, StatusCode::OK, "{out}");
    // One second of 1 cpu and 1 GB: (0.5 + 0.2 + 0.1) / 3600, rounded up, per resource.
    let prices = nubes_billing::Prices::default();
    let one = prices
        .accrued(nubes_billing::Resources::new(1000, 1_000_000_000, 0, 0), 1)
        .total();
    assert_eq!(
        balance(&api, &hal).await,
        Credits::whole(15).checked_sub(one).unwrap().to_string()
    );
    assert_eq!(runs.load(Ordering::SeqCst), 1);

    // A wallet that cannot cover the timeout's worth is refused before the function runs.
    let left: Credits = balance(&api, &hal).await.parse().unwrap();
    adjust(&api, &admin, &hal_id, &format!("-{left}")).await;
    let poor = api
        .send_raw("POST", "/v1/functions/up/invoke", Some(&hal), &[], "hi")
        .await
        .json();
    error(&poor, StatusCode::PAYMENT_REQUIRED, "insufficient_credits");
    assert_eq!(runs.load(Ordering::SeqCst), 1, "it did not run");
    balanced(&state).await;
}

/// Usage is reported on the day it ran: a tick across midnight, or after a server was down for
/// a day, splits what it settles by UTC day, and the days add up to the whole exactly.
async fn usage_over_midnight_is_reported_on_the_days_it_ran(url: String) {
    let midnight = MID_NOVEMBER + 86_400;
    let clock = Arc::new(Manual(AtomicI64::new(midnight - 1800)));
    let compute = Arc::new(nubes::memory::MemoryCompute::new().with_image("img"));
    let (api, state) = metered_server(&url, clock.clone(), compute).await;
    let erin = user(&api, "erin@example.com").await;
    let size = nubes_billing::Resources::new(1000, 1_000_000_000, 0, 0);
    let prices = nubes_billing::Prices::default();
    let body = json!({"name": "night", "image": "img", "cpus": 1.0, "memory": 1_000_000_000u64});
    let (status, night) = api.post("/v1/instances", Some(&erin), body).await;
    assert_eq!(status, StatusCode::CREATED, "{night}");
    let id = night["id"].as_str().unwrap();
    // One tick at 00:30, then the server is down until 02:00 the day after, then a stop.
    clock.0.store(midnight + 1800, Ordering::SeqCst);
    state.instances.meter().await.unwrap();
    let stopped_at = midnight + 86_400 + 7200;
    clock.0.store(stopped_at, Ordering::SeqCst);
    let stop = api
        .post(&format!("/v1/instances/{id}/stop"), Some(&erin), json!({}))
        .await;
    assert_eq!(stop.0, StatusCode::OK, "{}", stop.1);

    let (status, usage) = api
        .get(
            "/v1/billing/usage?from=2026-11-16&to=2026-11-18",
            Some(&erin),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{usage}");
    let days: Vec<(&str, &str)> = usage["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["day"].as_str().unwrap(),
                d["cost"]["cpu"].as_str().unwrap(),
            )
        })
        .collect();
    // Each day's share is priced on the running total, so the shares are cumulative cuts.
    let cpu = |secs: i64| prices.accrued(size, secs as u64).cpu;
    let cut = |from: i64, to: i64| cpu(to).checked_sub(cpu(from)).unwrap().to_string();
    let (ran, day2) = (stopped_at - (midnight - 1800), 1800 + 86_400);
    assert_eq!(
        days,
        [
            ("2026-11-16", cpu(1800).to_string().as_str()),
            ("2026-11-17", cut(1800, day2).as_str()),
            ("2026-11-18", cut(day2, ran).as_str()),
        ],
        "{usage}"
    );
    assert_eq!(
        usage["total"]["total"],
        prices.accrued(size, ran as u64).total().to_string(),
        "{usage}"
    );
}

/// Vouchers, the first payment provider: admins issue them (codes shown once), a user redeems a
/// code once, nobody else can, an expired one is refused, and two users racing for one code
/// cannot both have it. The ledger stays balanced throughout.
async fn vouchers_pay_once(url: String) {
    let (clock, api, state) = server(&url).await;
    let admin = admin_token(&api, &state).await;
    let carol = user(&api, "carol@example.com").await;
    let carol_id = user_id(&api, &carol).await;
    let dan = user(&api, "dan@example.com").await;

    let issue = |body: Value| api.post("/v1/admin/billing/vouchers", Some(&admin), body);
    let (status, issued) = issue(json!({"amount": "25.5", "count": 3, "memo": "conference"})).await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    let codes: Vec<String> = issued
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["code"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(codes.len(), 3);
    assert!(codes.iter().all(|c| c.starts_with("nbv_")), "{codes:?}");
    assert_eq!(issued[0]["amount"], "25.5");
    // Only admins issue, and bad requests issue nothing.
    let by_carol = api
        .post(
            "/v1/admin/billing/vouchers",
            Some(&carol),
            json!({"amount": "1000", "memo": "mine"}),
        )
        .await;
    error(&by_carol, StatusCode::FORBIDDEN, "permission_denied");
    for bad in [
        json!({"amount": "0", "memo": "x"}),
        json!({"amount": "-5", "memo": "x"}),
        json!({"amount": "5", "memo": ""}),
        json!({"amount": "5", "memo": "x", "count": 101}),
        json!({"amount": "5", "memo": "x", "expires_in_days": 0}),
        json!({"amount": "five", "memo": "x"}),
        json!({"amount": "1000000.000001", "memo": "x"}),
        json!({"amount": "5", "memo": "x", "colour": "red"}),
    ] {
        error(&issue(bad).await, StatusCode::BAD_REQUEST, "invalid_input");
    }
    // The list never shows codes again.
    let (_, listed) = api.get("/v1/admin/billing/vouchers", Some(&admin)).await;
    assert_eq!(listed.as_array().unwrap().len(), 3, "{listed}");
    assert!(!listed.to_string().contains("nbv_"), "{listed}");

    // Carol redeems one: her balance grows by exactly its worth, as a payment.
    async fn redeem(api: &Api, token: &str, code: &str) -> (StatusCode, Value) {
        let body = json!({"provider": "voucher", "token": code});
        api.post("/v1/billing/payments", Some(token), body).await
    }
    let pay = |token, code| redeem(&api, token, code);
    assert_eq!(balance(&api, &carol).await, "15");
    let (status, tx) = pay(&carol, &codes[0]).await;
    assert_eq!(status, StatusCode::CREATED, "{tx}");
    assert_eq!(
        (tx["kind"].as_str(), tx["amount"].as_str()),
        (Some("payment"), Some("25.5"))
    );
    assert_eq!(tx["memo"], "voucher: conference");
    assert_eq!(balance(&api, &carol).await, "40.5");
    // Once: not again by her, not by anyone else; her balance stays.
    error(
        &pay(&carol, &codes[0]).await,
        StatusCode::CONFLICT,
        "conflict",
    );
    let taken = pay(&dan, &codes[0]).await;
    error(&taken, StatusCode::CONFLICT, "conflict");
    assert!(
        !taken.1.to_string().contains(&codes[0]),
        "the code echoed: {}",
        taken.1
    );
    assert_eq!(balance(&api, &carol).await, "40.5");
    assert_eq!(balance(&api, &dan).await, "15");
    // Bad input loses nothing.
    let made_up = format!("nbv_{}", "a".repeat(32));
    error(
        &pay(&dan, &made_up).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    error(
        &pay(&dan, "free money").await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
    );
    let other = api
        .post(
            "/v1/billing/payments",
            Some(&dan),
            json!({"provider": "paypal", "token": codes[1]}),
        )
        .await;
    error(&other, StatusCode::BAD_REQUEST, "invalid_input");
    assert!(other.1["error"]["message"]
        .as_str()
        .unwrap()
        .contains("voucher"));

    // Two users race for one code: exactly one has it.
    let (a, b) = tokio::join!(pay(&carol, &codes[1]), pay(&dan, &codes[1]));
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::CREATED, StatusCode::CONFLICT],
        "{a:?} {b:?}"
    );
    let carol_now: Credits = balance(&api, &carol).await.parse().unwrap();
    let dan_now: Credits = balance(&api, &dan).await.parse().unwrap();
    assert_eq!(
        carol_now.checked_add(dan_now).unwrap(),
        "81".parse::<Credits>().unwrap(),
        "40.5 + 15 + one voucher of 25.5"
    );

    // An expired voucher is refused, and says when it expired.
    let (_, soon) = issue(json!({"amount": "5", "memo": "flash sale", "expires_in_days": 1})).await;
    let code = soon[0]["code"].as_str().unwrap().to_string();
    clock.0.store(MID_NOVEMBER + 86_400, Ordering::SeqCst);
    let late = pay(&dan, &code).await;
    error(&late, StatusCode::CONFLICT, "conflict");
    assert!(
        late.1["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired on 2026-11-17"),
        "{}",
        late.1
    );

    // Admins see who redeemed what; the ledger has a payments account and still balances.
    let (_, listed) = api.get("/v1/admin/billing/vouchers", Some(&admin)).await;
    let redeemed: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["redeemed_by"].as_str())
        .collect();
    assert_eq!(redeemed.len(), 2, "{listed}");
    assert!(redeemed.contains(&carol_id.as_str()));
    balanced(&state).await;
}

// The scenarios above, each on SQLite and on PostgreSQL.
on_both! {
    #[tokio::test]
    plans_grants_switches_and_top_ups_on_sqlite, plans_grants_switches_and_top_ups_on_postgres =>
        plans_grants_switches_and_top_ups;
    plans_and_payment_hold_creates_and_resizes_on_sqlite, plans_and_payment_hold_creates_and_resizes_on_postgres =>
        plans_and_payment_hold_creates_and_resizes;
    organizations_are_held_to_their_creators_plan_on_sqlite, organizations_are_held_to_their_creators_plan_on_postgres =>
        organizations_are_held_to_their_creators_plan;
    metering_charges_running_time_exactly_on_sqlite, metering_charges_running_time_exactly_on_postgres =>
        metering_charges_running_time_exactly;
    every_path_that_runs_an_instance_is_metered_on_sqlite, every_path_that_runs_an_instance_is_metered_on_postgres =>
        every_path_that_runs_an_instance_is_metered;
    functions_are_metered_per_invocation_on_sqlite, functions_are_metered_per_invocation_on_postgres =>
        functions_are_metered_per_invocation;
    usage_over_midnight_is_reported_on_the_days_it_ran_on_sqlite, usage_over_midnight_is_reported_on_the_days_it_ran_on_postgres =>
        usage_over_midnight_is_reported_on_the_days_it_ran;
    vouchers_pay_once_on_sqlite, vouchers_pay_once_on_postgres =>
        vouchers_pay_once;
    sized_instances_are_billed_at_the_size_they_get_on_sqlite, sized_instances_are_billed_at_the_size_they_get_on_postgres =>
        sized_instances_are_billed_at_the_size_they_get;
}

// The racing scenarios above, on threads that really race, each on SQLite and on PostgreSQL.
on_both! {
    #[tokio::test(flavor = "multi_thread")]
    plan_switches_never_mint_credits_on_sqlite, plan_switches_never_mint_credits_on_postgres =>
        plan_switches_never_mint_credits;
    racing_charges_never_overspend_on_sqlite, racing_charges_never_overspend_on_postgres =>
        racing_charges_never_overspend;
    creates_are_admitted_one_at_a_time_on_sqlite, creates_are_admitted_one_at_a_time_on_postgres =>
        creates_are_admitted_one_at_a_time;
}
