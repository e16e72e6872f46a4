#![doc = include_str!("../README.md")]

use serde_json::{json, Value};

/// The password of every account these helpers register.
pub const PASSWORD: &str = "correct horse battery";

/// Serves `state` on a free loopback port; returns its base URL (`http://127.0.0.1:PORT`).
pub async fn serve(state: nubes_server::AppState) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(nubes_server::serve(listener, state));
    base
}

/// The JSON answer to `request` (whatever its status).
pub async fn json(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}

/// Registers `email` with [`PASSWORD`] through `http` and signs it in; returns the access
/// token. `http` is the caller's, as the sign-in routes limit attempts per client address.
pub async fn sign_in(http: &reqwest::Client, base: &str, email: &str) -> String {
    let creds = json!({"email": email, "password": PASSWORD});
    let registered = http
        .post(format!("{base}/v1/auth/register"))
        .json(&creds)
        .send()
        .await
        .unwrap();
    assert!(
        registered.status().is_success(),
        "registering {email}: {}",
        registered.status()
    );
    let tokens = json(http.post(format!("{base}/v1/auth/login")).json(&creds)).await;
    tokens["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("signing {email} in: {tokens}"))
        .to_string()
}

/// A new account's API token named `name` (which, unlike an access token, outlives a long run).
pub async fn api_token(base: &str, email: &str, name: &str) -> String {
    let access = sign_in(&reqwest::Client::new(), base, email).await;
    nubes_remote::auth::machine_token(base, &access, name)
        .await
        .unwrap()
        .token
}

/// `field` of every item of the JSON list `list`, as strings.
#[track_caller]
pub fn field<'a>(list: &'a Value, field: &str) -> Vec<&'a str> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|item| item[field].as_str().unwrap())
        .collect()
}

/// A PostgreSQL database of its own, made on the server `base` (a database URL) points at.
#[derive(Debug)]
pub struct Scratch {
    admin: sqlx::AnyPool,
    name: String,
    /// The database's URL.
    pub url: String,
}

impl Scratch {
    pub async fn create(base: &str, name: &str) -> Self {
        sqlx::any::install_default_drivers();
        let admin = sqlx::AnyPool::connect(base).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await
            .unwrap();
        let (root, _) = base.rsplit_once('/').unwrap();
        Self {
            url: format!("{root}/{name}"),
            admin,
            name: name.to_string(),
        }
    }

    /// Drops the database, with whoever is still connected to it.
    pub async fn remove(self) {
        sqlx::query(&format!("DROP DATABASE {} WITH (FORCE)", self.name))
            .execute(&self.admin)
            .await
            .unwrap();
    }
}
