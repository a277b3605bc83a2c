//! The client side of Hoist's upload protocol (start → sign → send → complete), as decisions
//! without I/O: how a file is cut into parts ([`plan`]), how many part URLs one `sign_parts`
//! call asks for, what is left to send after a resume or a completion that found parts missing
//! ([`plan::Remaining`]), and what a failed request means ([`retry`]). The browser engine and
//! the terminal client each do the sending their own way (XHR from a `Blob`, reqwest from the
//! disk) and ask these functions what to do; the server cuts files with the same rule.

pub mod plan;
pub mod retry;
