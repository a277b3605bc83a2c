-- PostgreSQL's twin of sqlite/0010_doomed_objects.sql: the outbox of objects to delete.
CREATE TABLE doomed_objects (
    object_key  TEXT PRIMARY KEY NOT NULL,
    due_at      BIGINT NOT NULL,
    attempts    BIGINT NOT NULL DEFAULT 0,
    last_error  TEXT
);

CREATE INDEX doomed_objects_due ON doomed_objects (due_at);
