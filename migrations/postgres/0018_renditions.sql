-- A video's HLS ladder: one row per rendition (a rung of the ladder), each one fMP4 object
-- beside the file's object, addressed by byte ranges. The row is written before its object
-- (playlist NULL while it is written), so that no object the store holds goes unnamed: a
-- transcode that dies leaves a row naming what it may have written, and the row's end (the
-- file deleted, the job failed) dooms the object through the outbox.
CREATE TABLE renditions (
    upload_id    TEXT NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
    height       BIGINT NOT NULL,
    width        BIGINT NOT NULL,
    object_key   TEXT NOT NULL,
    -- The media playlist ffmpeg wrote (segments as byte ranges of the object); NULL while the
    -- rendition is being made.
    playlist     TEXT,
    -- Peak bits per second and RFC 6381 codecs, for the master playlist.
    bandwidth    BIGINT NOT NULL DEFAULT 0,
    codecs       TEXT NOT NULL DEFAULT '',
    -- 1: the source's own streams, copied (the fast path); 0: encoded.
    remuxed      BIGINT NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (upload_id, height)
);
CREATE INDEX renditions_by_key ON renditions (object_key);

-- How far a running job has got, 0-100, for the jobs that know (transcodes).
ALTER TABLE jobs ADD COLUMN progress BIGINT;
