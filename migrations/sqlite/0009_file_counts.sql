-- How many uploads (of any status: a closed one still holds a row until HOIST_CLOSED_RETENTION
-- passes) each owner and each guest network has, kept by triggers beside the bytes of `held`,
-- so that admitting an upload reads one row to bound how many rows one party may make.
ALTER TABLE held ADD COLUMN files INTEGER NOT NULL DEFAULT 0;

INSERT INTO held (scope, bytes, files)
SELECT 'owner:' || owner, 0, COUNT(*) FROM uploads WHERE true GROUP BY owner
ON CONFLICT (scope) DO UPDATE SET files = excluded.files;

INSERT INTO held (scope, bytes, files)
SELECT 'net:' || guest_net, 0, COUNT(*) FROM uploads WHERE guest_net IS NOT NULL GROUP BY guest_net
ON CONFLICT (scope) DO UPDATE SET files = excluded.files;

CREATE TRIGGER files_on_insert AFTER INSERT ON uploads
BEGIN
    INSERT INTO held (scope, bytes, files) VALUES ('owner:' || NEW.owner, 0, 1)
    ON CONFLICT (scope) DO UPDATE SET files = files + 1;
    INSERT INTO held (scope, bytes, files)
    SELECT 'net:' || NEW.guest_net, 0, 1 WHERE NEW.guest_net IS NOT NULL
    ON CONFLICT (scope) DO UPDATE SET files = files + 1;
END;

CREATE TRIGGER files_on_delete AFTER DELETE ON uploads
BEGIN
    UPDATE held SET files = files - 1 WHERE scope = 'owner:' || OLD.owner;
    UPDATE held SET files = files - 1 WHERE scope = 'net:' || OLD.guest_net;
END;

CREATE TRIGGER files_on_move AFTER UPDATE OF owner, guest_net ON uploads
WHEN OLD.owner != NEW.owner OR OLD.guest_net IS NOT NEW.guest_net
BEGIN
    UPDATE held SET files = files - 1 WHERE scope = 'owner:' || OLD.owner;
    UPDATE held SET files = files - 1 WHERE scope = 'net:' || OLD.guest_net;
    INSERT INTO held (scope, bytes, files) VALUES ('owner:' || NEW.owner, 0, 1)
    ON CONFLICT (scope) DO UPDATE SET files = files + 1;
    INSERT INTO held (scope, bytes, files)
    SELECT 'net:' || NEW.guest_net, 0, 1 WHERE NEW.guest_net IS NOT NULL
    ON CONFLICT (scope) DO UPDATE SET files = files + 1;
END;

-- Closed uploads past their retention are found without reading the living ones.
CREATE INDEX uploads_closed ON uploads (completed_at)
WHERE status IN ('aborted', 'rejected', 'expired');
