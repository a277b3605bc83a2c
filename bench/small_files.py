"""What a small file costs the server in calls to the store, sent as a presigned PutObject (as
Hoist did) or as a one-part multipart upload (as it does now, so that no URL outlives its
upload). Each file goes through the server's side of the protocol exactly as Hoist runs it:

  put:       presign PutObject -> PUT -> HeadObject -> ranged GET (type check)
  multipart: CreateMultipartUpload -> presign UploadPart -> PUT -> ListParts ->
             CompleteMultipartUpload -> ranged GET (size and type from its headers: no
             HeadObject since issue 11)

Rounds alternate between the two, each with fresh random files. Prints one JSON line.

    python bench/small_files.py FILES SIZE_KIB ROUNDS
"""

import json
import os
import statistics
import sys
import time
import uuid
import urllib.request

import boto3
from botocore.config import Config


def client():
    return boto3.client(
        "s3",
        endpoint_url=os.environ["HOIST_S3_ENDPOINT"],
        region_name=os.environ["HOIST_S3_REGION"],
        aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        config=Config(
            signature_version="s3v4", s3={"addressing_style": "path"}, request_checksum_calculation="when_required"
        ),
    )


def put_url(url: str, body: bytes, headers=None) -> None:
    request = urllib.request.Request(url, data=body, method="PUT", headers=headers or {})
    with urllib.request.urlopen(request) as response:
        response.read()


def check(s3, bucket, key, size):
    head = s3.head_object(Bucket=bucket, Key=key)
    assert head["ContentLength"] == size
    s3.get_object(Bucket=bucket, Key=key, Range="bytes=0-16383")["Body"].read()


def as_put(s3, bucket, key, body):
    url = s3.generate_presigned_url(
        "put_object",
        Params={"Bucket": bucket, "Key": key, "ContentType": "application/octet-stream", "ContentLength": len(body)},
        ExpiresIn=900,
    )
    put_url(url, body, {"Content-Type": "application/octet-stream"})
    check(s3, bucket, key, len(body))


def as_multipart(s3, bucket, key, body):
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType="application/octet-stream")
    upload_id = upload["UploadId"]
    url = s3.generate_presigned_url(
        "upload_part",
        Params={"Bucket": bucket, "Key": key, "UploadId": upload_id, "PartNumber": 1, "ContentLength": len(body)},
        ExpiresIn=900,
    )
    put_url(url, body)
    parts = s3.list_parts(Bucket=bucket, Key=key, UploadId=upload_id)["Parts"]
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key=key,
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]} for p in parts]},
    )
    start = s3.get_object(Bucket=bucket, Key=key, Range="bytes=0-16383")
    assert start["ContentRange"].endswith(f"/{len(body)}")
    start["Body"].read()


def main() -> None:
    files, size_kib, rounds = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    s3, bucket = client(), os.environ["HOIST_S3_BUCKET"]
    seconds = {"put": [], "multipart": []}
    for round_ in range(rounds):
        order = ["put", "multipart"] if round_ % 2 == 0 else ["multipart", "put"]
        for way in order:
            bodies = [os.urandom(size_kib * 1024) for _ in range(files)]
            keys = [f"bench/{uuid.uuid4()}/small.bin" for _ in range(files)]
            send = as_put if way == "put" else as_multipart
            started = time.perf_counter()
            for key, body in zip(keys, bodies):
                send(s3, bucket, key, body)
            seconds[way].append(time.perf_counter() - started)
            for key in keys:
                s3.delete_object(Bucket=bucket, Key=key)
    put, multipart = statistics.median(seconds["put"]), statistics.median(seconds["multipart"])
    print(json.dumps({
        "files": files,
        "size_kib": size_kib,
        "rounds": rounds,
        "put_seconds": seconds["put"],
        "multipart_seconds": seconds["multipart"],
        "put_ms_per_file": round(1000 * put / files, 2),
        "multipart_ms_per_file": round(1000 * multipart / files, 2),
        "multipart_over_put": round(multipart / put, 3),
    }))


if __name__ == "__main__":
    main()
