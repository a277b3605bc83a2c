-- The library in the other orders a person may choose (by name, largest first), a page at a
-- time without sorting all of an owner's uploads for each page.
CREATE INDEX uploads_by_owner_name ON uploads (owner, lower(name), id);
-- Largest first as ascending minus the size: an index on (owner, size) would match the
-- held-bytes triggers' lookups (owner, size and object key all equal), and SQLite, without
-- statistics, would take it over the object key's and read every upload of that size.
CREATE INDEX uploads_by_owner_size ON uploads (owner, (-size), id);
