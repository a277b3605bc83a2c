"""Uploads one file straight to the store with boto3 (the AWS SDK for Python): parallel
multipart, 16 MiB parts, 6 at a time -- the baseline Hoist is measured against. Prints one
JSON line with the seconds of each run.

    python bench/direct_upload.py FILE RUNS
Reads HOIST_S3_ENDPOINT, HOIST_S3_REGION, HOIST_S3_BUCKET, AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY from the environment (scripts/local-s3.sh writes them).
"""

import json
import os
import resource
import sys
import time

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from proc_cpu import cpu_seconds

MIB = 1024 * 1024


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    path, runs = sys.argv[1], int(sys.argv[2])
    client = boto3.client(
        "s3",
        endpoint_url=os.environ["HOIST_S3_ENDPOINT"],
        region_name=os.environ["HOIST_S3_REGION"],
        config=Config(
            s3={"addressing_style": "path"},
            # Like the browser's presigned PUTs: no extra checksum work on the client.
            request_checksum_calculation="when_required",
            max_pool_connections=6,
        ),
    )
    bucket = os.environ["HOIST_S3_BUCKET"]
    transfer = TransferConfig(
        multipart_threshold=16 * MIB, multipart_chunksize=16 * MIB, max_concurrency=6, use_threads=True
    )
    seconds, cpu = [], []
    for run in range(runs):
        key = f"bench-direct/{run}-{os.path.basename(path)}"
        before = (own_cpu(), cpu_seconds("garage"))
        started = time.perf_counter()
        client.upload_file(path, bucket, key, Config=transfer)
        seconds.append(time.perf_counter() - started)
        cpu.append({"boto3": own_cpu() - before[0], "garage": cpu_seconds("garage") - before[1]})
        client.delete_object(Bucket=bucket, Key=key)
    print(json.dumps({"seconds": seconds, "cpu": cpu}))


if __name__ == "__main__":
    main()
