//! What the people running Hoist see of it: Prometheus metrics and logs (plain or JSON lines),
//! each request's logs tied together by its request id.

pub mod logs;
pub mod metrics;
mod settings;

pub use settings::ObserveSettings;
