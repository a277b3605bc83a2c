-- PostgreSQL orders events by (writing transaction, id); SQLite's one writer commits them in
-- the order of their ids, so its `tx` is always 0 and the same statements read both.
ALTER TABLE events ADD COLUMN tx INTEGER NOT NULL DEFAULT 0;
CREATE INDEX events_in_order ON events (tx, id);
CREATE INDEX events_by_owner_in_order ON events (owner, tx, id);
DROP INDEX events_by_owner;
