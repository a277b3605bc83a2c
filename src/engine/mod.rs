//! The browser upload engine. Its bookkeeping ([`progress`], [`task`]) is plain Rust that
//! tests drive natively; only [`xhr`] and [`run`] touch browser APIs.

pub mod progress;
pub mod task;

#[cfg(feature = "hydrate")]
pub mod run;
#[cfg(feature = "hydrate")]
pub mod xhr;
