-- PostgreSQL's twin of sqlite/0009_file_counts.sql: how many uploads each owner and guest
-- network has, kept by a trigger, and the index that finds closed uploads past retention.
ALTER TABLE held ADD COLUMN files BIGINT NOT NULL DEFAULT 0;

INSERT INTO held (scope, bytes, files)
SELECT 'owner:' || owner, 0, COUNT(*) FROM uploads GROUP BY owner
ON CONFLICT (scope) DO UPDATE SET files = EXCLUDED.files;

INSERT INTO held (scope, bytes, files)
SELECT 'net:' || guest_net, 0, COUNT(*) FROM uploads WHERE guest_net IS NOT NULL GROUP BY guest_net
ON CONFLICT (scope) DO UPDATE SET files = EXCLUDED.files;

CREATE FUNCTION files_add(scope_ TEXT, delta BIGINT) RETURNS VOID LANGUAGE plpgsql AS $$
BEGIN
    IF scope_ IS NULL THEN
        RETURN;
    END IF;
    INSERT INTO held (scope, bytes, files) VALUES (scope_, 0, delta)
    ON CONFLICT (scope) DO UPDATE SET files = held.files + EXCLUDED.files;
END $$;

CREATE FUNCTION files_track() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.owner = NEW.owner
       AND OLD.guest_net IS NOT DISTINCT FROM NEW.guest_net THEN
        RETURN NEW;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        PERFORM files_add('owner:' || OLD.owner, -1);
        PERFORM files_add('net:' || OLD.guest_net, -1);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM files_add('owner:' || NEW.owner, 1);
        PERFORM files_add('net:' || NEW.guest_net, 1);
        RETURN NEW;
    END IF;
    RETURN OLD;
END $$;

CREATE TRIGGER files_track AFTER INSERT OR DELETE OR UPDATE OF owner, guest_net
ON uploads FOR EACH ROW EXECUTE FUNCTION files_track();

CREATE INDEX uploads_closed ON uploads (completed_at)
WHERE status IN ('aborted', 'rejected', 'expired');
