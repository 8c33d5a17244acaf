#!/usr/bin/env python3
"""The CDK app: ``cdk synth`` / ``cdk deploy`` (``-c stage=dev|prod``, ``-c localstack=true``).

Offline and credential-free: the stack is environment-agnostic, and the Lambda assets are built
here when missing or stale (``infra.build``, cached). ``CDK_OUTDIR`` sets the output directory
when run as ``python app.py`` without the CDK CLI.
"""

from __future__ import annotations

import os

# aws-cdk-lib's jsii runtime warns on every start about the Node version; it is harmless.
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra.build import build_all
from infra.config import load_config
from infra.stack import LogSightStack


def main() -> cdk.App:
    app = cdk.App()
    config = load_config(app.node)
    build_all(config.lambda_architecture)
    LogSightStack(app, config.stack_name, config=config)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()
    return app


if __name__ == "__main__":
    main()
