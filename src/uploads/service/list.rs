//! The owner's library, a page at a time, and download links.

use super::*;

impl<S: ObjectStore> UploadService<S> {
    /// A page of the owner's library. `cursor` is the `next` of the page before (a client
    /// may send anything there: a malformed one is refused, a forged one finds nothing).
    pub async fn list(&self, owner: &str, cursor: Option<&str>) -> UploadResult<LibraryPage> {
        let after = cursor.map(parse_cursor).transpose()?;
        let page = LIBRARY_PAGE as i64;
        let mut rows = db::uploads::list_owned(
            &self.db,
            owner,
            after.as_ref().map(|(t, id)| (*t, id.as_str())),
            page + 1,
        )
        .await?;
        let more = rows.len() > LIBRARY_PAGE;
        rows.truncate(LIBRARY_PAGE);
        let next = more
            .then(|| rows.last().map(|r| format!("{}.{}", r.created_at, r.id)))
            .flatten();
        let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        let mut files: std::collections::HashMap<String, db::files::FileRow> =
            db::files::for_uploads(&self.db, &ids)
                .await?
                .into_iter()
                .map(|f| (f.upload_id.clone(), f))
                .collect();
        let mut uploads = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut view = row.view();
            view.file = files.remove(&row.id).map(|f| f.info());
            uploads.push(view);
        }
        Ok(LibraryPage {
            used: None,
            events_after: None,
            uploads,
            next,
        })
    }

    /// A short-lived link that downloads the file under its name.
    pub async fn download_url(&self, owner: &str, id: &str) -> UploadResult<String> {
        let row = self.find(owner, id).await?;
        match row.status {
            UploadStatus::Uploaded => {}
            other => return Err(UploadError::Closed(other)),
        }
        Ok(self
            .store
            .presign_get(&row.object_key, &row.name, DOWNLOAD_TTL)
            .await?)
    }
}

/// `<created_at>.<id>`, as [`UploadService::list`] makes it.
fn parse_cursor(cursor: &str) -> UploadResult<(i64, String)> {
    cursor
        .split_once('.')
        .filter(|(_, id)| id.len() <= 64)
        .and_then(|(time, id)| Some((time.parse().ok()?, id.to_string())))
        .ok_or_else(|| Invalid::NoSuchPage.into())
}
