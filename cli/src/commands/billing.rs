//! `cloudctl billing`: plans, the balance and its transactions, redeeming vouchers; top-ups,
//! adjustments and vouchers for platform admins.

use nubes::remote::billing::{self, PlanView, TxView, UsageDay, VoucherView};
use nubes::remote::Client;

use crate::args::{BillingCmd, VoucherCmd};
use crate::output::{self, Format, Tabular};
use crate::Outcome;

impl Tabular for PlanView {
    const HEADERS: &'static [&'static str] =
        &["PLAN", "PRICE", "MONTHLY", "CPUS", "MEMORY", "DISK"];

    fn row(&self) -> Vec<String> {
        vec![
            self.plan.clone(),
            self.price.clone(),
            self.monthly.clone(),
            self.limits.cpus.to_string(),
            output::bytes(Some(self.limits.memory)),
            output::bytes(Some(self.limits.disk)),
        ]
    }
}

impl Tabular for TxView {
    const HEADERS: &'static [&'static str] = &["WHEN", "KIND", "AMOUNT", "MEMO"];

    fn row(&self) -> Vec<String> {
        vec![
            output::epoch(self.created_at),
            self.kind.clone(),
            self.amount.clone(),
            self.memo.clone(),
        ]
    }
}

impl Tabular for UsageDay {
    const HEADERS: &'static [&'static str] = &[
        "DAY",
        "INSTANCE",
        "INSTANCE-HOURS",
        "CPU",
        "MEMORY",
        "DISK",
        "TOTAL",
    ];

    fn row(&self) -> Vec<String> {
        vec![
            self.day.clone(),
            self.name.clone(),
            self.cost.instance.clone(),
            self.cost.cpu.clone(),
            self.cost.memory.clone(),
            self.cost.disk.clone(),
            self.cost.total.clone(),
        ]
    }
}

impl Tabular for VoucherView {
    const HEADERS: &'static [&'static str] =
        &["ID", "CODE", "AMOUNT", "MEMO", "EXPIRES", "REDEEMED-BY"];

    fn row(&self) -> Vec<String> {
        let time =
            |t: Option<i64>| output::time(t.and_then(|t| chrono::DateTime::from_timestamp(t, 0)));
        vec![
            self.id.clone(),
            self.code.clone().unwrap_or_else(|| "-".into()),
            self.amount.clone(),
            self.memo.clone(),
            time(self.expires_at),
            self.redeemed_by.clone().unwrap_or_else(|| "-".into()),
        ]
    }
}

pub async fn run(client: &Client, cmd: BillingCmd, format: Format) -> Outcome {
    match cmd {
        BillingCmd::Plans => {
            let catalog = billing::catalog(client).await?;
            if format != Format::Table {
                // Structured output keeps the prices beside the plans.
                output::structured(format, &catalog);
            } else {
                output::list(format, &catalog.plans);
                let p = &catalog.prices;
                println!(
                    "\nprices (credits): {} per instance-hour, {} per core-hour, {} per GB-hour of memory, {} per GB of disk once; 1 credit = ${:.2}",
                    p.instance_hour,
                    p.core_hour,
                    p.memory_gb_hour,
                    p.disk_gb,
                    p.credit_usd_cents as f64 / 100.0
                );
            }
        }
        BillingCmd::Plan => output::one(format, &billing::plan(client).await?),
        BillingCmd::Switch { plan } => {
            let switched = billing::switch(client, &plan).await?;
            eprintln!(
                "switched to {}: {} credits of grant and {} of price for the rest of the month ({} in all)",
                switched.plan.plan, switched.prorated, switched.price, switched.net
            );
            output::one(format, &switched.plan)
        }
        BillingCmd::Balance => {
            let b = billing::balance(client).await?;
            match format {
                Format::Table => {
                    println!("{} credits (${:.2})", b.credits, b.usd_cents as f64 / 100.0)
                }
                _ => output::structured(format, &b),
            }
        }
        BillingCmd::Transactions => output::list(format, &billing::transactions(client).await?),
        BillingCmd::Usage { from, to } => {
            let usage = billing::usage(client, from.as_deref(), to.as_deref()).await?;
            match format {
                Format::Table => {
                    output::list(format, &usage.days);
                    let t = &usage.total;
                    println!(
                        "\n{} to {}: {} credits (instance {}, cpu {}, memory {}, disk {})",
                        usage.from, usage.to, t.total, t.instance, t.cpu, t.memory, t.disk
                    );
                }
                _ => output::structured(format, &usage),
            }
        }
        BillingCmd::TopUp { user, amount, memo } => output::one(
            format,
            &billing::top_up(client, &user, &amount, &memo).await?,
        ),
        BillingCmd::Adjust { user, amount, memo } => output::one(
            format,
            &billing::adjust(client, &user, &amount, &memo).await?,
        ),
        BillingCmd::Redeem { code } => {
            output::one(format, &billing::pay(client, "voucher", &code).await?)
        }
        BillingCmd::Vouchers(VoucherCmd::Issue {
            amount,
            count,
            memo,
            expires_in_days,
        }) => {
            let issued =
                billing::issue_vouchers(client, &amount, count, &memo, expires_in_days).await?;
            eprintln!("the codes are shown this once: store them now");
            output::list(format, &issued)
        }
        BillingCmd::Vouchers(VoucherCmd::List) => {
            output::list(format, &billing::vouchers(client).await?)
        }
    }
    Ok(0)
}
