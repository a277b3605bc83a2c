//! Components: what people see.

pub mod account;
pub mod account_settings;
pub mod file_jobs;
pub mod file_page;
pub mod library;
pub mod live;
pub mod progress_bar;
pub mod public_page;
pub mod tokens;
pub mod type_icon;
pub mod uploader;
