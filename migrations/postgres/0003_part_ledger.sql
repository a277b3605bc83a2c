-- See sqlite/0003_part_ledger.sql.
CREATE TABLE upload_parts (
    upload_id    TEXT NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
    part_number  BIGINT NOT NULL CHECK (part_number BETWEEN 1 AND 10000),
    checksum     TEXT NOT NULL,
    PRIMARY KEY (upload_id, part_number)
);
