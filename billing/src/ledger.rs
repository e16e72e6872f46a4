//! The double-entry ledger's rules: every transaction's entries sum to zero, so no balance
//! changes without the others changing back. A store writes a transaction and the balances it
//! moves in one database transaction.

use nubes_core::{Error, ErrorKind, Result};
use serde::{Deserialize, Serialize};

use crate::money::Credits;

/// Where credits are.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Account {
    /// A user's credits.
    Wallet(String),
    /// What a lessor's agent has earned.
    Earnings(String),
    /// The platform's fee on usage.
    Fees,
    /// Usage with no agent to pay (instances the platform runs itself).
    Platform,
    /// Where plan grants come from.
    Grants,
    /// Where paid top-ups come from.
    TopUps,
    /// Where a payment provider's payments come from, by provider.
    Payments(String),
    /// Admins' corrections.
    Adjustments,
}

impl Account {
    /// One string per account, for a database key.
    pub fn key(&self) -> String {
        match self {
            Account::Wallet(id) => format!("wallet:{id}"),
            Account::Earnings(id) => format!("earnings:{id}"),
            Account::Fees => "fees".into(),
            Account::Platform => "platform".into(),
            Account::Grants => "grants".into(),
            Account::TopUps => "topups".into(),
            Account::Payments(provider) => format!("payments:{provider}"),
            Account::Adjustments => "adjustments".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Usage,
    Grant,
    TopUp,
    Adjustment,
    PlanSwitch,
    Payment,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Usage => "usage",
            Kind::Grant => "grant",
            Kind::TopUp => "top_up",
            Kind::Adjustment => "adjustment",
            Kind::PlanSwitch => "plan_switch",
            Kind::Payment => "payment",
        }
    }
}

/// One side of a transaction: positive credits the account, negative debits it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub account: Account,
    pub amount: Credits,
}

/// Entries that move credits together. `key` makes posting idempotent: a transaction whose key
/// was posted before is not posted again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    pub key: String,
    pub kind: Kind,
    pub memo: String,
    pub entries: Vec<Entry>,
}

impl Transaction {
    pub fn new(key: impl Into<String>, kind: Kind, memo: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            kind,
            memo: memo.into(),
            entries: Vec::new(),
        }
    }

    /// Moves `amount` from `from` to `to`.
    pub fn transfer(mut self, from: Account, to: Account, amount: Credits) -> Self {
        self.entries.push(Entry {
            account: from,
            amount: -amount,
        });
        self.entries.push(Entry {
            account: to,
            amount,
        });
        self
    }

    /// Entries that sum to zero, none of them zero, on a key.
    pub fn validate(&self) -> Result<()> {
        if self.key.is_empty() {
            return Err(Error::invalid_input(
                "a transaction needs an idempotency key",
            ));
        }
        if self.entries.is_empty() || self.entries.iter().any(|e| e.amount == Credits::ZERO) {
            return Err(Error::invalid_input(
                "a transaction moves something: no empty transactions or zero entries",
            ));
        }
        let sum: i128 = self
            .entries
            .iter()
            .map(|e| i128::from(e.amount.micros()))
            .sum();
        if sum != 0 {
            return Err(Error::new(
                ErrorKind::Unexpected,
                format!(
                    "transaction {} does not balance: its entries sum to {sum} micro-credits",
                    self.key
                ),
            ));
        }
        Ok(())
    }
}

/// The platform's share of usage, in basis points (2000 = 20%).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fee(pub u32);

impl Default for Fee {
    fn default() -> Self {
        Fee(2000)
    }
}

/// A user's usage charge: the wallet pays, the lessor earns what the platform does not keep.
/// Without an agent (the platform's own machines) the platform takes all of it.
pub fn usage(
    key: String,
    memo: String,
    user: &str,
    agent: Option<&str>,
    amount: Credits,
    fee: Fee,
) -> Transaction {
    let tx = Transaction::new(key, Kind::Usage, memo);
    let wallet = Account::Wallet(user.to_string());
    match agent {
        None => tx.transfer(wallet, Account::Platform, amount),
        Some(agent) => {
            let cut = Credits::from_micros(
                (i128::from(amount.micros()) * i128::from(fee.0.min(10_000)) / 10_000) as i64,
            );
            let earned = amount.checked_sub(cut).unwrap_or_default();
            let mut tx = Transaction {
                entries: vec![Entry {
                    account: wallet,
                    amount: -amount,
                }],
                ..tx
            };
            if earned != Credits::ZERO {
                tx.entries.push(Entry {
                    account: Account::Earnings(agent.to_string()),
                    amount: earned,
                });
            }
            if cut != Credits::ZERO {
                tx.entries.push(Entry {
                    account: Account::Fees,
                    amount: cut,
                });
            }
            tx
        }
    }
}

