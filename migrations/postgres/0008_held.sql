-- PostgreSQL's twin of sqlite/0008_held.sql: what each owner and guest network holds, kept by
-- a trigger so that admitting an upload reads one row.
CREATE TABLE held (
    scope TEXT PRIMARY KEY NOT NULL,
    bytes BIGINT NOT NULL
);

INSERT INTO held (scope, bytes)
SELECT 'owner:' || owner, SUM(size) FROM (
    SELECT DISTINCT owner, object_key, size FROM uploads
    WHERE status IN ('uploading', 'uploaded')
) d GROUP BY owner;

INSERT INTO held (scope, bytes)
SELECT 'net:' || guest_net, SUM(size) FROM (
    SELECT DISTINCT guest_net, object_key, size FROM uploads
    WHERE guest_net IS NOT NULL AND status IN ('uploading', 'uploaded')
) d GROUP BY guest_net;

-- Adds `delta` to `scope` unless another held upload of that scope (not `id`) names the same
-- object.
CREATE FUNCTION held_add(scope_ TEXT, by_owner BOOLEAN, id_ TEXT, key_ TEXT, size_ BIGINT, delta BIGINT)
RETURNS VOID LANGUAGE plpgsql AS $$
BEGIN
    IF scope_ IS NULL OR EXISTS (
        SELECT 1 FROM uploads u WHERE u.object_key = key_ AND u.size = size_ AND u.id <> id_
          AND u.status IN ('uploading', 'uploaded')
          AND CASE WHEN by_owner THEN 'owner:' || u.owner ELSE 'net:' || u.guest_net END = scope_)
    THEN
        RETURN;
    END IF;
    INSERT INTO held (scope, bytes) VALUES (scope_, delta)
    ON CONFLICT (scope) DO UPDATE SET bytes = held.bytes + EXCLUDED.bytes;
END $$;

-- BEFORE, not AFTER: PostgreSQL runs AFTER row triggers once the whole statement is done,
-- when a multi-row update (a guest's uploads moved to an account) has already changed the
-- rows the check looks at; a BEFORE trigger sees the rows before it changed, one at a time,
-- as SQLite's triggers do.
CREATE FUNCTION held_track() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.status IN ('uploading', 'uploaded') THEN
        PERFORM held_add('owner:' || OLD.owner, TRUE, OLD.id, OLD.object_key, OLD.size, -OLD.size);
        PERFORM held_add('net:' || OLD.guest_net, FALSE, OLD.id, OLD.object_key, OLD.size, -OLD.size);
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.status IN ('uploading', 'uploaded') THEN
        PERFORM held_add('owner:' || NEW.owner, TRUE, NEW.id, NEW.object_key, NEW.size, NEW.size);
        PERFORM held_add('net:' || NEW.guest_net, FALSE, NEW.id, NEW.object_key, NEW.size, NEW.size);
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER held_track BEFORE INSERT OR DELETE OR UPDATE OF status, owner, guest_net, object_key, size
ON uploads FOR EACH ROW EXECUTE FUNCTION held_track();
