-- Objects to delete from the store: written in the same transaction as the change that leaves
-- no row naming them (a file deleted, a copy folded onto its twin), and drained by the
-- background outbox, which retries with backoff until the store confirms. So no failure or
-- crash between the database and the store leaks an object, and no row ever names one that
-- is gone.
CREATE TABLE doomed_objects (
    object_key  TEXT PRIMARY KEY NOT NULL,
    due_at      INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT
) STRICT;

CREATE INDEX doomed_objects_due ON doomed_objects (due_at);
