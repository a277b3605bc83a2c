//! Components: what people see.

pub mod library;
pub mod progress_bar;
pub mod uploader;
