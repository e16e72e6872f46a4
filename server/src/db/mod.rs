//! The database: SQLite in the data directory by default, PostgreSQL by URL. One portable schema
//! (TEXT ids, BIGINT unix times and flags) and one set of queries serve both, through sqlx's Any
//! driver. Queries number their parameters `$1, $2, ...` in order of first use, which both
//! engines read the same way.

pub mod cache;
mod schema;

use std::sync::Arc;

use nubes::{Error, ErrorKind, Result};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::AnyPool;

/// A connection pool to the server's database.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    sqlite: bool,
    cache: Arc<cache::Caches>,
}

impl Db {
    /// Connects (creating an SQLite file if needed) and brings the schema up to date.
    pub async fn connect(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let url = if url.starts_with("sqlite:") && !url.contains("mode=") {
            format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
        } else {
            url.to_string()
        };
        let sqlite = url.starts_with("sqlite:");
        let mut options = AnyPoolOptions::new()
            .max_connections(if sqlite { 4 } else { 10 })
            // A connection that comes back still inside a transaction (its COMMIT failed, as on
            // a full disk, and the database may or may not have rolled back by itself) is
            // closed, not reused: reused, it would hold the write lock for ever, or take later
            // writes into a transaction nobody commits.
            .after_release(|conn, _| {
                Box::pin(async move { Ok(!sqlx::Connection::is_in_transaction(conn)) })
            });
        if sqlite {
            // WAL lets readers run beside the writer; the busy timeout makes writers wait their
            // turn instead of failing. One connection alone serialised every request (measured:
            // the authenticated GET ran at 0.07x a bare route with 16 clients).
            options = options.after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::query("PRAGMA busy_timeout = 5000")
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("PRAGMA journal_mode = WAL")
                        .execute(&mut *conn)
                        .await?;
                    Ok(())
                })
            });
        }
        let pool = options.connect(&url).await.map_err(|e| {
            Error::new(
                ErrorKind::Unavailable,
                format!("cannot open the database: {}", redact(&e)),
            )
        })?;
        let db = Self {
            pool,
            sqlite,
            cache: Arc::default(),
        };
        schema::migrate(&db).await?;
        Ok(db)
    }

    /// Whether the database is SQLite, which one server holds at a time (the data directory's
    /// lock), as against PostgreSQL, which several may share.
    pub fn is_sqlite(&self) -> bool {
        self.sqlite
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    fn cache(&self) -> &cache::Caches {
        &self.cache
    }
}

/// A database error as the API may show it: unique violations are `AlreadyExists` (the caller
/// names what), everything else is an internal error whose SQL text never leaves the server.
pub fn map(e: sqlx::Error, what: &str) -> Error {
    if let sqlx::Error::Database(db) = &e {
        if db.is_unique_violation() {
            return Error::already_exists(format!("{what} already exists"));
        }
        if let Some(what) = db.code().as_deref().and_then(storage_failure) {
            tracing::error!(error = %e, "the database cannot write: {what}");
            return Error::new(
                ErrorKind::Unavailable,
                format!("the server is {what}: nothing was changed; try again later"),
            )
            .set_temporary();
        }
    }
    if let sqlx::Error::Io(io) = &e {
        tracing::error!(error = %io, "the database's storage failed");
        return Error::new(
            ErrorKind::Unavailable,
            "the server's storage failed: nothing was changed; try again later",
        )
        .set_temporary();
    }
    tracing::error!(error = %e, "database error");
    Error::unexpected("internal error")
}

/// What a database error code says about the server's storage, when it is about that: SQLite's
/// (numeric, extended) codes whose primary code is SQLITE_FULL (13) or SQLITE_IOERR (10), and
/// PostgreSQL's five-character disk_full (53100). Nothing the client did causes these.
fn storage_failure(code: &str) -> Option<&'static str> {
    if code == "53100" {
        return Some("out of disk space");
    }
    if code.len() == 5 {
        return None;
    }
    match code.parse::<u32>().ok()? & 0xff {
        13 => Some("out of disk space"),
        10 => Some("unable to write to its disk"),
        _ => None,
    }
}

fn redact(e: &sqlx::Error) -> String {
    // Connection errors can echo the URL, password included; keep only the kind.
    match e {
        sqlx::Error::Io(io) => io.kind().to_string(),
        sqlx::Error::Configuration(_) => "invalid database URL".into(),
        sqlx::Error::Database(db) => db
            .code()
            .map(|c| format!("database error {c}"))
            .unwrap_or_else(|| "database error".into()),
        _ => "connection failed".into(),
    }
}

/// Reads a column, turning a decoding failure into an internal error.
pub fn col<'r, T>(row: &'r AnyRow, name: &str) -> Result<T>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    use sqlx::Row;
    row.try_get(name).map_err(|e| map(e, name))
}

mod agents;
mod audit;
mod clusters;
mod instances;
mod ledger;
mod locks;
mod meters;
mod orgs;
mod resources;
mod sessions;
mod tokens;
mod users;
mod vouchers;

pub use agents::AgentRow;
pub use audit::{AuditEntry, AuditFilter};
pub use clusters::ClusterRow;
pub use instances::InstanceRow;
pub use ledger::{Posted, TxRow};
pub use locks::{org_lock, user_lock, Locked};
pub use meters::{MeterRow, Settlement, UsageRow};
pub use orgs::{InviteRow, MemberRow, OrgRow};
pub use resources::{Kind, ResourceRow};
pub use sessions::RefreshLookup;
pub use tokens::ApiTokenRow;
pub use users::UserRow;
pub use vouchers::{Redemption, VoucherRow};
