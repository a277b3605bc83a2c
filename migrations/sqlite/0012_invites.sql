-- Invitation codes for HOIST_SIGN_UP=invite, made by `hoist users invite`. Only the SHA-256 of
-- a code is kept (it is printed once); each is good for one account, until `expires_at` (Unix
-- milliseconds; NULL never). A spent code keeps its row, naming the account it made.
CREATE TABLE invites (
    code_hash   TEXT PRIMARY KEY NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER,
    used_at     INTEGER,
    account_id  TEXT REFERENCES accounts (id) ON DELETE SET NULL
) STRICT;