/// A usage charge of which `prepaid` was paid ahead (and sits with the platform) and
/// `charged` comes from the wallet now. The lessor earns their share of both; the platform keeps
/// its fee. Without an agent, the prepaid part is simply the platform's already.
pub fn usage_with_prepaid(
    key: String,
    memo: String,
    user: &str,
    agent: Option<&str>,
    charged: Credits,
    prepaid: Credits,
    fee: Fee,
) -> Option<Transaction> {
    let Some(agent) = agent else {
        return (charged != Credits::ZERO).then(|| usage(key, memo, user, None, charged, fee));
    };
    let total = charged.checked_add(prepaid)?;
    if total == Credits::ZERO {
        return None;
    }
    let mut tx = usage(key, memo, user, Some(agent), total, fee);
    // The wallet pays only what was not paid ahead; the platform hands over the rest.
    tx.entries
        .retain(|e| !matches!(e.account, Account::Wallet(_)));
    if charged != Credits::ZERO {
        tx.entries.push(Entry {
            account: Account::Wallet(user.to_string()),
            amount: -charged,
        });
    }
    if prepaid != Credits::ZERO {
        tx.entries.push(Entry {
            account: Account::Platform,
            amount: -prepaid,
        });
    }
    Some(tx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_splits_between_lessor_and_platform_and_balances() {
        let tx = usage(
            "u1".into(),
            "web".into(),
            "alice",
            Some("agent-7"),
            Credits::from_micros(1_000_001),
            Fee(2000),
        );
        tx.validate().unwrap();
        let by = |a: &Account| {
            tx.entries
                .iter()
                .find(|e| &e.account == a)
                .unwrap()
                .amount
                .micros()
        };
        assert_eq!(by(&Account::Wallet("alice".into())), -1_000_001);
        // The fee is floored; the lessor gets the rest, so nothing is lost to rounding.
        assert_eq!(by(&Account::Fees), 200_000);
        assert_eq!(by(&Account::Earnings("agent-7".into())), 800_001);
        let own = usage(
            "u2".into(),
            "web".into(),
            "alice",
            None,
            Credits::whole(1),
            Fee(2000),
        );
        own.validate().unwrap();
        assert_eq!(own.entries.len(), 2);
    }

    #[test]
    fn prepaid_usage_pays_the_lessor_from_the_platform() {
        let tx = usage_with_prepaid(
            "k".into(),
            "m".into(),
            "alice",
            Some("agent-1"),
            Credits::whole(1),
            Credits::whole(3),
            Fee(2500),
        )
        .unwrap();
        tx.validate().unwrap();
        let by = |a: &Account| {
            tx.entries
                .iter()
                .find(|e| &e.account == a)
                .map(|e| e.amount)
        };
        assert_eq!(
            by(&Account::Wallet("alice".into())),
            Some(Credits::whole(-1))
        );
        assert_eq!(by(&Account::Platform), Some(Credits::whole(-3)));
        assert_eq!(
            by(&Account::Earnings("agent-1".into())),
            Some(Credits::whole(3))
        );
        assert_eq!(by(&Account::Fees), Some(Credits::whole(1)));
        assert!(usage_with_prepaid(
            "k".into(),
            "m".into(),
            "a",
            None,
            Credits::ZERO,
            Credits::whole(1),
            Fee(0)
        )
        .is_none());
    }

    #[test]
    fn unbalanced_or_empty_transactions_are_refused() {
        let mut tx = Transaction::new("k", Kind::Adjustment, "x").transfer(
            Account::Adjustments,
            Account::Wallet("a".into()),
            Credits::whole(5),
        );
        tx.validate().unwrap();
        tx.entries[0].amount = Credits::whole(-4);
        assert!(tx.validate().is_err());
        assert!(Transaction::new("k", Kind::Grant, "x").validate().is_err());
        assert!(Transaction::new("", Kind::Grant, "x")
            .transfer(
                Account::Grants,
                Account::Wallet("a".into()),
                Credits::whole(1)
            )
            .validate()
            .is_err());
        let zero = Transaction::new("z", Kind::Grant, "x").transfer(
            Account::Grants,
            Account::Wallet("a".into()),
            Credits::ZERO,
        );
        assert!(zero.validate().is_err());
    }
}
