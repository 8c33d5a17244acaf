#!/bin/bash
# Runs inside LocalStack once it is ready: the one-time set-up docs/deploy.md asks for on AWS,
# the database URL secret, pointing at the compose TimescaleDB (by its name on the network the
# Lambda containers join).
set -euo pipefail
name="logsight/dev/database-url"
url="postgresql://postgres:logsight@timescaledb:5432/logsight"
if awslocal secretsmanager describe-secret --secret-id "$name" >/dev/null 2>&1; then
    awslocal secretsmanager put-secret-value --secret-id "$name" --secret-string "$url" >/dev/null
else
    awslocal secretsmanager create-secret --name "$name" --secret-string "$url" >/dev/null
fi
echo "logsight: $name ready"
