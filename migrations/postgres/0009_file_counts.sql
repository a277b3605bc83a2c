-- PostgreSQL's twin of sqlite/0009_file_counts.sql: how many uploads each owner and guest
-- network has, kept by a trigger, and the index that finds closed uploads past retention.
ALTER TABLE held ADD COLUMN files BIGINT NOT NULL DEFAULT 0;

INSERT INTO held (scope, bytes, files)
SELECT 'owner:' || owner, 0, COUNT(*) FROM uploads GROUP BY owner
ON CONFLICT (scope) DO UPDATE SET files = EXCLUDED.files;

INSERT INTO held (scope, bytes, files)
SELECT 'net:' || guest_net, 0, COUNT(*) FROM uploads WHERE guest_net IS NOT NULL GROUP BY guest_net
ON CONFLICT (scope) DO UPDATE SET files = EXCLUDED.files;

-- Statement-level, over the rows the statement touched: one upsert per owner and network a
-- statement changes, where a row-level trigger would update the same `held` row once per row
-- (100,000 times for one bulk insert, each leaving a dead version of that row behind).
CREATE FUNCTION files_inserted() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO held (scope, bytes, files)
    SELECT scope, 0, COUNT(*) FROM (
        SELECT 'owner:' || owner AS scope FROM new_rows
        UNION ALL SELECT 'net:' || guest_net FROM new_rows WHERE guest_net IS NOT NULL
    ) d GROUP BY scope
    ON CONFLICT (scope) DO UPDATE SET files = held.files + EXCLUDED.files;
    RETURN NULL;
END $$;

CREATE FUNCTION files_deleted() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    UPDATE held SET files = held.files - d.n FROM (
        SELECT scope, COUNT(*) AS n FROM (
            SELECT 'owner:' || owner AS scope FROM old_rows
            UNION ALL SELECT 'net:' || guest_net FROM old_rows WHERE guest_net IS NOT NULL
        ) s GROUP BY scope
    ) d WHERE held.scope = d.scope;
    RETURN NULL;
END $$;

CREATE FUNCTION files_moved() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO held (scope, bytes, files)
    SELECT scope, 0, SUM(delta) FROM (
        SELECT 'owner:' || o.owner AS scope, -1 AS delta
          FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE o.owner <> n.owner
        UNION ALL SELECT 'owner:' || n.owner, 1
          FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE o.owner <> n.owner
        UNION ALL SELECT 'net:' || o.guest_net, -1
          FROM old_rows o JOIN new_rows n ON n.id = o.id
          WHERE o.guest_net IS DISTINCT FROM n.guest_net AND o.guest_net IS NOT NULL
        UNION ALL SELECT 'net:' || n.guest_net, 1
          FROM old_rows o JOIN new_rows n ON n.id = o.id
          WHERE o.guest_net IS DISTINCT FROM n.guest_net AND n.guest_net IS NOT NULL
    ) d GROUP BY scope
    ON CONFLICT (scope) DO UPDATE SET files = held.files + EXCLUDED.files;
    RETURN NULL;
END $$;

CREATE TRIGGER files_inserted AFTER INSERT ON uploads
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION files_inserted();
CREATE TRIGGER files_deleted AFTER DELETE ON uploads
REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION files_deleted();
CREATE TRIGGER files_moved AFTER UPDATE ON uploads
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION files_moved();

CREATE INDEX uploads_closed ON uploads (completed_at)
WHERE status IN ('aborted', 'rejected', 'expired');
