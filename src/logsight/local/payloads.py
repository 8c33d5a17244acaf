"""The exact AWS event payloads the local runtime hands to the handlers.

API Gateway HTTP API payload format 2.0, the Amazon MQ (RabbitMQ) event source mapping's
``aws:rmq`` event, and EventBridge scheduled events, as documented by AWS.
"""

from __future__ import annotations

import base64
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

ACCOUNT = "000000000000"
REGION = "us-east-1"

_TEXT_TYPES = ("application/json", "text/", "application/xml", "application/x-www-form-urlencoded")


def http_api_event(
    *,
    method: str,
    path: str,
    query_string: str,
    headers: list[tuple[str, str]],
    body: bytes,
    source_ip: str,
    route_key: str = "$default",
) -> dict[str, Any]:
    merged: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        lname = name.lower()
        if lname == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        # API Gateway joins repeated headers with commas.
        merged[lname] = f"{merged[lname]},{value}" if lname in merged else value
    query: dict[str, str] = {}
    for name, value in parse_qsl(query_string, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    content_type = merged.get("content-type", "")
    textual = "content-encoding" not in merged and (
        not content_type or content_type.startswith(_TEXT_TYPES)
    )
    encoded = not textual
    if textual:
        try:
            text_body = body.decode("utf-8")
        except UnicodeDecodeError:
            encoded = True
    if encoded:
        text_body = base64.b64encode(body).decode("ascii")
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query_string,
        "headers": merged,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "local",
            "domainName": merged.get("host", "localhost"),
            "domainPrefix": "local",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": merged.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route_key,
            "stage": "$default",
            "time": datetime.fromtimestamp(now, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": encoded,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if body:
        event["body"] = text_body
    return event


def _amqp_header_value(value: Any) -> Any:
    # Amazon MQ renders AMQP string (longstr) headers as byte arrays.
    if isinstance(value, str):
        return {"bytes": list(value.encode("utf-8"))}
    if isinstance(value, bytes):
        return {"bytes": list(value)}
    if isinstance(value, list):
        return [_amqp_header_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _amqp_header_value(v) for k, v in value.items()}
    if isinstance(value, datetime):
        return int(value.timestamp())
    return value


def amqp_timestamp(value: int | datetime | None) -> str | None:
    if value is None:
        return None
    # The format Amazon MQ uses, e.g. "Jan 1, 1970, 12:33:41 AM".
    moment = value if isinstance(value, datetime) else datetime.fromtimestamp(value, UTC)
    return moment.strftime("%b %-d, %Y, %-I:%M:%S %p")


def rmq_message(body: bytes, properties: dict[str, Any], *, redelivered: bool) -> dict[str, Any]:
    basic = {
        "contentType": properties.get("content_type"),
        "contentEncoding": properties.get("content_encoding"),
        "headers": _amqp_header_value(properties.get("application_headers") or {}),
        "deliveryMode": properties.get("delivery_mode"),
        "priority": properties.get("priority"),
        "correlationId": properties.get("correlation_id"),
        "replyTo": properties.get("reply_to"),
        "expiration": properties.get("expiration"),
        "messageId": properties.get("message_id"),
        "timestamp": amqp_timestamp(properties.get("timestamp")),
        "type": properties.get("type"),
        "userId": properties.get("user_id"),
        "appId": properties.get("app_id"),
        "clusterId": properties.get("cluster_id"),
        "bodySize": len(body),
    }
    return {
        "basicProperties": basic,
        "redelivered": redelivered,
        "data": base64.b64encode(body).decode("ascii"),
    }


def rmq_event(queue: str, vhost: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "eventSource": "aws:rmq",
        "eventSourceArn": f"arn:aws:mq:{REGION}:{ACCOUNT}:broker:logsight-local:b-local",
        "rmqMessagesByQueue": {f"{queue}::{vhost}": messages},
    }


def scheduled_event(rule: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule}"],
        "detail": {},
    }
