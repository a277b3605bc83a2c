//! The browser upload engine. Its decisions — which part goes next ([`scheduler`]), how far
//! along a file is ([`progress`], [`rate`]), whether a file picked again is the one that was
//! uploading ([`resume`]) — are plain Rust that tests drive natively; those it shares with the
//! terminal client (the part plan, signing batches, what a failure means, what is left after
//! a resume) are in [`crate::protocol`]. Components reach the engine through [`handle`], which
//! does nothing on the server. Only the modules behind `hydrate` touch browser APIs: [`xhr`]
//! sends one part, [`digest`] computes a part's checksum from the file, [`picking`] gets files
//! out of pickers and drops, [`browser`] wraps timers, the network state and local storage,
//! and [`driver`] runs everything on the page.

pub mod handle;
pub mod progress;
pub mod rate;
pub mod resume;
pub mod scheduler;
pub mod task;

#[cfg(feature = "hydrate")]
pub mod browser;
#[cfg(feature = "hydrate")]
pub mod digest;
#[cfg(feature = "hydrate")]
pub mod driver;
#[cfg(feature = "hydrate")]
mod picking;
#[cfg(feature = "hydrate")]
pub mod xhr;
