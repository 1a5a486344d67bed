"""Prepares a moto server for the backup tests: an IAM user with full rights, its access key,
and a bucket. These are the server's first four actions, which moto leaves unauthenticated
(INITIAL_NO_AUTH_ACTION_COUNT=4); afterwards every request must carry the user's key.
Prints "ACCESS_KEY SECRET_KEY"."""
import json
import sys

import boto3

endpoint, bucket = sys.argv[1], sys.argv[2]
common = dict(endpoint_url=endpoint, region_name="us-east-1",
              aws_access_key_id="setup", aws_secret_access_key="setup")
iam = boto3.client("iam", **common)
iam.create_user(UserName="backup")
key = iam.create_access_key(UserName="backup")["AccessKey"]
iam.put_user_policy(UserName="backup", PolicyName="all", PolicyDocument=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}))
s3 = boto3.client("s3", **common)
s3.create_bucket(Bucket=bucket)
print(key["AccessKeyId"], key["SecretAccessKey"])
