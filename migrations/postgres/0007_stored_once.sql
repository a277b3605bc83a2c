-- See sqlite/0007_stored_once.sql: several uploads of one owner may name the same object.
ALTER TABLE uploads DROP CONSTRAINT uploads_object_key_key;
CREATE INDEX uploads_by_key ON uploads (object_key);
CREATE INDEX files_by_sha256 ON files (sha256) WHERE sha256 IS NOT NULL;
