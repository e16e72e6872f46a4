#![doc = include_str!("../README.md")]

pub mod accounts;
pub mod admin;
pub mod agents;
pub mod billing;
pub mod bounds;
pub mod buckets;
pub mod clusters;
pub mod db;
pub mod disks;
pub mod events;
pub mod functions;
pub mod gates;
pub mod http;
pub mod instances;
pub mod listen;
pub mod mail;
pub mod metering;
pub mod orgs;
pub mod platform;
pub mod tenancy;
pub mod throttles;
pub mod vouchers;

pub use accounts::Accounts;
pub use db::Db;
pub use http::{app, openapi_document, AppState};
pub use nubes_billing::Settings as BillingSettings;

use std::sync::Arc;

/// How to run the server.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// `sqlite:///path/nubes.db` or `postgres://...`.
    pub database_url: String,
    /// The token signing secret; generated once and kept in the database when `None`.
    pub jwt_secret: Option<Vec<u8>>,
    /// The provider behind `/v1/instances` (`docker://`, `memory://...`, or `fleet://`: the
    /// lessor agents that connect to this server); none disables them.
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
    /// Whether creates and resizes are held to the creator's plan, and a create is paid for
    /// (its first hour and its disk) before it is made.
    pub billing: bool,
    /// How often metering charges running instances (with `billing`); never when unset.
    pub billing_tick: Option<std::time::Duration>,
    /// Plans, prices, the platform's fee and alert levels (the defaults unless changed).
    pub billing_settings: nubes_billing::Settings,
    /// Where metering journals usage events before applying them (with `billing`); beside the
    /// database when it is an SQLite file and this is unset.
    pub usage_journal: Option<std::path::PathBuf>,
    /// How the fleet schedules and watches agents (with `compute: fleet://`).
    pub fleet: nubes_agent::FleetConfig,
    /// Swagger UI's files for `/docs` (the `swagger-ui-dist` npm package's folder); none loads
    /// them from a CDN.
    pub swagger_ui_dir: Option<std::path::PathBuf>,
    /// The dashboard's built files (`web/dist`), served at `/`; none serves no dashboard.
    pub web_dir: Option<std::path::PathBuf>,
    /// What one request or organization may take of objects, pages, disks and resources.
    pub bounds: bounds::Bounds,
    /// Reverse proxies whose `X-Forwarded-For` names the client (for per-address limits and the
    /// audit log); none by default, so no client can claim another's address.
    pub trusted_proxies: Vec<listen::Cidr>,
}

/// The providers behind the API, one per service; a missing one turns its routes off. Each is
/// a service as a [`nubes::Cloud`] hands it out, wrapped in the layers every provider relies on
/// (capability and input checks): build them with [`Backends::connect`] or [`Backends::of`].
#[derive(Debug, Clone, Default)]
pub struct Backends {
    pub compute: Option<Arc<dyn nubes::Compute>>,
    pub storage: Option<Arc<dyn nubes::Storage>>,
    pub disk: Option<Arc<dyn nubes::Disk>>,
    pub function: Option<Arc<dyn nubes::Function>>,
    /// Where billing's time comes from; the system clock when unset.
    pub clock: Option<Arc<dyn billing::Clock>>,
}

impl Backends {
    /// The services `cloud` offers.
    pub fn of(cloud: &nubes::Cloud) -> Self {
        Self {
            compute: cloud.compute().ok(),
            storage: cloud.storage().ok(),
            disk: cloud.disk().ok(),
            function: cloud.function().ok(),
            clock: None,
        }
    }

    /// Connects the providers `config` names; `fleet://` is the fleet of lessor agents, made in
    /// [`state_with`] since it needs the database.
    pub async fn connect(config: &Config) -> nubes::Result<Self> {
        let mut b = Self::default();
        if let Some(uri) = config.compute.as_deref().filter(|u| !is_fleet(u)) {
            shared_safely(uri)?;
            b.compute = Some(connect(uri).await?.compute()?);
        }
        if let Some(uri) = &config.storage {
            b.storage = Some(connect(uri).await?.storage()?);
        }
        if let Some(uri) = &config.disk {
            b.disk = Some(connect(uri).await?.disk()?);
        }
        if let Some(uri) = &config.function {
            b.function = Some(connect(uri).await?.function()?);
        }
        Ok(b)
    }
}

