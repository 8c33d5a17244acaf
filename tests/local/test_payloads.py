"""The AWS payloads the local runtime builds follow AWS's documented shapes."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from logsight.apigw import HttpRequest
from logsight.local.payloads import amqp_timestamp, http_api_event, rmq_message, scheduled_event


def test_http_api_event_v2_shape() -> None:
    event = http_api_event(
        method="POST",
        path="/v1/events",
        query_string="key=abc&tag=a&tag=b",
        headers=[
            ("Content-Type", "application/json"),
            ("X-Multi", "1"),
            ("x-multi", "2"),
            ("Cookie", "a=1; b=2"),
        ],
        body=b'{"name": "x"}',
        source_ip="10.0.0.1",
    )
    assert event["version"] == "2.0"
    assert event["routeKey"] == "$default"
    assert event["rawPath"] == "/v1/events"
    assert event["rawQueryString"] == "key=abc&tag=a&tag=b"
    assert event["queryStringParameters"] == {"key": "abc", "tag": "a,b"}
    assert event["headers"]["x-multi"] == "1,2"
    assert event["cookies"] == ["a=1", "b=2"]
    assert event["isBase64Encoded"] is False
    assert event["body"] == '{"name": "x"}'
    context = event["requestContext"]
    assert context["http"]["method"] == "POST"
    assert context["http"]["sourceIp"] == "10.0.0.1"
    assert isinstance(context["timeEpoch"], int)
    request = HttpRequest.from_event(event)
    assert (request.method, request.path, request.body) == ("POST", "/v1/events", b'{"name": "x"}')
    assert request.received_at.tzinfo is UTC


def test_binary_and_encoded_bodies_are_base64() -> None:
    event = http_api_event(
        method="POST",
        path="/",
        query_string="",
        headers=[("content-encoding", "gzip")],
        body=b"\x1f\x8b\x00",
        source_ip="127.0.0.1",
    )
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\x1f\x8b\x00"
    assert HttpRequest.from_event(event).body == b"\x1f\x8b\x00"


def test_rmq_message_renders_headers_like_amazon_mq() -> None:
    message = rmq_message(
        b"hello",
        {
            "content_type": "application/json",
            "application_headers": {"s": "v", "n": 10},
            "timestamp": 2021,
            "delivery_mode": 2,
        },
        redelivered=True,
    )
    basic = message["basicProperties"]
    assert basic["headers"] == {"s": {"bytes": [118]}, "n": 10}
    assert basic["timestamp"] == "Jan 1, 1970, 12:33:41 AM"
    assert basic["bodySize"] == 5
    assert message["redelivered"] is True
    assert base64.b64decode(message["data"]) == b"hello"
    assert (
        amqp_timestamp(datetime(2026, 11, 27, 15, 4, 5, tzinfo=UTC)) == "Nov 27, 2026, 3:04:05 PM"
    )


def test_scheduled_event_shape() -> None:
    event = scheduled_event("logsight-maintenance")
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["resources"][0].endswith(":rule/logsight-maintenance")
