"""The OpenTelemetry Python SDK's OTLP/HTTP log exporter sends to `logsight local` by setting only
the endpoint and a header, and what it sends is stored; OTLP/JSON (which the Python exporter does
not speak) is sent as a raw request."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import orjson
import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource

from tests.conftest import RUNTIME_ENV, create_database, create_vhost, delete_vhost, drop_database
from tests.support.runtime import LocalLogSight

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalLogSight]:
    database, vhost = create_database("logsight_otlp"), create_vhost()
    local = LocalLogSight(amqp_url=vhost, database_url=database, env=RUNTIME_ENV)
    try:
        yield local.start()
    finally:
        local.cleanup()
        delete_vhost(vhost)
        drop_database(database)


def stored_log(runtime: LocalLogSight, text: str) -> dict[str, object]:
    return runtime.wait_for_row(
        "SELECT * FROM logs WHERE project_id = %s AND body = %s", runtime.project_id, text
    )


@pytest.mark.parametrize("header", ["x-logsight-key", "authorization"])
def test_the_python_sdk_exporter_with_gzip(runtime: LocalLogSight, header: str) -> None:
    value = runtime.key if header == "x-logsight-key" else f"Bearer {runtime.key}"
    exporter = OTLPLogExporter(
        endpoint=f"{runtime.url}/v1/logs", headers={header: value}, compression=Compression.Gzip
    )
    provider = LoggerProvider(
        resource=Resource.create({"service.name": "billing", "deployment.environment": "staging"})
    )
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
    logger = logging.getLogger(f"otlp-test-{header}")
    logger.propagate = False
    handler = LoggingHandler(logger_provider=provider)
    logger.addHandler(handler)
    text = f"invoice {uuid.uuid4()} overdue"
    try:
        logger.warning(text, extra={"invoice.days": 12})
        assert provider.force_flush(10_000)
    finally:
        logger.removeHandler(handler)
        provider.shutdown()
    row = stored_log(runtime, text)
    assert (row["level"], row["severity_text"], row["severity_number"]) == ("warning", "WARN", 13)
    assert (row["service"], row["environment"]) == ("billing", "staging")
    attributes = row["attributes"]
    assert isinstance(attributes, dict)
    assert attributes["invoice.days"] == 12
    resource = row["resource"]
    assert isinstance(resource, dict)
    assert resource["deployment.environment"] == "staging"
    assert resource["telemetry.sdk.language"] == "python"


def test_otlp_json_with_a_partial_success(runtime: LocalLogSight) -> None:
    kept = f"kept {uuid.uuid4()}"
    too_many = [{"key": f"a{n}", "value": {"stringValue": "v"}} for n in range(300)]
    document = {
        "resourceLogs": [
            {
                "scopeLogs": [
                    {
                        "logRecords": [
                            {"body": {"stringValue": kept}, "severityNumber": 5},
                            {"body": {"stringValue": "refused"}, "attributes": too_many},
                        ]
                    }
                ]
            }
        ]
    }
    with runtime.client() as client:
        response = client.post(
            "/v1/logs",
            content=orjson.dumps(document),
            headers={"content-type": "application/json", "x-logsight-key": runtime.key},
        )
    assert response.status_code == 200
    partial = response.json()["partialSuccess"]
    assert partial["rejectedLogRecords"] == "1"
    assert "properties" in partial["errorMessage"]
    assert stored_log(runtime, kept)["level"] == "debug"


def test_a_bad_body_is_a_clear_400_through_the_gateway(runtime: LocalLogSight) -> None:
    with runtime.client() as client:
        response = client.post(
            "/v1/logs",
            content=b"\xff\xff\xff",
            headers={"content-type": "application/x-protobuf", "x-logsight-key": runtime.key},
        )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_protobuf"
