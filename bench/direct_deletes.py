"""The baseline for the reaper: the same number of DeleteObject calls on keys that do not
exist, sent straight to the store with boto3 from 16 threads (the reaper's concurrency).
Prints one JSON line: calls and seconds.

    python bench/direct_deletes.py CALLS
"""

import json
import os
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config

calls = int(sys.argv[1])
s3 = boto3.client(
    "s3",
    endpoint_url=os.environ["HOIST_S3_ENDPOINT"],
    region_name=os.environ["HOIST_S3_REGION"],
    config=Config(s3={"addressing_style": "path"}, max_pool_connections=16),
)
bucket = os.environ["HOIST_S3_BUCKET"]
keys = [f"{uuid.uuid4()}/fake.bin" for _ in range(calls)]
started = time.monotonic()
with ThreadPoolExecutor(16) as pool:
    list(pool.map(lambda key: s3.delete_object(Bucket=bucket, Key=key), keys))
print(json.dumps({"calls": calls, "seconds": time.monotonic() - started}))
