-- The checksum each part was signed for. A part is never signed again for other content
-- while the store holds it: a second URL for other bytes would let a client swap what the
-- server checked.
CREATE TABLE upload_parts (
    upload_id    TEXT NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
    part_number  INTEGER NOT NULL CHECK (part_number BETWEEN 1 AND 10000),
    checksum     TEXT NOT NULL,
    PRIMARY KEY (upload_id, part_number)
) STRICT, WITHOUT ROWID;
