-- What Hoist knows of a file once it has arrived: the processing state and what the jobs
-- found, and what its owner says of it. One row per verified upload, made in the same
-- transaction that marks the upload uploaded; it goes with the upload.
CREATE TABLE files (
    upload_id      TEXT PRIMARY KEY NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
    processing     TEXT NOT NULL CHECK (processing IN ('queued', 'processing', 'ready', 'failed')),
    -- Why processing failed, in words for the owner.
    error          TEXT,
    -- Hex SHA-256 of the whole object.
    sha256         TEXT,
    width          INTEGER,
    height         INTEGER,
    duration_ms    INTEGER,
    -- What the container says its streams are, e.g. "avc1, mp4a".
    codecs         TEXT,
    -- The object key of a small JPEG made from the file, once there is one.
    thumbnail_key  TEXT,
    title          TEXT NOT NULL,
    description    TEXT NOT NULL DEFAULT '',
    visibility     TEXT NOT NULL DEFAULT 'private' CHECK (visibility IN ('private', 'link', 'public')),
    -- The unguessable part of the file's link; only a `link` or `public` file opens with it.
    share_key      TEXT NOT NULL UNIQUE,
    updated_at     INTEGER NOT NULL
) STRICT;
CREATE INDEX files_public ON files (visibility, updated_at DESC) WHERE visibility = 'public';

-- The processing queue. A job is claimed by setting a lease; a worker that dies lets its lease
-- lapse and another claims the job again. One job of each kind per upload, so enqueueing
-- twice is harmless.
CREATE TABLE jobs (
    id            INTEGER PRIMARY KEY,
    upload_id     TEXT NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
    kind          TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'skipped', 'failed')),
    -- Claims so far, the current one included.
    attempts      INTEGER NOT NULL DEFAULT 0,
    max_attempts  INTEGER NOT NULL CHECK (max_attempts > 0),
    -- Unix milliseconds: not before (a retry waits out its backoff).
    run_at        INTEGER NOT NULL,
    lease_until   INTEGER,
    worker        TEXT,
    -- The last failure, or why the job was skipped.
    error         TEXT,
    created_at    INTEGER NOT NULL,
    finished_at   INTEGER,
    UNIQUE (upload_id, kind)
) STRICT;
CREATE INDEX jobs_due ON jobs (run_at) WHERE state = 'queued';
CREATE INDEX jobs_leased ON jobs (lease_until) WHERE state = 'running';

-- What happened to whose upload, in order: the live status page reads it, and a client that
-- reconnects asks for everything after the last id it saw. Kept for a day.
CREATE TABLE events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    owner      TEXT NOT NULL,
    upload_id  TEXT NOT NULL,
    -- JSON: what the page needs to redraw the upload's row.
    body       TEXT NOT NULL,
    at         INTEGER NOT NULL
) STRICT;
CREATE INDEX events_by_owner ON events (owner, id);
CREATE INDEX events_by_time ON events (at);
