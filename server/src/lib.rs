#![doc = include_str!("../README.md")]

pub mod accounts;
pub mod admin;
pub mod buckets;
pub mod db;
pub mod disks;
pub mod functions;
pub mod http;
pub mod instances;
pub mod limits;
pub mod mail;
pub mod orgs;
pub mod tenancy;

pub use accounts::Accounts;
pub use db::Db;
pub use http::{app, AppState};

use std::sync::Arc;

/// How to run the server.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// `sqlite:///path/nubes.db` or `postgres://...`.
    pub database_url: String,
    /// The token signing secret; generated once and kept in the database when `None`.
    pub jwt_secret: Option<Vec<u8>>,
    /// The provider behind `/v1/instances` (`docker://`, `memory://...`); none disables them.
    pub compute: Option<String>,
    /// The provider behind `/v1/buckets` (`local:///srv/objects`, `memory://`); none disables them.
    pub storage: Option<String>,
    /// The provider behind `/v1/disks`; none disables them.
    pub disk: Option<String>,
    /// The provider behind `/v1/functions` (`docker://`); none disables them.
    pub function: Option<String>,
    /// Where sign-in codes are mailed from (`smtp://...`); none leaves email codes off.
    pub smtp_url: Option<String>,
    /// The sender of those mails.
    pub mail_from: Option<String>,
}

/// Opens the database, connects the compute provider and builds the application state.
pub async fn state(config: &Config) -> nubes::Result<AppState> {
    let db = Db::connect(&config.database_url).await?;
    let mut accounts = Accounts::new(db.clone(), config.jwt_secret.clone()).await?;
    if let Some(url) = &config.smtp_url {
        let from = config
            .mail_from
            .as_deref()
            .unwrap_or("Nubes <no-reply@nubes.local>");
        accounts = accounts.with_mailer(Arc::new(mail::SmtpMailer::new(url, from)?));
    }
    let compute = match &config.compute {
        Some(uri) => Some(connect(uri).await?.compute()?),
        None => None,
    };
    let storage = match &config.storage {
        Some(uri) => Some(connect(uri).await?.storage()?),
        None => None,
    };
    let disk = match &config.disk {
        Some(uri) => Some(connect(uri).await?.disk()?),
        None => None,
    };
    let function = match &config.function {
        Some(uri) => Some(connect(uri).await?.function()?),
        None => None,
    };
    Ok(AppState {
        accounts: Arc::new(accounts),
        orgs: orgs::Orgs::new(db.clone()),
        instances: instances::Instances::new(db.clone(), compute.clone()),
        buckets: buckets::Buckets::new(db.clone(), storage),
        disks: disks::Disks::new(db.clone(), disk),
        functions: functions::Functions::new(db.clone(), function),
        admin: admin::Admin::new(db, compute),
        metrics: Default::default(),
    })
}

async fn connect(uri: &str) -> nubes::Result<nubes::Cloud> {
    use nubes::prelude::Connect;
    nubes::Cloud::connect(uri).await
}

/// Serves the API on `listener`, recording each client's address for the audit log.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    let app = app(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app).await
}
