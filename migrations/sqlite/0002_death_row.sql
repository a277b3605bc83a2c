-- The reaper claims an expired upload by writing its token here and pushing `expires_at` one
-- lease ahead: a second reaper skips it, and a reaper that dies mid-way lets the lease run out
-- so the row expires again and is taken up afresh.
ALTER TABLE uploads ADD COLUMN reap_claim TEXT;
-- Failed cleanups, kept visible: how many times the reaper tried and the store's last answer.
ALTER TABLE uploads ADD COLUMN reap_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE uploads ADD COLUMN reap_error TEXT;
-- The checksum every part must carry (`crc32c`, `sha256`), fixed when the upload starts so a
-- changed setting never strands an upload half-way. NULL: none.
ALTER TABLE uploads ADD COLUMN checksum TEXT;
