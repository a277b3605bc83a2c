//! Components: what people see.

pub mod account;
pub mod library;
pub mod progress_bar;
pub mod tokens;
pub mod uploader;
