-- A token may end on its own: from this instant (Unix milliseconds) it is refused like a
-- revoked one. NULL: it lasts until revoked.
ALTER TABLE api_tokens ADD COLUMN expires_at INTEGER;

-- What signing in left with the guest: its uploads that did not fit the account's quota or
-- its limit of unfinished uploads. Kept on the session so the page can say so after it
-- reloads. `stayed_reasons`: 1 the quota, 2 the limit of unfinished uploads.
ALTER TABLE sessions ADD COLUMN stayed_files INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN stayed_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN stayed_reasons INTEGER NOT NULL DEFAULT 0;
