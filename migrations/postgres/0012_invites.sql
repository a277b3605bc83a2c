-- See sqlite/0009_invites.sql.
CREATE TABLE invites (
    code_hash   TEXT PRIMARY KEY NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT,
    used_at     BIGINT,
    account_id  TEXT REFERENCES accounts (id) ON DELETE SET NULL
);
