#![doc = include_str!("../README.md")]

pub mod clock;
pub mod journal;
pub mod ledger;
pub mod meter;
pub mod metering;
pub mod money;
pub mod payments;
pub mod plans;
pub mod prices;
pub mod settings;

pub use clock::{Clock, SystemClock};
pub use ledger::{Account, Entry, Fee, Kind, Transaction};
pub use meter::{day, Meter, Owed, Transition, UsageEvent};
pub use money::Credits;
pub use nubes_core::Resources;
pub use payments::{Payment, PaymentProvider};
pub use plans::{default_plans, Plan, PlanId};
pub use prices::{Breakdown, Prices, Segment};
pub use settings::Settings;
