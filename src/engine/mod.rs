//! The browser upload engine. Its decisions — which part goes next ([`scheduler`]), what a
//! failure means ([`retry`]), how far along a file is ([`progress`], [`rate`]), whether a
//! file picked again is the one that was uploading ([`resume`]) — are plain Rust that tests
//! drive natively. Only the modules behind `hydrate` touch browser APIs: [`xhr`] sends one
//! part, [`digest`] computes a part's checksum from the file, [`browser`] wraps timers, the network state and local storage, and [`driver`] runs
//! everything on the page.

pub mod progress;
pub mod rate;
pub mod resume;
pub mod retry;
pub mod scheduler;
pub mod task;

#[cfg(feature = "hydrate")]
pub mod browser;
#[cfg(feature = "hydrate")]
pub mod digest;
#[cfg(feature = "hydrate")]
pub mod driver;
#[cfg(feature = "hydrate")]
pub mod xhr;
