-- See sqlite/0005_guest_networks.sql.
ALTER TABLE uploads ADD COLUMN guest_net TEXT;
CREATE INDEX uploads_by_guest_net ON uploads (guest_net, status) WHERE guest_net IS NOT NULL;
