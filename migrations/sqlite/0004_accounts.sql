-- People with accounts. The email is stored trimmed and lower-cased, so it is compared
-- case-insensitively by plain equality.
CREATE TABLE accounts (
    id             TEXT PRIMARY KEY NOT NULL,
    email          TEXT NOT NULL UNIQUE,
    -- An Argon2id PHC string; never logged.
    password_hash  TEXT NOT NULL,
    -- Bytes this account may keep, counting uploads still on their way.
    quota          INTEGER NOT NULL CHECK (quota >= 0),
    disabled       INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at     INTEGER NOT NULL
) STRICT;

-- Signed-in browsers. Guests have no row: their session is only their signed cookie.
-- Deleting a row signs that browser out everywhere it is presented.
CREATE TABLE sessions (
    id            TEXT PRIMARY KEY NOT NULL,
    account_id    TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at    INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_by_account ON sessions (account_id);

-- Tokens for programs. Only the SHA-256 of a token is kept: it is shown once, at creation.
CREATE TABLE api_tokens (
    id            TEXT PRIMARY KEY NOT NULL,
    account_id    TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER
) STRICT;
CREATE INDEX api_tokens_by_account ON api_tokens (account_id, created_at);

-- An owner is now `guest:<session id>` or `account:<account id>`; every earlier upload was a
-- guest's.
UPDATE uploads SET owner = 'guest:' || owner WHERE owner NOT LIKE 'guest:%' AND owner NOT LIKE 'account:%';

-- Quotas sum what an owner keeps and what is on its way, at every start.
CREATE INDEX uploads_by_owner_status ON uploads (owner, status);
