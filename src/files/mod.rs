//! Files once they have arrived: who may see one, its page, its owner's title, description
//! and audience, and the short-lived URLs that show, play or download it. Whoever may not see
//! a file learns nothing of it: every refusal is "not found".

use crate::{
    clock::SharedClock,
    db::{self, files::FileRow, uploads::UploadRow, DbError, Pool},
    model::{
        FilePage, JobView, Scan, ScanMode, UploadStatus, UploadView, Visibility, MAX_DESCRIPTION,
        MAX_TITLE,
    },
    storage::{s3::S3Store, ObjectStore, StorageError},
};
use std::time::Duration;

mod hls;
pub use hls::{HlsAnswer, HlsPart};

/// How long a URL for viewing, playing or downloading lasts. A player whose URL lapsed
/// mid-film asks `/files/{id}/content` again and is sent a fresh one.
const URL_TTL: Duration = Duration::from_secs(900);
/// At most this many files on the public page.
const PUBLIC_PAGE: i64 = 100;

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// No such file, not arrived, or not the caller's to see: all look the same.
    #[error("no such file")]
    NotFound,
    #[error("no thumbnail yet")]
    NoThumbnail,
    /// No HLS ladder (or not this rung of it) yet.
    #[error("no ladder yet")]
    NoLadder,
    #[error("the title must be 1 to {max} characters")]
    BadTitle { max: usize },
    #[error("the description must be at most {max} characters")]
    BadDescription { max: usize },
    /// The scanner found malware; the file's bytes are deleted.
    #[error("the file is infected ({signature})")]
    Infected { signature: String },
    /// `HOIST_SCAN=required` and the file has not been scanned clean (yet).
    #[error("the file is not scanned clean: {scan:?}")]
    NotClean { scan: Scan, detail: Option<String> },
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

pub type FileResult<T> = Result<T, FileError>;

impl FileError {
    /// The caller's text holds a character the database cannot keep: their mistake.
    pub fn unstorable(&self) -> bool {
        matches!(self, Self::Db(DbError::Unstorable))
    }
}

/// The ways into a file's bytes, each a stable link (`/files/{id}/{door}`) that redirects to
/// a fresh presigned URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Door {
    /// Shown or played in the page (active content is downloaded instead).
    Content,
    /// Downloaded under its name.
    Download,
    /// Its thumbnail, once processing made one.
    Thumbnail,
}

impl Door {
    pub fn parse(word: &str) -> Option<Self> {
        match word {
            "content" => Some(Self::Content),
            "download" => Some(Self::Download),
            "thumbnail" => Some(Self::Thumbnail),
            _ => None,
        }
    }
}

pub struct Files {
    db: Pool,
    store: S3Store,
    clock: SharedClock,
    scan: ScanMode,
}

/// A file someone may see, and whether it is theirs.
struct Visible {
    upload: UploadRow,
    file: Option<FileRow>,
    mine: bool,
}

impl Files {
    pub fn new(db: Pool, store: S3Store, clock: SharedClock) -> Self {
        Self {
            db,
            store,
            clock,
            scan: ScanMode::Off,
        }
    }

    /// How files are scanned (`HOIST_SCAN`): with `required`, only a clean file is shared.
    pub fn scanning(mut self, scan: ScanMode) -> Self {
        self.scan = scan;
        self
    }

    /// Whether others may see a file whose scan stands at `scan`: never an infected one, and
    /// with `required` only a clean one.
    fn may_share(&self, scan: Scan) -> bool {
        match (self.scan, scan) {
            (_, Scan::Infected) => false,
            (ScanMode::Required, scan) => scan == Scan::Clean,
            _ => true,
        }
    }

    /// The file if `owner` owns it, or it is public, or it is shared by link and `key` is its
    /// link's key.
    async fn visible(&self, owner: &str, id: &str, key: Option<&str>) -> FileResult<Visible> {
        if id.len() > 64 || key.is_some_and(|k| k.len() > 64) {
            return Err(FileError::NotFound);
        }
        let upload = db::uploads::find(&self.db, id)
            .await?
            .filter(|u| u.status == UploadStatus::Uploaded)
            .ok_or(FileError::NotFound)?;
        let file = db::files::find(&self.db, id).await?;
        let mine = upload.owner == owner;
        let shared = match &file {
            Some(file) if !self.may_share(file.scan) => false,
            Some(file) => match file.visibility {
                Visibility::Private => false,
                Visibility::Public => true,
                Visibility::Link => key.is_some_and(|k| same(k, &file.share_key)),
            },
            None => false,
        };
        if !(mine || shared && db::files::owner_may_share(&self.db, &upload.owner).await?) {
            return Err(FileError::NotFound);
        }
        Ok(Visible { upload, file, mine })
    }

    pub async fn page(&self, owner: &str, id: &str, key: Option<&str>) -> FileResult<FilePage> {
        let seen = self.visible(owner, id, key).await?;
        let share_path = seen
            .mine
            .then(|| {
                seen.file
                    .as_ref()
                    .map(|f| format!("/files/{id}?key={}", f.share_key))
            })
            .flatten();
        let upload = view(&seen.upload, seen.file.as_ref());
        let jobs = match seen.mine {
            true => self.job_views(id).await?,
            false => Vec::new(),
        };
        Ok(FilePage {
            upload: if seen.mine {
                upload
            } else {
                upload.for_viewer()
            },
            mine: seen.mine,
            share_path,
            jobs,
            events_after: None,
        })
    }

