//! `hoist download`: the server's download link redirects to a short-lived store URL, fetched
//! without the token. The name comes from the server, so it is treated as a stranger's: only
//! its last component is used, and a name that would hide itself (a dotfile), climb out of
//! the folder or carry control characters is refused. An existing file is never replaced
//! without `--force`, not even one that appears while the bytes arrive.

use super::{
    api::{self, Api},
    ClientError, Remote,
};
use crate::{api::files::GetFile, format, model::FilePage};
use std::{
    io::ErrorKind,
    path::{Path, PathBuf},
    process::ExitCode,
};
use tokio::io::AsyncWriteExt;

pub async fn download(
    remote: &Remote,
    id: &str,
    output: Option<PathBuf>,
    force: bool,
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
    let path = target(output, &page.upload.name)?;
    if !force && std::fs::symlink_metadata(&path).is_ok() {
        return Err(ClientError::Exists { path });
    }
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
    let response = store
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
    let (partial, file) = partial_beside(&path).await?;
    let written = match receive(response, file, &partial, page.upload.size).await {
        Ok(written) => written,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    put_in_place(&partial, &path, force)?;
    println!("{} ({})", path.display(), format::bytes_short(written));
    Ok(ExitCode::SUCCESS)
}

/// Where the file goes: `output` as given (a folder: the file's name inside it), else the
/// file's name in the current folder.
fn target(output: Option<PathBuf>, name: &str) -> Result<PathBuf, ClientError> {
    match output {
        Some(dir) if dir.is_dir() => Ok(dir.join(safe_name(name)?)),
        Some(file) => Ok(file),
        None => Ok(PathBuf::from(safe_name(name)?)),
    }
}

/// The last component of a name the server gave (after `/` or `\`), if it is a plain visible
/// file name.
pub fn safe_name(name: &str) -> Result<&str, ClientError> {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let unsafe_name = last.is_empty()
        || last.starts_with('.')
        || last.trim() != last
        || last.chars().any(char::is_control);
    if unsafe_name {
        return Err(ClientError::UnsafeName {
            name: name.to_string(),
        });
    }
    Ok(last)
}

/// A new file beside `path` under a name nobody else chose (created, never opened if it
/// exists, so a planted link cannot redirect the write).
async fn partial_beside(path: &Path) -> Result<(PathBuf, tokio::fs::File), ClientError> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let stem = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let partial = dir.join(format!(
        ".{stem}.{}.hoist-partial",
        uuid::Uuid::new_v4().simple()
    ));
    let file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&partial)
        .await
        .map_err(|e| ClientError::local(&partial, e))?;
    Ok((partial, file))
}

async fn receive(
    mut response: reqwest::Response,
    mut file: tokio::fs::File,
    partial: &Path,
    size: u64,
) -> Result<u64, ClientError> {
    let fail = |e: std::io::Error| ClientError::local(partial, e);
    let mut written = 0u64;
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| ClientError::Store(api::describe(&e)))?
    {
        file.write_all(&chunk).await.map_err(fail)?;
        written += chunk.len() as u64;
    }
    file.flush().await.map_err(fail)?;
    file.sync_all().await.map_err(fail)?;
    if written != size {
        return Err(ClientError::Store(format!(
            "the download stopped at {written} of {size} bytes"
        )));
    }
    Ok(written)
}

/// Moves the finished file to `path`. Without `force`, a hard link is the move: it fails if
/// `path` exists (whatever appeared there meanwhile, a dangling link included), where a
/// rename would replace it.
fn put_in_place(partial: &Path, path: &Path, force: bool) -> Result<(), ClientError> {
    let fail = |e: std::io::Error| ClientError::local(path, e);
    if force {
        return std::fs::rename(partial, path).map_err(|e| {
            let _ = std::fs::remove_file(partial);
            fail(e)
        });
    }
    let linked = std::fs::hard_link(partial, path);
    match linked {
        Ok(()) => {
            let _ = std::fs::remove_file(partial);
            Ok(())
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            let _ = std::fs::remove_file(partial);
            Err(ClientError::Exists {
                path: path.to_path_buf(),
            })
        }
        // A file system without hard links: the check and the rename are two steps there.
        Err(_) if std::fs::symlink_metadata(path).is_err() => {
            std::fs::rename(partial, path).map_err(fail)
        }
        Err(_) => {
            let _ = std::fs::remove_file(partial);
            Err(ClientError::Exists {
                path: path.to_path_buf(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::safe_name;

    #[test]
    fn only_a_plain_last_component_is_a_name() {
        for (given, kept) in [
            ("a/b/c.txt", "c.txt"),
            ("../../evil", "evil"),
            ("..\\..\\win.ini", "win.ini"),
            ("/etc/passwd", "passwd"),
            ("photo 1.png", "photo 1.png"),
            ("café.png", "café.png"),
        ] {
            assert_eq!(safe_name(given).ok(), Some(kept), "{given}");
        }
        for given in [
            "",
            ".",
            "..",
            "a/..",
            ".bashrc",
            "dir/.ssh",
            "a/",
            "x\\",
            "bell\u{7}.txt",
            "line\nbreak",
            " spaced",
            "trailing ",
        ] {
            assert!(safe_name(given).is_err(), "{given:?}");
        }
    }
}
