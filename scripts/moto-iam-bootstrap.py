"""Creates IAM users in a moto server started with `scripts/start-moto --iam`, before IAM
enforcement begins, and prints their credentials as JSON.

    moto-venv/bin/python scripts/moto-iam-bootstrap.py ENDPOINT 'NAME=ACTION,ACTION' ...

Each argument makes one user whose inline policy allows exactly the listed actions on every
resource (`*` for all). Uses 3 unauthenticated calls per user.
"""
import json
import sys

import boto3

endpoint = sys.argv[1]
iam = boto3.client(
    "iam",
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id="bootstrap",
    aws_secret_access_key="bootstrap",
)
out = {}
for spec in sys.argv[2:]:
    name, actions = spec.split("=", 1)
    iam.create_user(UserName=name)
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions.split(","), "Resource": "*"}],
    }
    iam.put_user_policy(UserName=name, PolicyName=f"{name}-policy", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    out[name] = {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}
print(json.dumps(out))