    /// The owner's file's jobs and where each stands; anyone else: not found.
    pub async fn jobs(&self, owner: &str, id: &str) -> FileResult<Vec<JobView>> {
        let seen = self.visible(owner, id, None).await?;
        if !seen.mine {
            return Err(FileError::NotFound);
        }
        self.job_views(id).await
    }

    /// The jobs of a file already known to be the caller's.
    async fn job_views(&self, id: &str) -> FileResult<Vec<JobView>> {
        let jobs = db::jobs::of_upload(&self.db, id).await?;
        Ok(jobs
            .into_iter()
            .map(|j| JobView {
                progress: j.progress.and_then(|p| u8::try_from(p.clamp(0, 100)).ok()),
                reason: (j.state != "done").then_some(j.error).flatten(),
                kind: j.kind,
                state: j.state,
            })
            .collect())
    }

    /// A new link for the owner's file: the old link, wherever it was passed on, opens
    /// nothing from now on.
    pub async fn new_link(&self, owner: &str, id: &str) -> FileResult<FilePage> {
        let seen = self.visible(owner, id, None).await?;
        if !seen.mine || !db::files::new_share_key(&self.db, id, owner, self.clock.now_ms()).await?
        {
            return Err(FileError::NotFound);
        }
        self.page(owner, id, None).await
    }

    /// The owner's title, description and audience. The title is trimmed and may not be
    /// empty; neither may hold control characters (a line break in a description is fine).
    pub async fn describe(
        &self,
        owner: &str,
        id: &str,
        title: &str,
        description: &str,
        visibility: Visibility,
    ) -> FileResult<UploadView> {
        let title = title.trim();
        if title.is_empty()
            || title.chars().count() > MAX_TITLE
            || title.chars().any(char::is_control)
        {
            return Err(FileError::BadTitle { max: MAX_TITLE });
        }
        let description = description.trim_end();
        if description.chars().count() > MAX_DESCRIPTION
            || description
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
        {
            return Err(FileError::BadDescription {
                max: MAX_DESCRIPTION,
            });
        }
        let seen = self.visible(owner, id, None).await?;
        if !seen.mine {
            return Err(FileError::NotFound);
        }
        if let Some(file) = seen.file.as_ref() {
            if visibility != Visibility::Private && !self.may_share(file.scan) {
                return Err(match file.scan {
                    Scan::Infected => FileError::Infected {
                        signature: file.scan_detail.clone().unwrap_or_default(),
                    },
                    scan => FileError::NotClean {
                        scan,
                        detail: file.scan_detail.clone(),
                    },
                });
            }
        }
        let now = self.clock.now_ms();
        if !db::files::describe(&self.db, id, owner, title, description, visibility, now).await? {
            return Err(FileError::NotFound);
        }
        let file = db::files::find(&self.db, id).await?;
        Ok(view(&seen.upload, file.as_ref()))
    }

    /// A short-lived URL through one of the file's doors.
    pub async fn url(
        &self,
        owner: &str,
        id: &str,
        key: Option<&str>,
        door: Door,
    ) -> FileResult<String> {
        let seen = self.visible(owner, id, key).await?;
        if let Some(file) = seen.file.as_ref().filter(|f| f.scan == Scan::Infected) {
            return Err(FileError::Infected {
                signature: file.scan_detail.clone().unwrap_or_default(),
            });
        }
        let u = &seen.upload;
        let url = match door {
            Door::Content => {
                self.store
                    .presign_view(&u.object_key, &u.name, &u.content_type, URL_TTL)
                    .await?
            }
            Door::Download => {
                self.store
                    .presign_get(&u.object_key, &u.name, URL_TTL)
                    .await?
            }
            Door::Thumbnail => {
                let thumbnail = seen
                    .file
                    .and_then(|f| f.thumbnail_key)
                    .ok_or(FileError::NoThumbnail)?;
                let name = format!("{}.jpg", u.name);
                self.store
                    .presign_view(&thumbnail, &name, "image/jpeg", URL_TTL)
                    .await?
            }
        };
        Ok(url)
    }

    /// The public page: files their owners made public, most recently changed first.
    pub async fn public(&self) -> FileResult<Vec<UploadView>> {
        let require_clean = self.scan == ScanMode::Required;
        let ids = db::files::public(&self.db, PUBLIC_PAGE, require_clean).await?;
        let mut views = Vec::with_capacity(ids.len());
        let mut conn = self.db.readers().acquire().await.map_err(DbError::from)?;
        for id in ids {
            if let Some((_, view)) = db::files::full_view(&mut conn, &id).await? {
                if view.file.as_ref().is_some_and(|f| self.may_share(f.scan)) {
                    views.push(view.for_viewer());
                }
            }
        }
        Ok(views)
    }
}

fn view(upload: &UploadRow, file: Option<&FileRow>) -> UploadView {
    let mut view = upload.view();
    view.file = file.map(FileRow::info);
    view
}

/// Compares a key in constant time: how long a wrong key takes says nothing of the right one.
fn same(a: &str, b: &str) -> bool {
    subtle::ConstantTimeEq::ct_eq(a.as_bytes(), b.as_bytes()).into()
}
