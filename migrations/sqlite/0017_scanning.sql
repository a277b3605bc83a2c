-- Malware scanning (HOIST_SCAN): where each file's scan stands, and the signature the
-- scanner named or why it could not scan the file. Files that arrived while scanning was off
-- say 'off'. An infected file keeps its row (its owner reads why) while its object, thumbnail
-- and renditions are deleted: the outbox treats a key named only by infected files as unnamed.
ALTER TABLE files ADD COLUMN scan TEXT NOT NULL DEFAULT 'off'
    CHECK (scan IN ('off', 'pending', 'clean', 'infected', 'unscanned'));
ALTER TABLE files ADD COLUMN scan_detail TEXT;
