"""HTTP API (payload 2.0, ``$default`` stage): ingest and Sentry routes to ingest, the rest to api.

API Gateway picks the most specific route, so the Sentry routes (literal ``envelope``/``store``
segments) win over ``/api/{proxy+}``. Route keys cannot end in ``/``, while Sentry SDKs post to
``…/envelope/``: a greedy child route (``…/envelope/{proxy+}``) catches the trailing-slash form.
DSNs with a path prefix (``https://key@host/prefix/1``) are routed for one prefix segment.
"""

from __future__ import annotations

import jsii
from aws_cdk import RemovalPolicy
from aws_cdk import aws_apigateway as apigw_v1
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import StageConfig

SENTRY_ENDPOINTS = ("envelope", "store")


def ingest_paths() -> list[str]:
    paths = ["/v1/{proxy+}"]
    for prefix in ("", "/{dsnPrefix}"):
        for endpoint in SENTRY_ENDPOINTS:
            base = f"{prefix}/api/{{project}}/{endpoint}"
            paths += [base, f"{base}/{{proxy+}}"]
    return paths


API_PATHS = ["/api/{proxy+}", "/.well-known/{proxy+}", "/docs"]


@jsii.implements(apigw.IAccessLogSettings)
class _AccessLogs:
    """JSON access logs with the request id, route and integration status."""

    def __init__(self, destination: apigw.IAccessLogDestination) -> None:
        self._destination = destination

    @property
    def destination(self) -> apigw.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigw_v1.AccessLogFormat:
        return apigw_v1.AccessLogFormat.custom(
            '{"requestId":"$context.requestId","ip":"$context.identity.sourceIp",'
            '"time":"$context.requestTime","method":"$context.httpMethod",'
            '"path":"$context.path","routeKey":"$context.routeKey",'
            '"status":"$context.status","bytes":"$context.responseLength",'
            '"latencyMs":"$context.responseLatency",'
            '"integrationStatus":"$context.integrationStatus",'
            '"integrationError":"$context.integrationErrorMessage"}'
        )


class HttpApi(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: StageConfig,
        ingest: lambda_.IFunction,
        api: lambda_.IFunction,
    ) -> None:
        super().__init__(scope, id)
        removal = RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY
        # No CORS configuration here: ingest answers its own preflights (any origin for the
        # Sentry protocol, per-key origins for /v1) and the dashboard is same-origin.
        self.api = apigw.HttpApi(
            self,
            "Api",
            api_name=f"logsight-{config.stage}",
            create_default_stage=False,
        )
        access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=removal,
        )
        self.stage = apigw.HttpStage(
            self,
            "DefaultStage",
            http_api=self.api,
            stage_name="$default",
            auto_deploy=True,
            throttle=apigw.ThrottleSettings(
                rate_limit=config.api_throttle_rate, burst_limit=config.api_throttle_burst
            ),
            access_log_settings=_AccessLogs(apigw.LogGroupLogDestination(access_logs)),
        )
        ingest_integration = integrations.HttpLambdaIntegration("Ingest", ingest)
        api_integration = integrations.HttpLambdaIntegration("ApiFn", api)
        for path in ingest_paths():
            self.api.add_routes(
                path=path, methods=[apigw.HttpMethod.ANY], integration=ingest_integration
            )
        for path in API_PATHS:
            self.api.add_routes(
                path=path, methods=[apigw.HttpMethod.ANY], integration=api_integration
            )

    @property
    def endpoint(self) -> str:
        return self.api.api_endpoint
