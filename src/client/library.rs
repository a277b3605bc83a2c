//! `hoist ls`, `hoist rm`: the library from the terminal.

use super::{api::Api, ClientError, Remote};
use crate::{
    api::{DeleteUpload, ListUploads},
    format,
    model::LibraryPage,
};
use std::{io::Write, process::ExitCode};

/// Every upload, newest first, a page at a time.
pub async fn list(remote: &Remote, json: bool) -> Result<ExitCode, ClientError> {
    let api = Api::new(remote)?;
    let mut cursor = None;
    let mut out = std::io::stdout().lock();
    let write = |e: std::io::Error| ClientError::local(std::path::Path::new("standard output"), e);
    if !json {
        writeln!(
            out,
            "{:<36}  {:<9}  {:>9}  {:<16}  name",
            "id", "status", "size", "uploaded (UTC)"
        )
        .map_err(write)?;
    }
    loop {
        let page: LibraryPage = api
            .call(
                "list_uploads",
                &ListUploads {
                    cursor,
                    search: None,
                    sort: None,
                },
            )
            .await?;
        for upload in &page.uploads {
            if json {
                let line = serde_json::to_string(upload)
                    .map_err(|e| ClientError::Protocol(e.to_string()))?;
                writeln!(out, "{line}").map_err(write)?;
                continue;
            }
            let when = format::utc_time(upload.completed_at_ms.unwrap_or(upload.created_at_ms));
            writeln!(
                out,
                "{:<36}  {:<9}  {:>9}  {:<16}  {}",
                upload.id,
                upload.status_word(),
                format::bytes_short(upload.size),
                when,
                upload.name
            )
            .map_err(write)?;
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(ExitCode::SUCCESS),
        }
    }
}

/// Deletes each id; the others are still deleted when one fails.
pub async fn remove(remote: &Remote, ids: &[String]) -> Result<ExitCode, ClientError> {
    let api = Api::new(remote)?;
    let mut failed = false;
    for id in ids {
        let answer: Result<(), ClientError> = api
            .call(
                "delete_upload",
                &DeleteUpload {
                    upload_id: id.clone(),
                },
            )
            .await;
        match answer {
            Ok(()) => println!("deleted {id}"),
            Err(e @ ClientError::BadToken(_)) => return Err(e),
            Err(e) => {
                failed = true;
                eprintln!("hoist: {id}: {e}");
            }
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
