-- Instances no longer write under one lock, so events commit out of the order of their ids.
-- Each event keeps the id of the transaction that wrote it: once every transaction below some
-- id has ended (the snapshot's xmin), no event ordered before it by (tx, id) can still
-- appear, and the live feed reads up to there. Rows written before this migration keep 0.
ALTER TABLE events ADD COLUMN tx BIGINT NOT NULL DEFAULT 0;
ALTER TABLE events ALTER COLUMN tx SET DEFAULT (pg_current_xact_id()::text::bigint);
CREATE INDEX events_in_order ON events (tx, id);
CREATE INDEX events_by_owner_in_order ON events (owner, tx, id);
DROP INDEX events_by_owner;
