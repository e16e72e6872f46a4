//! Where paid credits come from. A [`PaymentProvider`] (vouchers, a card processor, an invoice
//! system) settles what a user presents and says what was paid; the platform credits the wallet
//! under one ledger key per provider and reference, so a payment settled twice (a retry, a
//! replayed notification) credits once.

use nubes_core::{async_trait, Result};

use crate::ledger::{Account, Kind, Transaction};
use crate::money::Credits;

/// What a provider confirmed was paid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    /// The provider's own id for it: the same payment always has the same reference.
    pub reference: String,
    pub amount: Credits,
    /// What the user's transaction list says it was.
    pub memo: String,
}

#[async_trait]
pub trait PaymentProvider: Send + Sync + std::fmt::Debug {
    /// How users and the ledger name it: `voucher`, `stripe`.
    fn name(&self) -> &'static str;

    /// Settles what `user_id` presents (a voucher code; for a card processor, its checkout
    /// session) and returns what was paid. Presented again by the same user, the same payment
    /// comes back with the same reference, so a settle whose credit was lost can be retried;
    /// presented by anyone else, it is refused.
    async fn settle(&self, user_id: &str, token: &str) -> Result<Payment>;
}

/// The ledger transaction that credits `payment` from `provider` to `user_id`'s wallet.
pub fn credit(provider: &str, user_id: &str, payment: &Payment) -> Transaction {
    Transaction::new(
        format!("payment:{provider}:{}", payment.reference),
        Kind::Payment,
        payment.memo.clone(),
    )
    .transfer(
        Account::Payments(provider.to_string()),
        Account::Wallet(user_id.to_string()),
        payment.amount,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payment_is_one_balanced_transaction_keyed_by_its_reference() {
        let p = Payment {
            reference: "v1".into(),
            amount: Credits::whole(25),
            memo: "voucher".into(),
        };
        let tx = credit("voucher", "u1", &p);
        assert_eq!(tx.key, "payment:voucher:v1");
        assert_eq!(tx.kind, Kind::Payment);
        tx.validate().unwrap();
        assert_eq!(
            tx.entries
                .iter()
                .map(|e| (e.account.key(), e.amount.to_string()))
                .collect::<Vec<_>>(),
            [
                ("payments:voucher".to_string(), "-25".to_string()),
                ("wallet:u1".to_string(), "25".to_string())
            ]
        );
    }
}
