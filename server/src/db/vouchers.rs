//! Vouchers' storage: a batch is issued in one transaction, and a code is redeemed by one
//! conditional update, so two users racing for one code cannot both have it.

use nubes::Result;

use super::{map, Db};

/// A voucher as stored (its code only as a hash, elsewhere).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoucherRow {
    pub id: String,
    /// Micro-credits.
    pub amount: i64,
    pub memo: String,
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub redeemed_by: Option<String>,
    pub redeemed_at: Option<i64>,
}

/// What became of presenting a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redemption {
    /// The presenter's, now or from an earlier try.
    Theirs(VoucherRow),
    NoSuchCode,
    /// Someone else redeemed it first.
    Taken,
    Expired(i64),
}

type VoucherTuple = (
    String,
    i64,
    String,
    String,
    i64,
    Option<i64>,
    Option<String>,
    Option<i64>,
);

const COLUMNS: &str =
    "id, amount, memo, created_by, created_at, expires_at, redeemed_by, redeemed_at";

fn row(t: VoucherTuple) -> VoucherRow {
    let (id, amount, memo, created_by, created_at, expires_at, redeemed_by, redeemed_at) = t;
    VoucherRow {
        id,
        amount,
        memo,
        created_by,
        created_at,
        expires_at,
        redeemed_by,
        redeemed_at,
    }
}

impl Db {
    /// Stores `vouchers`, each with its code's hash: all or none.
    pub async fn insert_vouchers(&self, vouchers: &[(VoucherRow, String)]) -> Result<()> {
        let mut db = self.pool().begin().await.map_err(|e| map(e, "voucher"))?;
        for (v, code_hash) in vouchers {
            sqlx::query(
                "INSERT INTO vouchers (id, code_hash, amount, memo, created_by, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&v.id)
            .bind(code_hash)
            .bind(v.amount)
            .bind(&v.memo)
            .bind(&v.created_by)
            .bind(v.created_at)
            .bind(v.expires_at)
            .execute(&mut *db)
            .await
            .map_err(|e| map(e, "voucher"))?;
        }
        db.commit().await.map_err(|e| map(e, "voucher"))
    }

    /// The newest `limit` vouchers.
    pub async fn vouchers(&self, limit: i64) -> Result<Vec<VoucherRow>> {
        let rows: Vec<VoucherTuple> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM vouchers ORDER BY created_at DESC, id LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(self.pool())
        .await
        .map_err(|e| map(e, "voucher"))?;
        Ok(rows.into_iter().map(row).collect())
    }

    /// Redeems the voucher whose code hashes to `code_hash` for `user_id`, unless someone has
    /// or it expired.
    pub async fn redeem_voucher(
        &self,
        code_hash: &str,
        user_id: &str,
        now: i64,
    ) -> Result<Redemption> {
        sqlx::query(
            "UPDATE vouchers SET redeemed_by = $2, redeemed_at = $3 WHERE code_hash = $1 \
             AND redeemed_by IS NULL AND (expires_at IS NULL OR expires_at > $3)",
        )
        .bind(code_hash)
        .bind(user_id)
        .bind(now)
        .execute(self.pool())
        .await
        .map_err(|e| map(e, "voucher"))?;
        // Once redeemed, a voucher never changes again: what this reads is final.
        let found: Option<VoucherTuple> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM vouchers WHERE code_hash = $1"
        ))
        .bind(code_hash)
        .fetch_optional(self.pool())
        .await
        .map_err(|e| map(e, "voucher"))?;
        let Some(v) = found.map(row) else {
            return Ok(Redemption::NoSuchCode);
        };
        match (&v.redeemed_by, v.expires_at) {
            (Some(by), _) if by == user_id => Ok(Redemption::Theirs(v)),
            (Some(_), _) => Ok(Redemption::Taken),
            (None, Some(at)) if at <= now => Ok(Redemption::Expired(at)),
            _ => Err(nubes::Error::unexpected(format!(
                "voucher {} is neither redeemed nor expired, and yet was not redeemed",
                v.id
            ))),
        }
    }
}
