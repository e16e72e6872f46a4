//! Organizations over HTTP: invites, joining, roles, and what each caller may see.

mod common;

use axum::http::StatusCode;
use common::*;
use serde_json::json;

async fn flows(url: &str) {
    let api = api(url).await;
    let alice = user(&api, "alice@example.com").await;
    let bob = user(&api, "bob@example.com").await;
    let carol = user(&api, "carol@example.com").await;
    let eve = user(&api, "eve@example.com").await;

    let (status, org) = api
        .post("/v1/orgs", Some(&alice), json!({"name": "  Acme  "}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{org}");
    assert_eq!(
        (org["name"].as_str(), org["role"].as_str()),
        (Some("Acme"), Some("admin"))
    );
    let id = org["id"].as_str().unwrap().to_string();
    error(
        &api.post("/v1/orgs", Some(&alice), json!({"name": ""}))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
    );
    error(
        &api.post("/v1/orgs", None, json!({"name": "x"})).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );

    // Outsiders cannot even learn the organization exists.
    let members = format!("/v1/orgs/{id}/members");
    let invites = format!("/v1/orgs/{id}/invites");
    error(
        &api.get(&members, Some(&bob)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    error(
        &api.get(&invites, Some(&eve)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    error(
        &api.post(&invites, Some(&eve), json!({})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    error(
        &api.get("/v1/orgs/does-not-exist/members", Some(&alice))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );

    // Invites: shown once, stored hashed, checked.
    let (status, member_invite) = api.post(&invites, Some(&alice), json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{member_invite}");
    assert_eq!(member_invite["role"], "member");
    let member_code = member_invite["code"].as_str().unwrap().to_string();
    assert!(member_code.starts_with("nbi_"));
    let viewer_code = api
        .post(
            &invites,
            Some(&alice),
            json!({"role": "viewer", "expires_in_hours": 1}),
        )
        .await
        .1["code"]
        .as_str()
        .unwrap()
        .to_string();
    error(
        &api.post(&invites, Some(&alice), json!({"expires_in_hours": 0}))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
    );
    error(
        &api.post(&invites, Some(&alice), json!({"role": "owner"}))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
    );
    let listed = api.get(&invites, Some(&alice)).await.1;
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert!(
        !listed.to_string().contains(&member_code),
        "a code came back in the listing"
    );

    let (status, joined) = api
        .post("/v1/orgs/join", Some(&bob), json!({"code": member_code}))
        .await;
    assert_eq!(status, StatusCode::OK, "{joined}");
    assert_eq!(joined["role"], "member");
    error(
        &api.post("/v1/orgs/join", Some(&bob), json!({"code": member_code}))
            .await,
        StatusCode::CONFLICT,
        "conflict",
    );
    assert_eq!(
        api.post("/v1/orgs/join", Some(&carol), json!({"code": viewer_code}))
            .await
            .1["role"],
        "viewer"
    );
    error(
        &api.post("/v1/orgs/join", Some(&eve), json!({"code": "nbi_garbage"}))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    // An invite is good for one join unless its maker says more: a third user cannot reuse
    // carol's; a two-use invite raced by five users admits exactly two.
    let used_up = api
        .post("/v1/orgs/join", Some(&eve), json!({"code": viewer_code}))
        .await;
    error(&used_up, StatusCode::NOT_FOUND, "not_found");
    assert!(used_up.1["error"]["message"]
        .as_str()
        .unwrap()
        .contains("used up"));
    error(
        &api.post(&invites, Some(&alice), json!({"uses": 0})).await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
    );
    // (In an organization of its own, so the members below stay as they are.)
    let (_, race) = api
        .post("/v1/orgs", Some(&alice), json!({"name": "Race"}))
        .await;
    let race_invites = format!("/v1/orgs/{}/invites", race["id"].as_str().unwrap());
    let (_, two) = api
        .post(
            &race_invites,
            Some(&alice),
            json!({"role": "viewer", "uses": 2}),
        )
        .await;
    assert_eq!((&two["max_uses"], &two["uses"]), (&json!(2), &json!(0)));
    let mut racers = Vec::new();
    for i in 0..5 {
        let (api, code) = (api.clone(), two["code"].clone());
        racers.push(tokio::spawn(async move {
            let who = user(&api, &format!("racer{i}@example.com")).await;
            api.post("/v1/orgs/join", Some(&who), json!({"code": code}))
                .await
                .0
        }));
    }
    let mut joined = 0;
    for r in racers {
        match r.await.unwrap() {
            StatusCode::OK => joined += 1,
            other => assert_eq!(other, StatusCode::NOT_FOUND),
        }
    }
    assert_eq!(joined, 2, "a two-use invite admits two");

    // Members see the organization; only admins manage it.
    let (status, list) = api.get(&members, Some(&carol)).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let emails: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["email"].as_str().unwrap())
        .collect();
    assert_eq!(
        emails,
        ["alice@example.com", "bob@example.com", "carol@example.com"]
    );
    error(
        &api.post(&invites, Some(&bob), json!({})).await,
        StatusCode::FORBIDDEN,
        "permission_denied",
    );
    error(
        &api.get(&invites, Some(&carol)).await,
        StatusCode::FORBIDDEN,
        "permission_denied",
    );
    let bobs = api.get("/v1/orgs", Some(&bob)).await.1;
    assert!(
        bobs.as_array()
            .unwrap()
            .iter()
            .any(|o| o["id"] == id.as_str() && o["role"] == "member"),
        "{bobs}"
    );
    // Eve has only the personal organization every account starts with.
    let eves = api.get("/v1/orgs", Some(&eve)).await.1;
    assert_eq!(eves.as_array().unwrap().len(), 1, "{eves}");
    assert_eq!(eves[0]["name"], "eve@example.com");

    // Roles: admins change others' roles; nobody changes their own.
    let ids: Vec<(String, String)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["email"].as_str().unwrap().to_string(),
                m["user_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let uid = |email: &str| ids.iter().find(|(e, _)| e == email).unwrap().1.clone();
    let carol_path = format!("/v1/orgs/{id}/members/{}", uid("carol@example.com"));
    let alice_path = format!("/v1/orgs/{id}/members/{}", uid("alice@example.com"));
    let (status, changed) = api
        .send(
            "PUT",
            &carol_path,
            Some(&alice),
            Some(json!({"role": "member"}).to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["role"], "member");
    for (path, token, role, status, kind) in [
        (
            &alice_path,
            &alice,
            "viewer",
            StatusCode::FORBIDDEN,
            "permission_denied",
        ),
        (
            &carol_path,
            &bob,
            "admin",
            StatusCode::FORBIDDEN,
            "permission_denied",
        ),
        (
            &carol_path,
            &eve,
            "admin",
            StatusCode::NOT_FOUND,
            "not_found",
        ),
    ] {
        let body = json!({"role": role}).to_string();
        error(
            &api.send("PUT", path, Some(token), Some(body)).await,
            status,
            kind,
        );
    }
    let self_promote = format!("/v1/orgs/{id}/members/{}", uid("bob@example.com"));
    error(
        &api.send(
            "PUT",
            &self_promote,
            Some(&bob),
            Some(json!({"role": "admin"}).to_string()),
        )
        .await,
        StatusCode::FORBIDDEN,
        "permission_denied",
    );

    // Revoked invites stop working.
    let invite_id = member_invite["id"].as_str().unwrap();
    assert_eq!(
        api.delete(&format!("{invites}/{invite_id}"), Some(&alice))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    error(
        &api.post("/v1/orgs/join", Some(&eve), json!({"code": member_code}))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    error(
        &api.delete(&format!("{invites}/{invite_id}"), Some(&alice))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );

    // A restart keeps organizations, memberships, roles and invites.
    let restarted = self::api(url).await;
    let members = restarted.get(&members, Some(&alice)).await.1;
    let roles: Vec<(&str, &str)> = members
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["email"].as_str().unwrap(), m["role"].as_str().unwrap()))
        .collect();
    assert_eq!(
        roles,
        [
            ("alice@example.com", "admin"),
            ("bob@example.com", "member"),
            ("carol@example.com", "member")
        ]
    );
    let after = restarted.get(&invites, Some(&alice)).await.1;
    assert!(
        after
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["revoked"] == true),
        "{after}"
    );
}

// The scenarios above, each on SQLite and on PostgreSQL.
on_both! {
    #[tokio::test(flavor = "multi_thread")]
    org_flows_on_sqlite, org_flows_on_postgres =>
        |url| async move { flows(&url).await };
}
