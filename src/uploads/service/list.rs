//! The owner's library, a page at a time, and download links.

use super::*;
use crate::{
    db::uploads::After,
    model::{LibrarySort, MAX_SEARCH},
};

impl<S: ObjectStore> UploadService<S> {
    /// A page of the owner's library, newest first. `cursor` is the `next` of the page
    /// before (a client may send anything there: a malformed one is refused, a forged one
    /// finds nothing).
    pub async fn list(&self, owner: &str, cursor: Option<&str>) -> UploadResult<LibraryPage> {
        self.list_in(owner, LibrarySort::Newest, "", cursor).await
    }

    /// A page of the owner's uploads whose names hold `search`, in `sort`'s order. The
    /// cursor belongs to the order it was made in: with another, it finds the wrong rows,
    /// never another owner's.
    pub async fn list_in(
        &self,
        owner: &str,
        sort: LibrarySort,
        search: &str,
        cursor: Option<&str>,
    ) -> UploadResult<LibraryPage> {
        let search = search.trim();
        let chars = search.chars().count();
        if chars > MAX_SEARCH {
            return Err(Invalid::SearchTooLong {
                chars,
                max: MAX_SEARCH,
            }
            .into());
        }
        let after = cursor.map(|c| parse_cursor(sort, c)).transpose()?;
        let page = LIBRARY_PAGE as i64;
        let mut rows =
            db::uploads::list_owned(&self.db, owner, sort, search, after.as_ref(), page + 1)
                .await?;
        let more = rows.len() > LIBRARY_PAGE;
        rows.truncate(LIBRARY_PAGE);
        let next = more
            .then(|| rows.last().map(|r| make_cursor(sort, r)))
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

/// `<key>.<id>`: the last row's sort key (its time, size, or name) and id.
fn make_cursor(sort: LibrarySort, row: &UploadRow) -> String {
    match sort {
        LibrarySort::Newest | LibrarySort::Oldest => format!("{}.{}", row.created_at, row.id),
        LibrarySort::Largest => format!("{}.{}", row.size, row.id),
        LibrarySort::Name => format!("{}.{}", row.name, row.id),
    }
}

/// The longest cursor [`make_cursor`] makes: a name's bytes, a dot and an id.
const MAX_CURSOR: usize = crate::uploads::naming::MAX_NAME_BYTES + 1 + 64;

fn parse_cursor(sort: LibrarySort, cursor: &str) -> UploadResult<After> {
    cursor
        .rsplit_once('.')
        .filter(|(_, id)| id.len() <= 64 && cursor.len() <= MAX_CURSOR)
        .and_then(|(key, id)| match sort {
            LibrarySort::Name => Some(After::Text(key.to_string(), id.to_string())),
            _ => Some(After::Number(key.parse().ok()?, id.to_string())),
        })
        .ok_or_else(|| Invalid::NoSuchPage.into())
}
