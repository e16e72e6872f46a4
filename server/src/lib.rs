#![doc = include_str!("../README.md")]

pub mod accounts;
pub mod db;
pub mod http;
pub mod orgs;
pub mod tenancy;

pub use accounts::Accounts;
pub use db::Db;
pub use http::{app, AppState};

use std::sync::Arc;

/// Opens the database at `database_url` and builds the application state. The token secret is
/// taken from `jwt_secret` when given, else generated once and kept in the database.
pub async fn state(database_url: &str, jwt_secret: Option<Vec<u8>>) -> nubes::Result<AppState> {
    let db = Db::connect(database_url).await?;
    let accounts = Accounts::new(db.clone(), jwt_secret).await?;
    Ok(AppState {
        accounts: Arc::new(accounts),
        orgs: orgs::Orgs::new(db),
    })
}
