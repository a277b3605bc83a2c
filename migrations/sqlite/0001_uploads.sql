-- Every upload Hoist has been asked for, from the moment it is started.
CREATE TABLE uploads (
    id            TEXT PRIMARY KEY NOT NULL,
    -- The browser session that started it; nobody else may see or touch it.
    owner         TEXT NOT NULL,
    name          TEXT NOT NULL,
    object_key    TEXT NOT NULL UNIQUE,
    content_type  TEXT NOT NULL,
    size          INTEGER NOT NULL CHECK (size > 0),
    part_size     INTEGER NOT NULL CHECK (part_size > 0),
    -- NULL for a single PUT, and for a multipart upload until the store has created it.
    s3_upload_id  TEXT,
    status        TEXT NOT NULL CHECK (status IN ('uploading', 'uploaded', 'rejected', 'aborted', 'expired')),
    reason        TEXT,
    -- Unix milliseconds.
    created_at    INTEGER NOT NULL,
    completed_at  INTEGER,
    -- When the upload is to be deleted unless it completes first; NULL once it is verified.
    expires_at    INTEGER
) STRICT;

CREATE INDEX uploads_by_expiry ON uploads (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX uploads_by_owner ON uploads (owner, created_at DESC);
