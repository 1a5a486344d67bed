"""Writes one object to the test's moto server, as someone with write access to the bucket
(and no good intentions) would: s3_put.py ENDPOINT ACCESS_KEY SECRET_KEY BUCKET KEY FILE."""
import sys

import boto3

endpoint, access, secret, bucket, key, path = sys.argv[1:7]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id=access, aws_secret_access_key=secret)
with open(path, "rb") as f:
    s3.put_object(Bucket=bucket, Key=key, Body=f.read())
