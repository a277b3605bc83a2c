"""Writes N expired uploads into a Hoist database, as a long outage would leave them: keys no
store has heard of, each with a made-up multipart upload id (every upload is a multipart upload,
half of them one-part). For bench/reaper.sh.

    python bench/plant_expired.py DATABASE N
"""

import sqlite3
import sys
import time

path, n = sys.argv[1], int(sys.argv[2])
now = int(time.time() * 1000)
db = sqlite3.connect(path)
db.execute(
    """
    WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?)
    INSERT INTO uploads (id, owner, name, object_key, content_type, size, part_size,
                         s3_upload_id, status, created_at, expires_at)
    SELECT printf('planted-%d-%s', i, hex(randomblob(8))), 'planted', 'fake.bin',
           printf('hoist/%s/fake-%d.bin', lower(hex(randomblob(16))), i),
           'application/octet-stream',
           CASE i % 2 WHEN 0 THEN 20971520 ELSE 1000 END, 5242880,
           lower(hex(randomblob(32))),
           'uploading', ?, ? - (i % 1000) FROM seq
    """,
    (n, now, now - 1),
)
db.commit()
