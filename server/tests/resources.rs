//! Disks, buckets with their objects, and functions over HTTP: who may see and touch what (on both
//! databases), bad input on every route, and names that are the tenant's own.

mod common;

use std::sync::Arc;

use axum::http::StatusCode;
use common::*;
use nubes::memory::{MemoryDisk, MemoryFunction, MemoryStorage};
use nubes::{Bytes, FunctionError};
use serde_json::{json, Value};

fn backends() -> nubes_server::Backends {
    let functions = MemoryFunction::new()
        .with_handler("upper", |b: Bytes| Ok(b.to_ascii_uppercase().into()))
        .with_handler("fail", |_| {
            Err(FunctionError {
                exit_code: Some(3),
                message: "boom".into(),
            })
        });
    nubes_server::Backends::of(
        &nubes::Cloud::new("memory")
            .with_storage(Arc::new(MemoryStorage::new()))
            .with_disk(Arc::new(MemoryDisk::new()))
            .with_function(Arc::new(functions)),
    )
}

#[track_caller]
fn created(res: &(StatusCode, Value)) -> String {
    assert_eq!(res.0, StatusCode::CREATED, "{}", res.1);
    res.1["id"].as_str().unwrap().to_string()
}

/// Every route on a resource of alice's: the outsider gets 404, the viewer reads but gets 403
/// on changes, the member gets 403 on changes to what is not theirs, alice may do it all.
async fn matrix(url: &str) {
    let api = api_backends(url, backends()).await;
    let t = team(&api).await;
    let org = t.org.as_str();

    let disk = created(
        &api.post(
            "/v1/disks",
            Some(&t.alice),
            json!({"org_id": org, "name": "root", "format": "qcow2", "size": 1 << 30}),
        )
        .await,
    );
    let bucket = created(
        &api.post(
            "/v1/buckets",
            Some(&t.alice),
            json!({"org_id": org, "name": "reports"}),
        )
        .await,
    );
    let function = created(
        &api.post(
            "/v1/functions",
            Some(&t.alice),
            json!({"org_id": org, "name": "shout", "image": "x", "handler": ["upper"]}),
        )
        .await,
    );
    let put = api
        .send_raw(
            "PUT",
            &format!("/v1/buckets/{bucket}/objects/2026/nov.txt"),
            Some(&t.alice),
            &[],
            "november",
        )
        .await;
    assert_eq!(put.status, StatusCode::CREATED, "{:?}", put.json());

    // Reads: by id and by name, for everyone in the org; nobody outside learns they exist.
    let reads = [
        format!("/v1/disks/{disk}"),
        "/v1/disks/root".to_string(),
        format!("/v1/buckets/{bucket}"),
        "/v1/buckets/reports".to_string(),
        format!("/v1/buckets/reports/objects?org_id={org}"),
        "/v1/buckets/reports/objects/2026/nov.txt".to_string(),
        format!("/v1/functions/{function}"),
        "/v1/functions/shout".to_string(),
    ];
    for path in &reads {
        for (who, token) in [("alice", &t.alice), ("bob", &t.bob), ("carol", &t.carol)] {
            let res = api.send_raw("GET", path, Some(token), &[], "").await;
            assert_eq!(
                res.status,
                StatusCode::OK,
                "{who} GET {path}: {:?}",
                res.json()
            );
        }
        error(
            &api.send_raw("GET", path, Some(&t.eve), &[], "")
                .await
                .json(),
            StatusCode::NOT_FOUND,
            "not_found",
        );
    }
    let head = api
        .send_raw(
            "HEAD",
            "/v1/buckets/reports/objects/2026/nov.txt",
            Some(&t.eve),
            &[],
            "",
        )
        .await;
    assert_eq!(head.status, StatusCode::NOT_FOUND);
    for list in ["/v1/disks", "/v1/buckets", "/v1/functions"] {
        assert_eq!(api.get(list, Some(&t.eve)).await.1, json!([]), "{list}");
        let seen = api.get(list, Some(&t.carol)).await.1;
        assert_eq!(seen.as_array().map(Vec::len), Some(1), "{list}: {seen}");
    }

    // Changes: (method, path, JSON body or raw bytes, status alice gets).
    let changes: Vec<(&str, String, Option<Value>, StatusCode)> = vec![
        (
            "POST",
            format!("/v1/disks/{disk}/resize"),
            Some(json!({"size": 2u64 << 30})),
            StatusCode::OK,
        ),
        (
            "POST",
            format!("/v1/disks/{disk}/rename"),
            Some(json!({"name": "boot"})),
            StatusCode::OK,
        ),
        (
            "PUT",
            format!("/v1/buckets/{bucket}/objects/new.txt"),
            None,
            StatusCode::CREATED,
        ),
        (
            "DELETE",
            format!("/v1/buckets/{bucket}/objects/new.txt"),
            None,
            StatusCode::NO_CONTENT,
        ),
        (
            "POST",
            format!("/v1/functions/{function}/invoke"),
            None,
            StatusCode::OK,
        ),
    ];
    for (method, path, body, ok) in &changes {
        let send = |token: &str| {
            let token = token.to_string();
            let body = body.clone();
            let api = &api;
            async move {
                match body {
                    Some(b) => {
                        api.send(method, path, Some(&token), Some(b.to_string()))
                            .await
                    }
                    None => api
                        .send_raw(method, path, Some(&token), &[], "hi")
                        .await
                        .json(),
                }
            }
        };
        error(&send(&t.eve).await, StatusCode::NOT_FOUND, "not_found");
        error(
            &send(&t.carol).await,
            StatusCode::FORBIDDEN,
            "permission_denied",
        );
        error(
            &send(&t.bob).await,
            StatusCode::FORBIDDEN,
            "permission_denied",
        );
        let res = send(&t.alice).await;
        assert_eq!(res.0, *ok, "alice {method} {path}: {}", res.1);
    }
    let (_, renamed) = api.get(&format!("/v1/disks/{disk}"), Some(&t.bob)).await;
    assert_eq!(
        (renamed["name"].as_str(), renamed["virtual_size"].as_u64()),
        (Some("boot"), Some(2 << 30))
    );
    // Converting reads the source and creates in its org: a viewer may not, an outsider sees
    // nothing, a member may.
    let convert = format!("/v1/disks/{disk}/convert");
    error(
        &api.post(
            &convert,
            Some(&t.eve),
            json!({"format": "raw", "target": "copy"}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    error(
        &api.post(
            &convert,
            Some(&t.carol),
            json!({"format": "raw", "target": "copy"}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "permission_denied",
    );
    let (status, copy) = api
        .post(
            &convert,
            Some(&t.bob),
            json!({"format": "raw", "target": "copy"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{copy}");
    assert_eq!(
        (copy["format"].as_str(), copy["owner_id"].is_string()),
        (Some("raw"), true)
    );

    let deletes = [
        format!("/v1/disks/{disk}"),
        format!("/v1/buckets/{bucket}/objects/2026/nov.txt"),
        format!("/v1/buckets/{bucket}"),
        format!("/v1/functions/{function}"),
    ];
    for path in &deletes {
        for (token, status, kind) in [
            (&t.eve, StatusCode::NOT_FOUND, "not_found"),
            (&t.carol, StatusCode::FORBIDDEN, "permission_denied"),
            (&t.bob, StatusCode::FORBIDDEN, "permission_denied"),
        ] {
            error(&api.delete(path, Some(token)).await, status, kind);
        }
        let res = api.delete(path, Some(&t.alice)).await;
        assert_eq!(res.0, StatusCode::NO_CONTENT, "DELETE {path}: {}", res.1);
        error(
            &api.get(path, Some(&t.alice)).await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
    }
    // The member deletes their own converted copy.
    let own = format!("/v1/disks/{}", copy["id"].as_str().unwrap());
    assert_eq!(
        api.delete(&own, Some(&t.bob)).await.0,
        StatusCode::NO_CONTENT
    );
}

/// Objects travel as bytes: ranges, metadata headers, listing pages, keys with odd characters.
#[tokio::test(flavor = "multi_thread")]
async fn objects_stream_with_ranges_and_pages() {
    on_sqlite(|url| async move {
        let api = api_backends(&url, backends()).await;
        let alice = user(&api, "alice@example.com").await;
        created(
            &api.post("/v1/buckets", Some(&alice), json!({"name": "data"}))
                .await,
        );
        let body: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
        let key = "/v1/buckets/data/objects/dir/a%20b%3F.bin";
        let put = api
            .send_raw("PUT", key, Some(&alice), &[], body.clone())
            .await;
        assert_eq!(put.status, StatusCode::CREATED);
        assert_eq!(put.json().1["key"], "dir/a b?.bin");

        let whole = api.send_raw("GET", key, Some(&alice), &[], "").await;
        assert_eq!(
            (whole.status, whole.body.as_ref()),
            (StatusCode::OK, &body[..])
        );
        let part = api
            .send_raw("GET", key, Some(&alice), &[("range", "bytes=10-19")], "")
            .await;
        assert_eq!(part.status, StatusCode::PARTIAL_CONTENT);
        assert_eq!(part.body.as_ref(), &body[10..20]);
        assert_eq!(part.headers["content-range"], "bytes 10-19/100000");
        assert_eq!(part.headers["x-nubes-object-size"], "100000");
        let head = api.send_raw("HEAD", key, Some(&alice), &[], "").await;
        assert_eq!(
            (
                head.status,
                head.headers["content-length"].to_str().unwrap()
            ),
            (StatusCode::OK, "100000")
        );

        for i in 0..5 {
            let path = format!("/v1/buckets/data/objects/logs/{i}");
            assert_eq!(
                api.send_raw("PUT", &path, Some(&alice), &[], "x")
                    .await
                    .status,
                StatusCode::CREATED
            );
        }
        let (_, page) = api
            .get(
                "/v1/buckets/data/objects?prefix=logs/&limit=2",
                Some(&alice),
            )
            .await;
        assert_eq!(page["objects"].as_array().unwrap().len(), 2, "{page}");
        let next = page["next"].as_str().unwrap();
        let (_, rest) = api
            .get(
                &format!("/v1/buckets/data/objects?prefix=logs/&continuation={next}"),
                Some(&alice),
            )
            .await;
        assert_eq!(rest["objects"].as_array().unwrap().len(), 3, "{rest}");
        assert_eq!(rest["next"], Value::Null);

        // A bucket with objects is not deleted, and nothing in it is lost.
        error(
            &api.delete("/v1/buckets/data", Some(&alice)).await,
            StatusCode::CONFLICT,
            "conflict",
        );
        assert_eq!(
            api.send_raw("GET", key, Some(&alice), &[], "")
                .await
                .body
                .len(),
            body.len()
        );
    })
    .await;
}

/// An invocation returns the function's output; a failure inside it is in the answer.
#[tokio::test(flavor = "multi_thread")]
async fn functions_invoke_with_raw_payloads() {
    on_sqlite(|url| async move {
        let api = api_backends(&url, backends()).await;
        let alice = user(&api, "alice@example.com").await;
        created(
            &api.post(
                "/v1/functions",
                Some(&alice),
                json!({"name": "shout", "image": "x", "handler": ["upper"], "timeout_secs": 5}),
            )
            .await,
        );
        created(
            &api.post(
                "/v1/functions",
                Some(&alice),
                json!({"name": "fails", "image": "x", "handler": ["fail"]}),
            )
            .await,
        );
        let out = api
            .send_raw(
                "POST",
                "/v1/functions/shout/invoke",
                Some(&alice),
                &[],
                "hello",
            )
            .await
            .json();
        assert_eq!(out.0, StatusCode::OK, "{}", out.1);
        assert_eq!(out.1["payload"], data_encoding::BASE64.encode(b"HELLO"));
        assert_eq!(out.1["error"], Value::Null);
        let out = api
            .send_raw("POST", "/v1/functions/fails/invoke", Some(&alice), &[], "x")
            .await
            .json();
        assert_eq!(out.0, StatusCode::OK, "{}", out.1);
        assert_eq!(out.1["error"], json!({"exit_code": 3, "message": "boom"}));
        let (_, listed) = api.get("/v1/functions", Some(&alice)).await;
        let names: Vec<&str> = listed
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["fails", "shout"]);
        assert_eq!(listed[1]["timeout_secs"], 5);
    })
    .await;
}

/// Bad input on every new route: a 4xx saying what is wrong, never a 5xx, and nothing created.
#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_refused_clearly() {
    on_sqlite(|url| async move {
        let api = api_backends(&url, backends()).await;
        let alice = user(&api, "alice@example.com").await;
        let a = Some(alice.as_str());
        created(
            &api.post(
                "/v1/disks",
                a,
                json!({"name": "d", "format": "raw", "size": 1024}),
            )
            .await,
        );
        created(&api.post("/v1/buckets", a, json!({"name": "bkt"})).await);

        let bad_posts = [
            (
                "/v1/disks",
                json!({"name": "x", "format": "qcow3", "size": 1}),
            ),
            (
                "/v1/disks",
                json!({"name": "x", "format": "raw", "size": -1}),
            ),
            (
                "/v1/disks",
                json!({"name": "x", "format": "raw", "size": "10G"}),
            ),
            (
                "/v1/disks",
                json!({"name": "x", "format": "raw", "size": 0}),
            ),
            (
                "/v1/disks",
                json!({"name": "../x", "format": "raw", "size": 1}),
            ),
            (
                "/v1/disks",
                json!({"name": "x".repeat(300), "format": "raw", "size": 1}),
            ),
            (
                "/v1/disks",
                json!({"name": "x", "format": "raw", "size": 1, "path": "/etc"}),
            ),
            ("/v1/disks/d/resize", json!({"size": 10})),
            ("/v1/disks/d/resize", json!({"size": 1e30})),
            ("/v1/disks/d/rename", json!({"name": "a/b"})),
            (
                "/v1/disks/d/convert",
                json!({"format": "raw", "target": ".."}),
            ),
            (
                "/v1/disks/d/convert",
                json!({"format": "iso", "target": "y"}),
            ),
            ("/v1/buckets", json!({"name": "ab"})),
            ("/v1/buckets", json!({"name": "Has_Upper"})),
            ("/v1/buckets", json!({"name": "b".repeat(64)})),
            ("/v1/buckets", json!({"name": "okname", "acl": "public"})),
            (
                "/v1/functions",
                json!({"name": "f", "image": "x", "handler": []}),
            ),
            (
                "/v1/functions",
                json!({"name": "f", "image": "", "handler": ["upper"]}),
            ),
            (
                "/v1/functions",
                json!({"name": "f", "image": "x", "handler": ["upper"], "timeout_secs": 0}),
            ),
            (
                "/v1/functions",
                json!({"name": "f", "image": "x", "handler": ["upper"], "timeout_secs": 100000}),
            ),
            (
                "/v1/functions",
                json!({"name": "f", "image": "x", "handler": ["upper"], "memory": -1}),
            ),
            (
                "/v1/functions",
                json!({"name": "f", "image": "x", "handler": "upper"}),
            ),
        ];
        for (path, body) in bad_posts {
            let res = api.post(path, a, body.clone()).await;
            error(&res, StatusCode::BAD_REQUEST, "invalid_input");
        }
        let malformed = api
            .send("POST", "/v1/disks", a, Some("{not json".into()))
            .await;
        error(&malformed, StatusCode::BAD_REQUEST, "invalid_input");

        for (method, path, headers) in [
            ("PUT", "/v1/buckets/bkt/objects/a/%2E%2E/b", vec![]),
            ("PUT", "/v1/buckets/bkt/objects/a//b", vec![]),
            ("GET", "/v1/buckets/bkt/objects/k?unknown=1", vec![]),
            ("GET", "/v1/buckets/bkt/objects?limit=-1", vec![]),
            ("GET", "/v1/buckets/bkt/objects?limit=0", vec![]),
        ] {
            let res = api.send_raw(method, path, a, &headers, "x").await;
            error(&res.json(), StatusCode::BAD_REQUEST, "invalid_input");
        }
        assert_eq!(
            api.send_raw("PUT", "/v1/buckets/bkt/objects/k", a, &[], "0123456789")
                .await
                .status,
            StatusCode::CREATED
        );
        for range in ["bytes=5-1", "bytes=-3", "bytes=100-", "lines=1-2"] {
            let res = api
                .send_raw(
                    "GET",
                    "/v1/buckets/bkt/objects/k",
                    a,
                    &[("range", range)],
                    "",
                )
                .await;
            error(&res.json(), StatusCode::BAD_REQUEST, "invalid_input");
        }
        // Nothing half-made: one disk, one bucket with one object, no functions.
        assert_eq!(api.get("/v1/disks", a).await.1.as_array().unwrap().len(), 1);
        assert_eq!(
            api.get("/v1/buckets", a).await.1.as_array().unwrap().len(),
            1
        );
        assert_eq!(
            api.get("/v1/buckets/bkt/objects", a).await.1["objects"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(api.get("/v1/functions", a).await.1, json!([]));
        // The shrink goes through when asked for.
        let (status, small) = api
            .post(
                "/v1/disks/d/resize",
                a,
                json!({"size": 512, "allow_shrink": true}),
            )
            .await;
        assert_eq!(
            (status, small["virtual_size"].as_u64()),
            (StatusCode::OK, Some(512))
        );
    })
    .await;
}

/// Two organizations may use the same name; a name both of the caller's use needs `org_id`.
#[tokio::test(flavor = "multi_thread")]
async fn names_are_per_organization() {
    on_sqlite(|url| async move {
        let api = api_backends(&url, backends()).await;
        let t = team(&api).await;
        let alice = Some(t.alice.as_str());
        let personal = created(
            &api.post("/v1/buckets", alice, json!({"name": "shared"}))
                .await,
        );
        let in_org = created(
            &api.post(
                "/v1/buckets",
                alice,
                json!({"name": "shared", "org_id": t.org}),
            )
            .await,
        );
        created(
            &api.post("/v1/buckets", Some(&t.eve), json!({"name": "shared"}))
                .await,
        );
        error(
            &api.post("/v1/buckets", alice, json!({"name": "shared"}))
                .await,
            StatusCode::CONFLICT,
            "already_exists",
        );

        error(
            &api.get("/v1/buckets/shared", alice).await,
            StatusCode::BAD_REQUEST,
            "invalid_input",
        );
        let (_, b) = api
            .get(&format!("/v1/buckets/shared?org_id={}", t.org), alice)
            .await;
        assert_eq!(b["id"], in_org.as_str());
        let (_, b) = api.get(&format!("/v1/buckets/{personal}"), alice).await;
        assert_eq!(b["id"], personal.as_str());
        // Bob sees only the org's one, so the name alone is enough for him.
        let (_, b) = api.get("/v1/buckets/shared", Some(&t.bob)).await;
        assert_eq!(b["id"], in_org.as_str());
    })
    .await;
}

/// The server caches who may do what for a few seconds; changes made through it apply at once.
#[tokio::test(flavor = "multi_thread")]
async fn role_and_membership_changes_apply_at_once() {
    on_sqlite(|url| async move {
        let api = api_backends(&url, backends()).await;
        let t = team(&api).await;
        let bucket = |name: &str| json!({"name": name, "org_id": t.org});
        let (_, members) = api
            .get(&format!("/v1/orgs/{}/members", t.org), Some(&t.alice))
            .await;
        let carol_id = members
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["email"] == "carol@example.com")
            .unwrap()["user_id"]
            .as_str()
            .unwrap()
            .to_string();
        let carol_path = format!("/v1/orgs/{}/members/{carol_id}", t.org);
        let set_role = |role: &'static str| {
            let api = &api;
            let (path, alice) = (carol_path.clone(), t.alice.clone());
            async move {
                let res = api
                    .send(
                        "PUT",
                        &path,
                        Some(&alice),
                        Some(json!({ "role": role }).to_string()),
                    )
                    .await;
                assert_eq!(res.0, StatusCode::OK, "{}", res.1);
            }
        };

        error(
            &api.post("/v1/buckets", Some(&t.carol), bucket("carols"))
                .await,
            StatusCode::FORBIDDEN,
            "permission_denied",
        );
        set_role("member").await;
        created(
            &api.post("/v1/buckets", Some(&t.carol), bucket("carols"))
                .await,
        );
        set_role("viewer").await;
        error(
            &api.post("/v1/buckets", Some(&t.carol), bucket("carols2"))
                .await,
            StatusCode::FORBIDDEN,
            "permission_denied",
        );

        // An outsider who was just refused joins, and is let in on the next request.
        let path = format!("/v1/buckets/carols?org_id={}", t.org);
        error(
            &api.get(&path, Some(&t.eve)).await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
        let code = api
            .post(
                &format!("/v1/orgs/{}/invites", t.org),
                Some(&t.alice),
                json!({"role": "viewer"}),
            )
            .await
            .1["code"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(
            api.post("/v1/orgs/join", Some(&t.eve), json!({"code": code}))
                .await
                .0,
            StatusCode::OK
        );
        assert_eq!(api.get(&path, Some(&t.eve)).await.0, StatusCode::OK);
    })
    .await;
}

/// What plans do not price is bounded by settings, each with a clear 4xx: an object's size
/// (declared or streamed: nothing is kept past it), a listing's page, a disk's size, and how
/// many buckets an organization holds, also when creates race for the last place.
async fn bounded(url: String) {
    let config = nubes_server::Config {
        database_url: url.to_string(),
        bounds: nubes_server::bounds::Bounds {
            object_bytes: 1000,
            page: 10,
            disk_bytes: 1 << 30,
            buckets_per_org: 3,
            ..Default::default()
        },
        ..Default::default()
    };
    let api = Api {
        app: nubes_server::app(nubes_server::state_with(&config, backends()).await.unwrap()),
    };
    let ivy = user(&api, "ivy@example.com").await;
    created(
        &api.post("/v1/buckets", Some(&ivy), json!({"name": "bkt0"}))
            .await,
    );
    let mut racers = Vec::new();
    for i in 1..=4 {
        let (api, ivy) = (api.clone(), ivy.clone());
        racers.push(tokio::spawn(async move {
            api.post(
                "/v1/buckets",
                Some(&ivy),
                json!({"name": format!("bkt{i}")}),
            )
            .await
        }));
    }
    let mut made = 0;
    for r in racers {
        let res = r.await.unwrap();
        match res.0 {
            StatusCode::CREATED => made += 1,
            _ => error(&res, StatusCode::FORBIDDEN, "quota_exceeded"),
        }
    }
    assert_eq!(made, 2, "three buckets at most");

    let obj = "/v1/buckets/bkt0/objects/k";
    let small = api
        .send_raw("PUT", obj, Some(&ivy), &[], vec![1u8; 1000])
        .await;
    assert_eq!(small.status, StatusCode::CREATED);
    let declared = api
        .send_raw(
            "PUT",
            "/v1/buckets/bkt0/objects/big",
            Some(&ivy),
            &[("content-length", "5000")],
            vec![1u8; 5000],
        )
        .await
        .json();
    error(&declared, StatusCode::BAD_REQUEST, "invalid_input");
    let streamed = api
        .send_raw(
            "PUT",
            "/v1/buckets/bkt0/objects/big",
            Some(&ivy),
            &[],
            vec![1u8; 5000],
        )
        .await
        .json();
    error(&streamed, StatusCode::BAD_REQUEST, "invalid_input");
    assert_eq!(
        api.send_raw("GET", "/v1/buckets/bkt0/objects/big", Some(&ivy), &[], "")
            .await
            .status,
        StatusCode::NOT_FOUND,
        "nothing of a refused upload is kept"
    );
    for bad in ["0", "11"] {
        let res = api
            .get(&format!("/v1/buckets/bkt0/objects?limit={bad}"), Some(&ivy))
            .await;
        error(&res, StatusCode::BAD_REQUEST, "invalid_input");
    }
    assert_eq!(
        api.get("/v1/buckets/bkt0/objects?limit=10", Some(&ivy))
            .await
            .0,
        StatusCode::OK
    );
    let disk = json!({"name": "d", "format": "qcow2", "size": 2u64 << 30});
    error(
        &api.post("/v1/disks", Some(&ivy), disk).await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
    );
}

/// Instances go through the same authorization path as every other kind: by id, or by name in
/// one of the caller's organizations (`org_id` where several have it); nobody else's by name.
#[tokio::test(flavor = "multi_thread")]
async fn instances_are_addressed_by_name_per_organization() {
    on_sqlite(|url| async move {
        let mut b = backends();
        let memory = Arc::new(nubes::memory::MemoryCompute::new().with_image("img"));
        b.compute =
            nubes_server::Backends::of(&nubes::Cloud::new("memory").with_compute(memory)).compute;
        let api = api_backends(&url, b).await;
        let t = team(&api).await;
        let alice = Some(t.alice.as_str());
        let web = |org: Option<&str>| match org {
            Some(o) => json!({"name": "web", "image": "img", "org_id": o}),
            None => json!({"name": "web", "image": "img"}),
        };
        let personal = created(&api.post("/v1/instances", alice, web(None)).await);
        let in_org = created(&api.post("/v1/instances", alice, web(Some(&t.org))).await);
        let eves = created(&api.post("/v1/instances", Some(&t.eve), web(None)).await);

        // Two of alice's organizations have a "web": the name alone is refused, not guessed.
        let (status, body) = api.get("/v1/instances/web", alice).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("pass org_id"),
            "{body}"
        );
        let (_, i) = api
            .get(&format!("/v1/instances/web?org_id={}", t.org), alice)
            .await;
        assert_eq!(i["id"], in_org.as_str());
        // Actions with their own query take org_id too.
        let (status, i) = api
            .post(
                &format!("/v1/instances/web/stop?org_id={}&timeout_secs=0", t.org),
                alice,
                json!({}),
            )
            .await;
        assert_eq!(
            (status, i["id"].as_str()),
            (StatusCode::OK, Some(in_org.as_str()))
        );
        // Bob is in the org only: the name is enough for him, and it is the org's.
        let (_, i) = api.get("/v1/instances/web", Some(&t.bob)).await;
        assert_eq!(i["id"], in_org.as_str());
        // Eve's name finds hers; alice's personal one stays invisible to her by name and by id.
        let (_, i) = api.get("/v1/instances/web", Some(&t.eve)).await;
        assert_eq!(i["id"], eves.as_str());
        error(
            &api.get(&format!("/v1/instances/{personal}"), Some(&t.eve))
                .await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
        error(
            &api.get(&format!("/v1/instances/web?org_id={}", t.org), Some(&t.eve))
                .await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
        let res = api
            .send(
                "DELETE",
                &format!("/v1/instances/web?org_id={}&force=true", t.org),
                alice,
                None,
            )
            .await;
        assert_eq!(res.0, StatusCode::NO_CONTENT, "{}", res.1);
        let (_, i) = api.get("/v1/instances/web", alice).await;
        assert_eq!(
            i["id"],
            personal.as_str(),
            "one web is left, so the name is enough"
        );
    })
    .await;
}

// The scenarios above, each on SQLite and on PostgreSQL.
on_both! {
    #[tokio::test(flavor = "multi_thread")]
    isolation_matrix_on_sqlite, isolation_matrix_on_postgres =>
        |url| async move { matrix(&url).await };
    uploads_pages_disks_and_counts_are_bounded_on_sqlite, uploads_pages_disks_and_counts_are_bounded_on_postgres =>
        bounded;
}
