"""S3 + CloudFront for the dashboard's static export, the same origin as ingest and the API.

The bucket is private (origin access control); ``/api/*``, ``/.well-known/*``, ``/v1/*``,
``/docs`` and prefixed Sentry DSN paths go to the HTTP API uncached with every viewer header but
Host (API Gateway routes on its own host name) and CloudFront's headers,
``CloudFront-Viewer-Address`` among them. To the API origin CloudFront also adds a generated
secret header, which lets the api function tell a request that came through CloudFront (whose
viewer address it may believe) from one sent straight to the API Gateway URL with a forged
header.

The dashboard's static export (``web/out``, built by ``make web``) is deployed in two parts with
the caching rules of the local gateway (logsight.local.dashboard): hashed assets under
``_next/static/`` with a year's ``immutable`` caching, kept across deployments so a page loaded
before one still finds its chunks; everything else (HTML above all) with ``no-cache``, which the
distribution's cache policy (minimum TTL 0) honours, so a new deployment shows at once. A
CloudFront Function maps a route to its file (``/live/`` and ``/live`` → ``/live/index.html``):
ids travel in query strings, so every route is a file of the export. No custom error responses:
they would apply to the API's paths too and hide its JSON errors. Without a build, the
placeholder page of ``infra/web`` is deployed instead (same resources, so the template does not
depend on it). The browser snippet, ``sdk/dist``, is uploaded with ``aws s3 cp`` (docs/deploy.md).
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, Fn, RemovalPolicy
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
WEB_EXPORT = ROOT / "web" / "out"
PLACEHOLDER = ROOT / "infra" / "web"
HASHED_ASSETS = "_next/static/*"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"

# Viewer request on the bucket's paths: a route (a path without a file extension) is the
# index.html of its directory in the export.
ROUTE_FUNCTION = """\
function handler(event) {
  var request = event.request;
  var uri = request.uri;
  if (uri.endsWith("/")) {
    request.uri = uri + "index.html";
  } else if (uri.split("/").pop().indexOf(".") === -1) {
    request.uri = uri + "/index.html";
  }
  return request;
}
"""
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
        site_cache = cloudfront.CachePolicy(
            self,
            "SiteCache",
            comment="LogSight dashboard: the object's Cache-Control decides (HTML: no-cache)",
            min_ttl=Duration.seconds(0),
            default_ttl=Duration.minutes(5),
            max_ttl=Duration.days(365),
            enable_accept_encoding_gzip=True,
            enable_accept_encoding_brotli=True,
        )
        routes = cloudfront.Function(
            self,
            "Routes",
            code=cloudfront.FunctionCode.from_inline(ROUTE_FUNCTION),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
            comment="LogSight dashboard: a route is its directory's index.html",
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
                cache_policy=site_cache,
                response_headers_policy=cloudfront.ResponseHeadersPolicy.SECURITY_HEADERS,
                function_associations=[
                    cloudfront.FunctionAssociation(
                        function=routes, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST
                    )
                ],
                compress=True,
            ),
            additional_behaviors=dict.fromkeys(API_PATH_PATTERNS, api_behavior),
        )
        site = WEB_EXPORT if (WEB_EXPORT / "index.html").is_file() else PLACEHOLDER
        # Hashed file names never change content: cached for a year, and never pruned, so a
        # page loaded before a deployment still finds its chunks after it.
        s3deploy.BucketDeployment(
            self,
            "DashboardAssets",
            sources=[s3deploy.Source.asset(str(site))],
            destination_bucket=self.bucket,
            include=[HASHED_ASSETS],
            exclude=["*"],
            cache_control=[s3deploy.CacheControl.from_string(IMMUTABLE)],
            prune=False,
            memory_limit=512,
        )
        s3deploy.BucketDeployment(
            self,
            "Dashboard",
            sources=[s3deploy.Source.asset(str(site))],
            destination_bucket=self.bucket,
            exclude=[HASHED_ASSETS],
            cache_control=[s3deploy.CacheControl.from_string(REVALIDATE)],
            distribution=self.distribution,
            distribution_paths=["/*"],
            # The snippet (sdk/) is uploaded separately: keep what is not part of the export.
            prune=False,
            memory_limit=512,
        )

    @property
    def url(self) -> str:
        return f"https://{self.distribution.distribution_domain_name}"
