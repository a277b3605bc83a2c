"""Uploads files straight to the store with boto3 (the AWS SDK for Python), as an SDK user gets
it: `upload_file` with its default checksums (CRC32, per part), multipart above boto3's 8 MiB
threshold, 6 threads -- parts of one file in parallel, or files in parallel when there are
many. Prints one JSON line: the seconds, and the CPU boto3 and Garage used.

    python bench/direct_upload.py FILE...
Reads HOIST_S3_ENDPOINT, HOIST_S3_REGION, HOIST_S3_BUCKET, AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY from the environment (scripts/local-s3.sh writes them).
"""

import json
import os
import resource
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from proc_cpu import cpu_seconds

# Threads, as many as the client being compared sends parts at once.
THREADS = int(os.environ.get("BENCH_THREADS", "6"))


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    paths = sys.argv[1:]
    client = boto3.client(
        "s3",
        endpoint_url=os.environ["HOIST_S3_ENDPOINT"],
        region_name=os.environ["HOIST_S3_REGION"],
        config=Config(s3={"addressing_style": "path"}, max_pool_connections=THREADS),
    )
    bucket = os.environ["HOIST_S3_BUCKET"]
    # One file: its parts 6 at a time. Many: 6 files at a time, each sent by its own thread.
    many = len(paths) > 1
    transfer = TransferConfig(max_concurrency=THREADS, use_threads=not many)
    keys = [f"bench-direct/{uuid.uuid4()}/{os.path.basename(p)}" for p in paths]

    def send(pair):
        path, key = pair
        client.upload_file(path, bucket, key, Config=transfer)

    before = (own_cpu(), cpu_seconds("garage"))
    started = time.perf_counter()
    if many:
        with ThreadPoolExecutor(THREADS) as pool:
            list(pool.map(send, zip(paths, keys)))
    else:
        send((paths[0], keys[0]))
    seconds = time.perf_counter() - started
    cpu = {"boto3": own_cpu() - before[0], "garage": cpu_seconds("garage") - before[1]}
    for key in keys:
        client.delete_object(Bucket=bucket, Key=key)
    print(json.dumps({"seconds": seconds, "cpu": cpu, "files": len(paths)}))


if __name__ == "__main__":
    main()
