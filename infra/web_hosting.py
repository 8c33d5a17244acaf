"""S3 + CloudFront for the dashboard's static export, the same origin as ingest and the API.

The bucket is private (origin access control); ``/api/*``, ``/.well-known/*``, ``/v1/*``,
``/docs`` and prefixed Sentry DSN paths go to the HTTP API uncached with every viewer header but
Host (API Gateway routes on its own host name) and CloudFront's headers,
``CloudFront-Viewer-Address`` among them. To the API origin CloudFront also adds a generated
secret header, which lets the api function tell a request that came through CloudFront (whose
viewer address it may believe) from one sent straight to the API Gateway URL with a forged
header.

Until the dashboard ships, a placeholder page is deployed (the browser snippet, ``sdk/dist``, is
uploaded with ``aws s3 cp``: see docs/deploy.md; it is not a synth input so the template stays
the same whether or not the SDK was built).
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Fn, RemovalPolicy
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.config import StageConfig

# The header the api function checks (logsight.api.client_address.CLOUDFRONT_SECRET_HEADER).
CLOUDFRONT_SECRET_HEADER = "X-LogSight-CloudFront-Secret"  # noqa: S105 - a header name

ROOT = Path(__file__).resolve().parents[1]
# "/docs" (the api's redirect to /api/docs) too: without it the path falls to the bucket (403).
API_PATH_PATTERNS = (
    "/api/*",
    "/.well-known/*",
    "/v1/*",
    "/docs",
    "/*/api/*/envelope*",
    "/*/api/*/store*",
)


class WebHosting(Construct):
    def __init__(
        self, scope: Construct, id: str, *, config: StageConfig, api_endpoint: str
    ) -> None:
        super().__init__(scope, id)
        retain = config.retain_data
        self.bucket = s3.Bucket(
            self,
            "Site",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            versioned=retain,
            removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
            auto_delete_objects=not retain,
        )
        # Only CloudFront and the api function know it: the header value is resolved by
        # CloudFormation at deploy time, the function reads the secret at start-up.
        self.origin_secret = secretsmanager.Secret(
            self,
            "CloudFrontSecret",
            description="LogSight: the header CloudFront adds to API requests (origin check)",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                exclude_punctuation=True, password_length=48
            ),
            removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
        )
        # https://<id>.execute-api.<region>.amazonaws.com → the host name.
        api_domain = Fn.select(2, Fn.split("/", api_endpoint))
        api_origin = origins.HttpOrigin(
            api_domain,
            protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
            # CloudFront overwrites a viewer's header of the same name.
            custom_headers={
                CLOUDFRONT_SECRET_HEADER: self.origin_secret.secret_value.unsafe_unwrap()
            },
        )
        api_behavior = cloudfront.BehaviorOptions(
            origin=api_origin,
            viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
            allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
            cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
            # Every viewer header but Host, and CloudFront's own (CloudFront-Viewer-Address).
            origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
            compress=True,
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=f"LogSight {config.stage}",
            default_root_object="index.html",
            minimum_protocol_version=cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                compress=True,
            ),
            additional_behaviors=dict.fromkeys(API_PATH_PATTERNS, api_behavior),
        )
        s3deploy.BucketDeployment(
            self,
            "Placeholder",
            sources=[s3deploy.Source.asset(str(ROOT / "infra" / "web"))],
            destination_bucket=self.bucket,
            distribution=self.distribution,
            distribution_paths=["/index.html"],
            # The dashboard's deployment (a later issue) replaces these; keep what it uploads.
            prune=False,
            memory_limit=256,
        )

    @property
    def url(self) -> str:
        return f"https://{self.distribution.distribution_domain_name}"
