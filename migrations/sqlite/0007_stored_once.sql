-- no-transaction
-- Content stored once per owner: an upload of content its owner holds already names the
-- object of the first, so `object_key` is no longer unique (an object lives while any upload
-- names it). SQLite cannot drop a constraint: the table is rebuilt, with foreign keys off so
-- that dropping the old table does not cascade to files, jobs and parts (hence no
-- transaction from the migrator: the pragma is ignored inside one; this file makes its own).
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE uploads_rebuilt (
    id            TEXT PRIMARY KEY NOT NULL,
    -- The session or account that started it; nobody else may see or touch it.
    owner         TEXT NOT NULL,
    name          TEXT NOT NULL,
    -- Several uploads of one owner may name the same object (the same content).
    object_key    TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    size          INTEGER NOT NULL CHECK (size > 0),
    part_size     INTEGER NOT NULL CHECK (part_size > 0),
    -- NULL for a multipart upload until the store has created it, and for a shared object.
    s3_upload_id  TEXT,
    status        TEXT NOT NULL CHECK (status IN ('uploading', 'uploaded', 'rejected', 'aborted', 'expired')),
    reason        TEXT,
    -- Unix milliseconds.
    created_at    INTEGER NOT NULL,
    completed_at  INTEGER,
    -- When the upload is to be deleted unless it completes first; NULL once it is verified.
    expires_at    INTEGER,
    reap_claim    TEXT,
    reap_attempts INTEGER NOT NULL DEFAULT 0,
    reap_error    TEXT,
    checksum      TEXT,
    guest_net     TEXT
) STRICT;
INSERT INTO uploads_rebuilt (id, owner, name, object_key, content_type, size, part_size,
    s3_upload_id, status, reason, created_at, completed_at, expires_at, reap_claim,
    reap_attempts, reap_error, checksum, guest_net)
  SELECT id, owner, name, object_key, content_type, size, part_size, s3_upload_id, status,
    reason, created_at, completed_at, expires_at, reap_claim, reap_attempts, reap_error,
    checksum, guest_net FROM uploads;
DROP TABLE uploads;
ALTER TABLE uploads_rebuilt RENAME TO uploads;
CREATE INDEX uploads_by_expiry ON uploads (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX uploads_by_owner ON uploads (owner, created_at DESC);
CREATE INDEX uploads_by_owner_status ON uploads (owner, status);
CREATE INDEX uploads_by_guest_net ON uploads (guest_net, status) WHERE guest_net IS NOT NULL;
CREATE INDEX uploads_by_key ON uploads (object_key);
-- Finding an owner's earlier file by its whole-file SHA-256.
CREATE INDEX files_by_sha256 ON files (sha256) WHERE sha256 IS NOT NULL;
COMMIT;
PRAGMA foreign_keys = ON;
