-- A rendition's rung (`height`) is its picture's shorter side, as people name rungs: a phone's
-- portrait video is 1080p at 1080 × 1920. The picture's own height, for the master playlist's
-- RESOLUTION; 0 in rows written before: `height`.
ALTER TABLE renditions ADD COLUMN picture_height BIGINT NOT NULL DEFAULT 0;
