//! The account flows over HTTP, on SQLite and on PostgreSQL.

mod common;

use axum::http::StatusCode;
use common::*;
use nubes_auth::TotpSecret;
use serde_json::json;

async fn flows(url: &str) {
    let api = api(url).await;
    assert_eq!(api.get("/healthz", None).await.0, StatusCode::OK);
    let creds = json!({"email": "Ada@Example.com", "password": "correct horse battery"});

    // Registration and its bad input.
    let (status, user) = api.post("/v1/auth/register", None, creds.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    assert_eq!(user["email"], "ada@example.com");
    assert!(user.get("password_hash").is_none() && !user.to_string().contains("argon2"));
    error(
        &api.post("/v1/auth/register", None, creds.clone()).await,
        StatusCode::CONFLICT,
        "already_exists",
    );
    for bad in [
        json!({"email": "nope", "password": "correct horse battery"}),
        json!({"email": "b@example.com", "password": "short"}),
        json!({"email": "b@example.com", "password": "correct horse battery", "admin": true}),
        json!({"email": 42, "password": "correct horse battery"}),
    ] {
        let res = api.post("/v1/auth/register", None, bad).await;
        error(&res, StatusCode::BAD_REQUEST, "invalid_input");
    }
    error(
        &api.send("POST", "/v1/auth/register", None, Some("{not json".into()))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
    );
    error(
        &api.send("POST", "/v1/auth/register", None, None).await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
    );
    error(
        &api.get("/v1/nothing-here", None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );

    // Login: a wrong password and an unknown user look the same.
    let wrong = api
        .post(
            "/v1/auth/login",
            None,
            json!({"email": "ada@example.com", "password": "wrong horse battery"}),
        )
        .await;
    let unknown = api
        .post(
            "/v1/auth/login",
            None,
            json!({"email": "nobody@example.com", "password": "wrong horse battery"}),
        )
        .await;
    error(&wrong, StatusCode::UNAUTHORIZED, "unauthenticated");
    assert_eq!(wrong.1, unknown.1);
    let (status, tokens) = api.post("/v1/auth/login", None, creds.clone()).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let access = tokens["access_token"].as_str().unwrap().to_string();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(
        api.get("/v1/auth/me", Some(&access)).await.1["email"],
        "ada@example.com"
    );
    error(
        &api.get("/v1/auth/me", None).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    let tampered = format!("{}x", &access[..access.len() - 1]);
    error(
        &api.get("/v1/auth/me", Some(&tampered)).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );

    // Refresh rotates; replaying a spent token revokes the whole session.
    let (status, rotated) = api
        .post("/v1/auth/refresh", None, json!({"refresh_token": refresh}))
        .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let access2 = rotated["access_token"].as_str().unwrap().to_string();
    assert_ne!(rotated["refresh_token"], refresh);
    assert_eq!(
        api.get("/v1/auth/me", Some(&access2)).await.0,
        StatusCode::OK
    );
    error(
        &api.post("/v1/auth/refresh", None, json!({"refresh_token": refresh}))
            .await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    error(
        &api.get("/v1/auth/me", Some(&access2)).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    error(
        &api.post(
            "/v1/auth/refresh",
            None,
            json!({"refresh_token": rotated["refresh_token"]}),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    error(
        &api.post(
            "/v1/auth/refresh",
            None,
            json!({"refresh_token": "garbage"}),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );

    // Logout ends the session at once.
    let access = api.login(&creds).await;
    assert_eq!(
        api.post("/v1/auth/logout", Some(&access), json!({}))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    error(
        &api.get("/v1/auth/me", Some(&access)).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );

    // TOTP: enrol, confirm, then login needs a code, and each code works once.
    let access = api.login(&creds).await;
    error(
        &api.post(
            "/v1/auth/totp/confirm",
            Some(&access),
            json!({"code": "123456"}),
        )
        .await,
        StatusCode::CONFLICT,
        "conflict",
    );
    let (status, enrol) = api.post("/v1/auth/totp", Some(&access), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{enrol}");
    assert!(enrol["otpauth_uri"]
        .as_str()
        .unwrap()
        .starts_with("otpauth://totp/Nubes:ada%40example.com?secret="));
    let secret = TotpSecret::from_base32(enrol["secret"].as_str().unwrap()).unwrap();
    let now = unix_now();
    let wrong_code = if secret.code_at(now) == "000000" {
        "000001"
    } else {
        "000000"
    };
    error(
        &api.post(
            "/v1/auth/totp/confirm",
            Some(&access),
            json!({"code": wrong_code}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
    );
    let (status, me) = api
        .post(
            "/v1/auth/totp/confirm",
            Some(&access),
            json!({"code": secret.code_at(now)}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["totp_enabled"], true);
    assert!(
        !me.to_string().contains(enrol["secret"].as_str().unwrap()),
        "the secret came back"
    );

    let (status, challenge) = api.post("/v1/auth/login", None, creds.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(challenge.get("access_token").is_none(), "{challenge}");
    assert_eq!(challenge["methods"], json!(["totp"]));
    let challenge_token = challenge["challenge_token"].as_str().unwrap();
    error(
        &api.get("/v1/auth/me", Some(challenge_token)).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    // The code used to confirm enrolment is spent; the next step's code is fresh.
    let used = json!({"challenge_token": challenge_token, "code": secret.code_at(now)});
    error(
        &api.post("/v1/auth/verify-otp", None, used).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    let next = json!({"challenge_token": challenge_token, "code": secret.code_at(now + 30)});
    let (status, tokens) = api.post("/v1/auth/verify-otp", None, next.clone()).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(
        api.get("/v1/auth/me", tokens["access_token"].as_str())
            .await
            .0,
        StatusCode::OK
    );
    error(
        &api.post("/v1/auth/verify-otp", None, next).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    let forged = json!({"challenge_token": access, "code": secret.code_at(now + 60)});
    error(
        &api.post("/v1/auth/verify-otp", None, forged).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );

    // A restart keeps users, sessions and the token secret.
    let restarted = self::api(url).await;
    let (status, me) = restarted
        .get("/v1/auth/me", tokens["access_token"].as_str())
        .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["totp_enabled"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_logins_lock_accounts_and_addresses_are_limited() {
    on_sqlite(|url| async move {
        let api = api(&url).await;
        user(&api, "alice@example.com").await;
        user(&api, "bob@example.com").await;
        let wrong = json!({"email": "alice@example.com", "password": "wrong horse battery"});
        for _ in 0..5 {
            error(
                &api.post("/v1/auth/login", None, wrong.clone()).await,
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
            );
        }
        let right = json!({"email": "alice@example.com", "password": "correct horse battery"});
        let locked = api.post("/v1/auth/login", None, right).await;
        error(&locked, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
        assert!(
            locked.1["error"]["message"]
                .as_str()
                .unwrap()
                .contains("try again in"),
            "{}",
            locked.1
        );
        // Unknown accounts lock the same way, so a lock reveals nothing.
        let ghost = json!({"email": "ghost@example.com", "password": "wrong horse battery"});
        for _ in 0..5 {
            api.post("/v1/auth/login", None, ghost.clone()).await;
        }
        error(
            &api.post("/v1/auth/login", None, ghost).await,
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
        );
        let bob = json!({"email": "bob@example.com", "password": "correct horse battery"});
        assert_eq!(
            api.post("/v1/auth/login", None, bob).await.0,
            StatusCode::OK,
            "other accounts are unaffected"
        );

        // Twenty guesses at once from one address: five are evaluated, the rest wait, and
        // the owner signing in from elsewhere is not locked out by them.
        user(&api, "dora@example.com").await;
        let mut racers = Vec::new();
        for _ in 0..20 {
            let api = api.clone();
            racers.push(tokio::spawn(async move {
                let guess = json!({"email": "dora@example.com", "password": "wrong horse battery"});
                api.send_from("198.51.100.9", "POST", "/v1/auth/login", guess)
                    .await
                    .0
            }));
        }
        let mut statuses = Vec::new();
        for r in racers {
            statuses.push(r.await.unwrap());
        }
        let evaluated = statuses
            .iter()
            .filter(|s| **s == StatusCode::UNAUTHORIZED)
            .count();
        assert_eq!(evaluated, 5, "{statuses:?}");
        assert_eq!(
            statuses
                .iter()
                .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
                .count(),
            15
        );
        let dora = json!({"email": "dora@example.com", "password": "correct horse battery"});
        assert_eq!(
            api.send_from("198.51.100.10", "POST", "/v1/auth/login", dora)
                .await
                .0,
            StatusCode::OK,
            "the owner, elsewhere, signs in"
        );

        // One address may only try so often, whatever the outcome.
        for i in 0..30 {
            let body =
                json!({"email": format!("not-an-email-{i}"), "password": "correct horse battery"});
            error(
                &api.send_from("203.0.113.7", "POST", "/v1/auth/register", body)
                    .await,
                StatusCode::BAD_REQUEST,
                "invalid_input",
            );
        }
        let body = json!({"email": "late@example.com", "password": "correct horse battery"});
        error(
            &api.send_from("203.0.113.7", "POST", "/v1/auth/register", body.clone())
                .await,
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
        );
        assert_eq!(
            api.send_from("203.0.113.8", "POST", "/v1/auth/register", body)
                .await
                .0,
            StatusCode::CREATED
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn otp_guesses_lock_the_challenge() {
    on_sqlite(|url| async move {
        let api = api(&url).await;
        let access = user(&api, "carol@example.com").await;
        let enrol = api.post("/v1/auth/totp", Some(&access), json!({})).await.1;
        let secret = TotpSecret::from_base32(enrol["secret"].as_str().unwrap()).unwrap();
        let now = unix_now();
        api.post(
            "/v1/auth/totp/confirm",
            Some(&access),
            json!({"code": secret.code_at(now)}),
        )
        .await;
        let creds = json!({"email": "carol@example.com", "password": "correct horse battery"});
        let challenge = api.post("/v1/auth/login", None, creds).await.1["challenge_token"]
            .as_str()
            .unwrap()
            .to_string();
        let good = secret.code_at(now + 30);
        let bad = if good == "000000" { "000001" } else { "000000" };
        for _ in 0..5 {
            let guess = json!({"challenge_token": challenge, "code": bad});
            error(
                &api.post("/v1/auth/verify-otp", None, guess).await,
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
            );
        }
        let right = json!({"challenge_token": challenge, "code": good});
        error(
            &api.post("/v1/auth/verify-otp", None, right).await,
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn api_tokens_for_automation() {
    on_sqlite(|url| async move {
        let api = api(&url).await;
        let alice = user(&api, "alice@example.com").await;
        let bob = user(&api, "bob@example.com").await;
        let (status, created) = api
            .post("/v1/auth/tokens", Some(&alice), json!({"name": "ci"}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let secret = created["token"].as_str().unwrap().to_string();
        assert!(secret.starts_with("nba_"));
        error(
            &api.post("/v1/auth/tokens", Some(&alice), json!({"name": ""}))
                .await,
            StatusCode::BAD_REQUEST,
            "invalid_input",
        );

        // The token works as a bearer credential and is never shown again.
        let (status, me) = api.get("/v1/auth/me", Some(&secret)).await;
        assert_eq!(
            (status, me["email"].as_str()),
            (StatusCode::OK, Some("alice@example.com"))
        );
        let listed = api.get("/v1/auth/tokens", Some(&alice)).await.1;
        assert_eq!(listed.as_array().unwrap().len(), 1);
        assert!(!listed.to_string().contains(&secret));
        assert!(listed[0]["last_used_at"].is_number(), "{listed}");
        assert_eq!(api.get("/v1/auth/tokens", Some(&bob)).await.1, json!([]));

        let id = created["id"].as_str().unwrap();
        error(
            &api.delete(&format!("/v1/auth/tokens/{id}"), Some(&bob))
                .await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
        assert_eq!(
            api.delete(&format!("/v1/auth/tokens/{id}"), Some(&alice))
                .await
                .0,
            StatusCode::NO_CONTENT
        );
        error(
            &api.get("/v1/auth/me", Some(&secret)).await,
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        );
        error(
            &api.get("/v1/auth/me", Some("nba_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"))
                .await,
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        );
        error(
            &api.get("/v1/auth/me", Some("nba_short")).await,
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        );
    })
    .await;
}

// The scenarios above, each on SQLite and on PostgreSQL.
on_both! {
    #[tokio::test(flavor = "multi_thread")]
    account_flows_on_sqlite, account_flows_on_postgres =>
        |url| async move { flows(&url).await };
}
