-- The library in the other orders a person may choose (by name, largest first), a page at a
-- time without sorting all of an owner's uploads for each page.
CREATE INDEX uploads_by_owner_name ON uploads (owner, lower(name), id);
CREATE INDEX uploads_by_owner_size ON uploads (owner, size DESC, id);
