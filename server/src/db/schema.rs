//! Schema migrations, applied in order once each; the applied versions are recorded in the
//! database itself, so a restart (or a second replica) applies nothing twice.

use nubes::Result;

use super::{map, Db};

const MIGRATIONS: &[(i64, &[&str])] = &[
    (
        1,
        &[
            "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            "CREATE TABLE users (
            id TEXT PRIMARY KEY,
            email TEXT NOT NULL UNIQUE,
            password_hash TEXT NOT NULL,
            platform_admin BIGINT NOT NULL DEFAULT 0,
            totp_secret TEXT,
            totp_pending TEXT,
            totp_last_step BIGINT,
            created_at BIGINT NOT NULL
        )",
            "CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users(id),
            refresh_hash TEXT NOT NULL UNIQUE,
            created_at BIGINT NOT NULL,
            expires_at BIGINT NOT NULL,
            revoked_at BIGINT
        )",
            "CREATE TABLE spent_refresh_tokens (
            hash TEXT PRIMARY KEY,
            session_id TEXT NOT NULL REFERENCES sessions(id)
        )",
        ],
    ),
    (
        2,
        &[
            "CREATE TABLE orgs (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            created_by TEXT NOT NULL REFERENCES users(id),
            created_at BIGINT NOT NULL
        )",
            "CREATE TABLE members (
            org_id TEXT NOT NULL REFERENCES orgs(id),
            user_id TEXT NOT NULL REFERENCES users(id),
            role TEXT NOT NULL,
            joined_at BIGINT NOT NULL,
            PRIMARY KEY (org_id, user_id)
        )",
            "CREATE TABLE invites (
            id TEXT PRIMARY KEY,
            org_id TEXT NOT NULL REFERENCES orgs(id),
            code_hash TEXT NOT NULL UNIQUE,
            role TEXT NOT NULL,
            created_by TEXT NOT NULL REFERENCES users(id),
            created_at BIGINT NOT NULL,
            expires_at BIGINT NOT NULL,
            revoked_at BIGINT
        )",
        ],
    ),
    (
        3,
        &["CREATE TABLE instances (
            id TEXT PRIMARY KEY,
            org_id TEXT NOT NULL REFERENCES orgs(id),
            owner_id TEXT NOT NULL REFERENCES users(id),
            name TEXT NOT NULL,
            backend_id TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            UNIQUE (org_id, name)
        )"],
    ),
    (
        4,
        &[
            "CREATE TABLE audit (
            id TEXT PRIMARY KEY,
            at BIGINT NOT NULL,
            user_id TEXT,
            org_id TEXT,
            action TEXT NOT NULL,
            resource TEXT NOT NULL,
            status BIGINT NOT NULL,
            source TEXT
        )",
            "CREATE INDEX audit_at ON audit (at)",
        ],
    ),
    (
        5,
        &[
            "ALTER TABLE users ADD COLUMN email_otp BIGINT NOT NULL DEFAULT 0",
            "CREATE TABLE email_codes (
            challenge_id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users(id),
            code_hash TEXT NOT NULL,
            expires_at BIGINT NOT NULL,
            used_at BIGINT
        )",
        ],
    ),
    (
        6,
        &["CREATE TABLE api_tokens (
            id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users(id),
            name TEXT NOT NULL,
            token_hash TEXT NOT NULL UNIQUE,
            created_at BIGINT NOT NULL,
            last_used_at BIGINT,
            revoked_at BIGINT
        )"],
    ),
    (
        7,
        // Disks, buckets and functions: one table, since tenancy treats them alike.
        &["CREATE TABLE resources (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            org_id TEXT NOT NULL REFERENCES orgs(id),
            owner_id TEXT NOT NULL REFERENCES users(id),
            name TEXT NOT NULL,
            backend_id TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            UNIQUE (kind, org_id, name)
        )"],
    ),
    (
        8,
        &["CREATE TABLE agents (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            token_hash TEXT NOT NULL UNIQUE,
            created_by TEXT NOT NULL REFERENCES users(id),
            created_at BIGINT NOT NULL,
            revoked_at BIGINT,
            cordoned BIGINT NOT NULL DEFAULT 0
        )"],
    ),
    (
        9,
        // The fleet's wait queue, so a restart loses no waiting request.
        &["CREATE TABLE fleet_queue (
            name TEXT PRIMARY KEY,
            spec TEXT NOT NULL,
            priority BIGINT NOT NULL,
            seq BIGINT NOT NULL
        )"],
    ),
    (
        10,
        // Clusters: capacity an organization reserves out of the fleet.
        &["CREATE TABLE clusters (
            id TEXT PRIMARY KEY,
            org_id TEXT NOT NULL REFERENCES orgs(id),
            name TEXT NOT NULL,
            millicpus BIGINT NOT NULL,
            memory BIGINT NOT NULL,
            gpus BIGINT NOT NULL,
            created_by TEXT NOT NULL REFERENCES users(id),
            created_at BIGINT NOT NULL,
            UNIQUE (org_id, name)
        )"],
    ),
    (
        11,
        // How each fleet instance was asked for, so a drain or a preemption can place it again
        // after a restart as well.
        &["CREATE TABLE fleet_specs (
            name TEXT PRIMARY KEY,
            spec TEXT NOT NULL,
            priority BIGINT NOT NULL
        )"],
    ),
    (
        12,
        // The double-entry ledger: a balance per account, moved only with entries that sum to
        // zero; each transaction's key makes posting it idempotent. Plans per user, with the
        // start of their current month.
        &[
            "CREATE TABLE ledger_accounts (
                account TEXT PRIMARY KEY,
                balance BIGINT NOT NULL
            )",
            "CREATE TABLE ledger_transactions (
                id TEXT PRIMARY KEY,
                tx_key TEXT NOT NULL UNIQUE,
                kind TEXT NOT NULL,
                memo TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                posted_ns BIGINT NOT NULL
            )",
            "CREATE TABLE ledger_entries (
                tx_id TEXT NOT NULL REFERENCES ledger_transactions(id),
                account TEXT NOT NULL,
                amount BIGINT NOT NULL
            )",
            "CREATE INDEX ledger_entries_account ON ledger_entries (account)",
            "CREATE TABLE billing_plans (
                user_id TEXT PRIMARY KEY REFERENCES users(id),
                plan TEXT NOT NULL,
                period_start BIGINT NOT NULL
            )",
        ],
    ),
    (
        13,
        // Metering: each instance's lifecycle events, numbered per instance (the number makes
        // them idempotent), and its meter: who pays, what was paid ahead, and the meter's state,
        // written in the same transaction as the charges it makes.
        &[
            "CREATE TABLE usage_events (
                backend_id TEXT NOT NULL,
                seq BIGINT NOT NULL,
                transition TEXT NOT NULL,
                at BIGINT NOT NULL,
                millicpus BIGINT NOT NULL,
                memory BIGINT NOT NULL,
                PRIMARY KEY (backend_id, seq)
            )",
            "CREATE TABLE meters (
                backend_id TEXT PRIMARY KEY,
                user_id TEXT NOT NULL,
                prepaid BIGINT NOT NULL,
                state TEXT NOT NULL,
                open INTEGER NOT NULL
            )",
        ],
    ),
    (
        14,
        // Usage by day, instance and resource, for reports; kept after the instance is gone,
        // with the tenant's id and name for it.
        &[
            "CREATE TABLE usage_daily (
                user_id TEXT NOT NULL,
                backend_id TEXT NOT NULL,
                day BIGINT NOT NULL,
                instance_id TEXT NOT NULL,
                name TEXT NOT NULL,
                instance BIGINT NOT NULL,
                cpu BIGINT NOT NULL,
                memory BIGINT NOT NULL,
                disk BIGINT NOT NULL,
                PRIMARY KEY (user_id, backend_id, day)
            )",
            "ALTER TABLE meters ADD COLUMN instance_id TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE meters ADD COLUMN name TEXT NOT NULL DEFAULT ''",
        ],
    ),
    (
        15,
        // Vouchers: codes worth credits, kept as hashes (the code is shown once), redeemed once.
        &["CREATE TABLE vouchers (
                id TEXT PRIMARY KEY,
                code_hash TEXT NOT NULL UNIQUE,
                amount BIGINT NOT NULL,
                memo TEXT NOT NULL,
                created_by TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                expires_at BIGINT,
                redeemed_by TEXT,
                redeemed_at BIGINT
            )"],
    ),
    (
        16,
        // Per-tenant locks (see db/locks.rs), and each instance's size as admitted, so plan
        // limits are checked against the rows in the same transaction that adds one. Rows from
        // before count at the defaults every provider is given (1 cpu, 256 MiB).
        &[
            "CREATE TABLE tenant_locks (key TEXT PRIMARY KEY, version BIGINT NOT NULL)",
            "ALTER TABLE instances ADD COLUMN millicpus BIGINT NOT NULL DEFAULT 1000",
            "ALTER TABLE instances ADD COLUMN memory BIGINT NOT NULL DEFAULT 268435456",
            "ALTER TABLE instances ADD COLUMN disk BIGINT NOT NULL DEFAULT 0",
            // The agent a fleet instance was placed on: only it may claim the instance.
            "ALTER TABLE instances ADD COLUMN agent_id TEXT",
            // An invite is good for `max_uses` joins (one unless its maker says more).
            "ALTER TABLE invites ADD COLUMN max_uses BIGINT NOT NULL DEFAULT 1",
            "ALTER TABLE invites ADD COLUMN uses BIGINT NOT NULL DEFAULT 0",
        ],
    ),
];

pub async fn migrate(db: &Db) -> Result<()> {
    let pool = db.pool();
    sqlx::query("CREATE TABLE IF NOT EXISTS nubes_migrations (version BIGINT PRIMARY KEY)")
        .execute(pool)
        .await
        .map_err(|e| map(e, "migrations"))?;
    for (version, statements) in MIGRATIONS {
        let applied: Option<i64> =
            sqlx::query_scalar("SELECT version FROM nubes_migrations WHERE version = $1")
                .bind(version)
                .fetch_optional(pool)
                .await
                .map_err(|e| map(e, "migrations"))?;
        if applied.is_some() {
            continue;
        }
        let mut tx = pool.begin().await.map_err(|e| map(e, "migrations"))?;
        for statement in *statements {
            sqlx::query(statement)
                .execute(&mut *tx)
                .await
                .map_err(|e| map(e, "migrations"))?;
        }
        sqlx::query("INSERT INTO nubes_migrations (version) VALUES ($1)")
            .bind(version)
            .execute(&mut *tx)
            .await
            .map_err(|e| map(e, "migrations"))?;
        tx.commit().await.map_err(|e| map(e, "migrations"))?;
    }
    Ok(())
}
