-- See sqlite/0002_death_row.sql.
ALTER TABLE uploads ADD COLUMN reap_claim TEXT;
ALTER TABLE uploads ADD COLUMN reap_attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE uploads ADD COLUMN reap_error TEXT;
ALTER TABLE uploads ADD COLUMN checksum TEXT;
