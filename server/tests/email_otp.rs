//! The emailed second factor, end to end: the code travels through a real SMTP server
//! (aiosmtpd, started by scripts/test.sh) and is read back from its maildir.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::*;
use serde_json::json;

/// The code in the newest message to `to`, waiting for delivery.
async fn mailed_code(to: &str) -> String {
    let maildir = std::env::var("NUBES_TEST_MAILDIR")
        .expect("NUBES_TEST_MAILDIR is not set: scripts/test.sh starts the SMTP server");
    for _ in 0..100 {
        for dir in ["new", "cur"] {
            let Ok(entries) = std::fs::read_dir(std::path::Path::new(&maildir).join(dir)) else {
                continue;
            };
            for entry in entries.flatten() {
                let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
                if text
                    .lines()
                    .any(|l| l.eq_ignore_ascii_case(&format!("to: {to}")))
                {
                    let after = text
                        .split("sign-in code is ")
                        .nth(1)
                        .expect("the code is in the body");
                    return after.chars().take(6).collect();
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no mail reached {to}");
}

#[tokio::test(flavor = "multi_thread")]
async fn login_with_an_emailed_code() {
    let smtp = std::env::var("NUBES_TEST_SMTP_URL")
        .expect("NUBES_TEST_SMTP_URL is not set: scripts/test.sh starts the SMTP server");
    let dir = tempfile::tempdir().unwrap();
    let config = nubes_server::Config {
        database_url: format!("sqlite://{}", dir.path().join("nubes.db").display()),
        compute: Some("memory://?images=img".into()),
        smtp_url: Some(smtp),
        mail_from: Some("Nubes <no-reply@nubes.test>".into()),
        ..Default::default()
    };
    let api = Api {
        app: nubes_server::app(nubes_server::state(&config).await.unwrap()),
    };
    let email = format!(
        "dave-{}@example.com",
        (0..8).map(|_| fastrand::lowercase()).collect::<String>()
    );
    let access = user(&api, &email).await;
    let (status, me) = api
        .post(
            "/v1/auth/email-otp",
            Some(&access),
            json!({"enabled": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["email_otp"], true);

    let creds = json!({"email": email, "password": "correct horse battery"});
    let (status, challenge) = api.post("/v1/auth/login", None, creds.clone()).await;
    assert_eq!(status, StatusCode::OK, "{challenge}");
    assert_eq!(challenge["methods"], json!(["email"]));
    assert!(challenge.get("access_token").is_none());
    let token = challenge["challenge_token"].as_str().unwrap();
    let code = mailed_code(&email).await;
    assert!(
        code.chars().all(|c| c.is_ascii_digit()) && code.len() == 6,
        "{code}"
    );

    let wrong = if code == "000000" { "000001" } else { "000000" };
    error(
        &api.post(
            "/v1/auth/verify-otp",
            None,
            json!({"challenge_token": token, "code": wrong}),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    let (status, tokens) = api
        .post(
            "/v1/auth/verify-otp",
            None,
            json!({"challenge_token": token, "code": code}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let access = tokens["access_token"].as_str().unwrap();
    error(
        &api.post(
            "/v1/auth/verify-otp",
            None,
            json!({"challenge_token": token, "code": code}),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );

    // The rest of the seed flow with that session: create, list only one's own, stop, delete.
    let (status, web) = api
        .post(
            "/v1/instances",
            Some(access),
            json!({"name": "web", "image": "img"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{web}");
    assert_eq!(
        api.get("/v1/instances", Some(access))
            .await
            .1
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let id = web["id"].as_str().unwrap();
    assert_eq!(
        api.post(&format!("/v1/instances/{id}/stop"), Some(access), json!({}))
            .await
            .1["state"],
        "stopped"
    );
    assert_eq!(
        api.delete(&format!("/v1/instances/{id}"), Some(access))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn email_codes_need_a_mailer() {
    on_sqlite(|url| async move {
        let api = api(&url).await;
        let access = user(&api, "erin@example.com").await;
        error(
            &api.post(
                "/v1/auth/email-otp",
                Some(&access),
                json!({"enabled": true}),
            )
            .await,
            StatusCode::NOT_IMPLEMENTED,
            "unsupported",
        );
        error(
            &api.post(
                "/v1/auth/email-otp",
                Some(&access),
                json!({"enabled": "yes"}),
            )
            .await,
            StatusCode::BAD_REQUEST,
            "invalid_input",
        );
    })
    .await;
}
