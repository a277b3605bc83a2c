//! `hoist ls`, `hoist download`, `hoist rm`: the library from the terminal.

use super::{
    api::{self, Api},
    ClientError, Remote,
};
use crate::{
    api::{files::GetFile, DeleteUpload, ListUploads},
    format,
    model::{FilePage, LibraryPage},
};
use std::{io::Write, path::PathBuf, process::ExitCode};

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
        let page: LibraryPage = api.call("list_uploads", &ListUploads { cursor }).await?;
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

/// Downloads a file: the server's download link redirects to a short-lived store URL, which
/// is fetched without the token and written under a temporary name, then renamed.
pub async fn download(
    remote: &Remote,
    id: &str,
    output: Option<PathBuf>,
) -> Result<ExitCode, ClientError> {
    let api = Api::new(remote)?;
    let page: FilePage = api
        .call(
            "get_file",
            &GetFile {
                upload_id: id.to_string(),
                key: None,
            },
        )
        .await?;
    let path = output.unwrap_or_else(|| PathBuf::from(&page.upload.name));
    let answer = api.get(&format!("files/{id}/download")).await?;
    let location = answer
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .ok_or_else(|| {
            ClientError::Protocol(format!("the download link answered {}", answer.status()))
        })?;
    let store = api::http_client()?;
    let mut response = store
        .get(&location)
        .send()
        .await
        .map_err(|e| ClientError::Store(api::describe(&e)))?;
    if !response.status().is_success() {
        return Err(ClientError::Store(format!(
            "the storage service answered {} for the file",
            response.status()
        )));
    }
    let partial = path.with_extension("hoist-partial");
    let fail = |e: std::io::Error| ClientError::local(&partial, e);
    let mut file = tokio::fs::File::create(&partial).await.map_err(fail)?;
    let mut written = 0u64;
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| ClientError::Store(api::describe(&e)))?
    {
        tokio::io::AsyncWriteExt::write_all(&mut file, &chunk)
            .await
            .map_err(fail)?;
        written += chunk.len() as u64;
    }
    tokio::io::AsyncWriteExt::flush(&mut file)
        .await
        .map_err(fail)?;
    if written != page.upload.size {
        return Err(ClientError::Store(format!(
            "the download stopped at {written} of {} bytes",
            page.upload.size
        )));
    }
    std::fs::rename(&partial, &path).map_err(|e| ClientError::local(&path, e))?;
    println!("{} ({})", path.display(), format::bytes_short(written));
    Ok(ExitCode::SUCCESS)
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
