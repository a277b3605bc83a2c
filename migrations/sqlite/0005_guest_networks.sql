-- The network a guest's upload came from (an IPv4 address, or an IPv6 /64), so that all guests
-- from one network together keep no more than HOIST_GUEST_NETWORK_QUOTA: a new cookie is free,
-- a new network is not. NULL for an account's uploads (and once a guest's become an account's).
ALTER TABLE uploads ADD COLUMN guest_net TEXT;
CREATE INDEX uploads_by_guest_net ON uploads (guest_net, status) WHERE guest_net IS NOT NULL;
