-- PostgreSQL's twin of sqlite/0001_uploads.sql: every upload Hoist has been asked for.
-- Integers are BIGINT throughout (the app reads and binds 64-bit integers on both databases).
CREATE TABLE uploads (
    id            TEXT PRIMARY KEY NOT NULL,
    owner         TEXT NOT NULL,
    name          TEXT NOT NULL,
    object_key    TEXT NOT NULL UNIQUE,
    content_type  TEXT NOT NULL,
    size          BIGINT NOT NULL CHECK (size > 0),
    part_size     BIGINT NOT NULL CHECK (part_size > 0),
    s3_upload_id  TEXT,
    status        TEXT NOT NULL CHECK (status IN ('uploading', 'uploaded', 'rejected', 'aborted', 'expired')),
    reason        TEXT,
    -- Unix milliseconds.
    created_at    BIGINT NOT NULL,
    completed_at  BIGINT,
    expires_at    BIGINT
);

CREATE INDEX uploads_by_expiry ON uploads (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX uploads_by_owner ON uploads (owner, created_at DESC);