/// Refuses compute that would let tenants reach each other or run what nobody bills. EC2
/// instances launched in a VPC's default security group reach each other on every port, and
/// an AMI from anyone may bring volumes and licences: a server names the group (one that lets
/// no member in) and whose images tenants may launch.
fn shared_safely(uri: &str) -> nubes::Result<()> {
    if !uri.starts_with("aws://") {
        return Ok(());
    }
    let query = uri.split_once('?').map_or("", |(_, q)| q);
    for option in ["security_group", "image_owners"] {
        if !query
            .split('&')
            .any(|kv| kv.starts_with(&format!("{option}=")))
        {
            return Err(nubes::Error::invalid_input(format!(
                "a server's EC2 compute needs {option}=: without a security group that lets no \
                 member in, tenants' instances reach each other; without image owners, a \
                 tenant's image can bring volumes and licences nobody bills"
            )));
        }
    }
    Ok(())
}

/// Whether `uri` names the fleet of lessor agents (`fleet://`) rather than a provider.
pub fn is_fleet(uri: &str) -> bool {
    uri.starts_with("fleet:")
}

/// Opens the database, connects the providers `config` names and builds the application state.
pub async fn state(config: &Config) -> nubes::Result<AppState> {
    state_with(config, Backends::connect(config).await?).await
}

/// As [`state`], with providers built by the caller (an embedding application, a test).
pub async fn state_with(config: &Config, mut backends: Backends) -> nubes::Result<AppState> {
    let db = Db::connect(&config.database_url).await?;
    let fleet = match config.compute.as_deref() {
        Some(uri) if is_fleet(uri) => {
            let fleet = agents::fleet(&db, config.fleet.clone()).await?;
            let cloud =
                nubes::Cloud::new(nubes_agent::fleet::SCHEME).with_compute(Arc::new(fleet.clone()));
            backends.compute = Some(cloud.compute()?);
            Some(fleet)
        }
        _ => None,
    };
    let mut accounts = Accounts::new(db.clone(), config.jwt_secret.clone()).await?;
    let mailer: Option<Arc<dyn mail::Mailer>> = match &config.smtp_url {
        Some(url) => {
            let from = config
                .mail_from
                .as_deref()
                .unwrap_or("Nubes <no-reply@nubes.local>");
            Some(Arc::new(mail::SmtpMailer::new(url, from)?))
        }
        None => None,
    };
    if let Some(m) = &mailer {
        accounts = accounts.with_mailer(m.clone());
    }
    let events = events::Events::default();
    let clusters = clusters::Clusters::new(db.clone(), fleet.clone());
    if let Some(fleet) = &fleet {
        events.follow(fleet, db.clone());
    }
    let mut billing = billing::Billing::new(
        db.clone(),
        backends
            .clock
            .clone()
            .unwrap_or_else(|| Arc::new(billing::SystemClock)),
        config.billing_settings.clone(),
    );
    if let Some(m) = mailer {
        billing = billing.with_mailer(m);
    }
    // With billing, every transition of a tenant's instance is metered, and a tick charges
    // what running instances owe.
    let metering = match (&backends.compute, config.billing) {
        (Some(raw), true) => {
            let metering =
                metering::open(&db, &billing, fleet.clone(), &usage_journal(config)?).await?;
            backends.compute = Some(Arc::new(metering::Metered::new(
                raw.clone(),
                metering.clone(),
            )));
            Some(metering)
        }
        _ => None,
    };
    let state = AppState::new(http::Services {
        events: events.clone(),
        accounts: Arc::new(accounts),
        orgs: orgs::Orgs::new(db.clone()),
        instances: instances::Instances::new(
            db.clone(),
            backends.compute.clone(),
            events.clone(),
            clusters.clone(),
            config
                .billing
                .then(|| billing.clone())
                .zip(metering.clone()),
            fleet.clone(),
        ),
        clusters,
        buckets: buckets::Buckets::new(db.clone(), backends.storage, config.bounds),
        disks: disks::Disks::new(db.clone(), backends.disk, config.bounds, events),
        functions: functions::Functions::new(
            db.clone(),
            backends.function,
            config.billing.then(|| billing.clone()),
            config.bounds,
        ),
        admin: admin::Admin::new(db.clone(), backends.compute, fleet.clone()),
        billing: billing.clone(),
        metering,
        agents: agents::Agents::new(db, fleet),
        metrics: Default::default(),
        sockets: gates::Gate::new("open WebSockets", SOCKETS_PER_USER),
        trusted_proxies: Arc::new(config.trusted_proxies.clone()),
        connections_per_address: config.bounds.connections_per_address,
        swagger_ui_dir: config.swagger_ui_dir.clone(),
        web_dir: config.web_dir.clone(),
    });
    // Creates a crash cut short are settled before anyone is served. On SQLite this server is
    // the only one; on PostgreSQL, younger rows may be another server's creates in flight, so
    // they wait for a second pass.
    let instances = state.instances.clone();
    if state.accounts.db().is_sqlite() {
        report(instances.recover(None).await?);
    } else {
        let started = accounts::now();
        report(
            instances
                .recover(Some(started - CREATE_GRACE.as_secs() as i64))
                .await?,
        );
        tokio::spawn(async move {
            tokio::time::sleep(CREATE_GRACE).await;
            match instances.recover(Some(started)).await {
                Ok(r) => report(r),
                Err(e) => tracing::error!(error = %e, "recovering instances failed"),
            }
        });
    }
    // With billing, a tick charges what running instances owe.
    if let (true, Some(every)) = (config.billing, config.billing_tick) {
        let instances = state.instances.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                if let Err(e) = instances.meter().await {
                    tracing::error!(error = %e, "metering tick failed");
                }
            }
        });
    }
    Ok(state)
}

