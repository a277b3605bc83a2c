-- See sqlite/0011_account_safety.sql.
ALTER TABLE api_tokens ADD COLUMN expires_at BIGINT;

ALTER TABLE sessions ADD COLUMN stayed_files BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN stayed_bytes BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN stayed_reasons BIGINT NOT NULL DEFAULT 0;
