-- A statement that writes events announces them to every listening instance at its commit
-- (PostgreSQL sends one notification per channel and payload per transaction), so that the
-- writer no longer spends a round trip of its own on `pg_notify` after each event.
CREATE FUNCTION hoist_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('hoist_events', '');
  RETURN NULL;
END
$$;
CREATE TRIGGER events_notify AFTER INSERT ON events
  FOR EACH STATEMENT EXECUTE FUNCTION hoist_events_notify();
