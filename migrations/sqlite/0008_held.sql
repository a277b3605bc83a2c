-- What each owner and each guest network holds, kept up to date by triggers, so that admitting
-- an upload reads one row instead of summing every upload of the owner (or of the network:
-- all guests behind one address). It is the sum the quota counts: the sizes of the distinct
-- objects of the uploads that are `uploading` or `uploaded`, an object several uploads share
-- (the same content uploaded again) counted once. A scope is 'owner:<owner>' or
-- 'net:<guest_net>'.
CREATE TABLE held (
    scope TEXT PRIMARY KEY NOT NULL,
    bytes INTEGER NOT NULL
);

INSERT INTO held (scope, bytes)
SELECT 'owner:' || owner, SUM(size) FROM (
    SELECT DISTINCT owner, object_key, size FROM uploads
    WHERE status IN ('uploading', 'uploaded')
) GROUP BY owner;

INSERT INTO held (scope, bytes)
SELECT 'net:' || guest_net, SUM(size) FROM (
    SELECT DISTINCT guest_net, object_key, size FROM uploads
    WHERE guest_net IS NOT NULL AND status IN ('uploading', 'uploaded')
) GROUP BY guest_net;

-- A row counts for its object unless another held row of the same scope already names it.
CREATE TRIGGER held_on_insert AFTER INSERT ON uploads
WHEN NEW.status IN ('uploading', 'uploaded')
BEGIN
    INSERT OR IGNORE INTO held (scope, bytes) VALUES ('owner:' || NEW.owner, 0);
    UPDATE held SET bytes = bytes + NEW.size
    WHERE scope = 'owner:' || NEW.owner AND NOT EXISTS (
        SELECT 1 FROM uploads u WHERE u.object_key = NEW.object_key AND u.size = NEW.size
          AND u.owner = NEW.owner AND u.id != NEW.id AND u.status IN ('uploading', 'uploaded'));
    INSERT OR IGNORE INTO held (scope, bytes)
    SELECT 'net:' || NEW.guest_net, 0 WHERE NEW.guest_net IS NOT NULL;
    UPDATE held SET bytes = bytes + NEW.size
    WHERE scope = 'net:' || NEW.guest_net AND NOT EXISTS (
        SELECT 1 FROM uploads u WHERE u.object_key = NEW.object_key AND u.size = NEW.size
          AND u.guest_net = NEW.guest_net AND u.id != NEW.id
          AND u.status IN ('uploading', 'uploaded'));
END;

-- The old values give back what they held, then the new ones take theirs: a row that stays
-- held with the same object and scope nets to nothing.
CREATE TRIGGER held_on_update AFTER UPDATE OF status, owner, guest_net, object_key, size ON uploads
WHEN (OLD.status IN ('uploading', 'uploaded')) != (NEW.status IN ('uploading', 'uploaded'))
  OR OLD.owner != NEW.owner OR OLD.guest_net IS NOT NEW.guest_net
  OR OLD.object_key != NEW.object_key OR OLD.size != NEW.size
BEGIN
    UPDATE held SET bytes = bytes - OLD.size
    WHERE OLD.status IN ('uploading', 'uploaded') AND scope = 'owner:' || OLD.owner
      AND NOT EXISTS (
        SELECT 1 FROM uploads u WHERE u.object_key = OLD.object_key AND u.size = OLD.size
          AND u.owner = OLD.owner AND u.id != OLD.id AND u.status IN ('uploading', 'uploaded'));
    UPDATE held SET bytes = bytes - OLD.size
    WHERE OLD.status IN ('uploading', 'uploaded') AND scope = 'net:' || OLD.guest_net
      AND NOT EXISTS (
        SELECT 1 FROM uploads u WHERE u.object_key = OLD.object_key AND u.size = OLD.size
          AND u.guest_net = OLD.guest_net AND u.id != OLD.id
          AND u.status IN ('uploading', 'uploaded'));
    INSERT OR IGNORE INTO held (scope, bytes)
    SELECT 'owner:' || NEW.owner, 0 WHERE NEW.status IN ('uploading', 'uploaded');
    UPDATE held SET bytes = bytes + NEW.size
    WHERE NEW.status IN ('uploading', 'uploaded') AND scope = 'owner:' || NEW.owner
      AND NOT EXISTS (
        SELECT 1 FROM uploads u WHERE u.object_key = NEW.object_key AND u.size = NEW.size
          AND u.owner = NEW.owner AND u.id != NEW.id AND u.status IN ('uploading', 'uploaded'));
    INSERT OR IGNORE INTO held (scope, bytes)
    SELECT 'net:' || NEW.guest_net, 0
    WHERE NEW.guest_net IS NOT NULL AND NEW.status IN ('uploading', 'uploaded');
    UPDATE held SET bytes = bytes + NEW.size
    WHERE NEW.status IN ('uploading', 'uploaded') AND scope = 'net:' || NEW.guest_net
      AND NOT EXISTS (
        SELECT 1 FROM uploads u WHERE u.object_key = NEW.object_key AND u.size = NEW.size
          AND u.guest_net = NEW.guest_net AND u.id != NEW.id
          AND u.status IN ('uploading', 'uploaded'));
END;

CREATE TRIGGER held_on_delete AFTER DELETE ON uploads
WHEN OLD.status IN ('uploading', 'uploaded')
BEGIN
    UPDATE held SET bytes = bytes - OLD.size
    WHERE scope = 'owner:' || OLD.owner AND NOT EXISTS (
        SELECT 1 FROM uploads u WHERE u.object_key = OLD.object_key AND u.size = OLD.size
          AND u.owner = OLD.owner AND u.status IN ('uploading', 'uploaded'));
    UPDATE held SET bytes = bytes - OLD.size
    WHERE scope = 'net:' || OLD.guest_net AND NOT EXISTS (
        SELECT 1 FROM uploads u WHERE u.object_key = OLD.object_key AND u.size = OLD.size
          AND u.guest_net = OLD.guest_net AND u.status IN ('uploading', 'uploaded'));
END;