/// Where metering's journal lives: as configured, or beside an SQLite database file.
fn usage_journal(config: &Config) -> nubes::Result<std::path::PathBuf> {
    if let Some(dir) = &config.usage_journal {
        return Ok(dir.clone());
    }
    let file = config
        .database_url
        .strip_prefix("sqlite://")
        .map(|rest| rest.split('?').next().unwrap_or_default())
        .filter(|path| !path.is_empty() && !path.contains(":memory:"));
    match file {
        Some(path) => Ok(std::path::PathBuf::from(format!("{path}.usage-journal"))),
        None => Err(nubes::Error::invalid_input(
            "billing needs a directory for its usage journal: set usage_journal \
             (cloudctl serve keeps it in --data-dir)",
        )),
    }
}

async fn connect(uri: &str) -> nubes::Result<nubes::Cloud> {
    use nubes::prelude::Connect;
    nubes::Cloud::connect(uri).await
}

/// The longest a create may take between its row and the backend's answer, as far as another
/// server recovering after a crash is concerned.
const CREATE_GRACE: std::time::Duration = std::time::Duration::from_secs(300);

fn report(r: instances::Recovered) {
    if r != instances::Recovered::default() {
        tracing::warn!(
            undone = r.undone.len(),
            started = r.started.len(),
            "instances recovered at startup"
        );
    }
}

/// WebSockets (event streams and interactive execs) one user may hold open at once.
pub const SOCKETS_PER_USER: usize = 16;

/// Serves the API on `listener`, recording each client's address for the audit log; slow or
/// idle clients are cut off, and one address holds a bounded number of connections (`listen`).
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    let (trusted, most) = (state.trusted_proxies.clone(), state.connections_per_address);
    listen::serve_router(listener, app(state), trusted, most).await
}
