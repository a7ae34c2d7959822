"""Pushes log lines to steward with two real clients: the python-logging-loki
handler (Loki's JSON push API, basic auth with the token as the password)
and the OpenTelemetry Python SDK's OTLP/HTTP log exporter (protobuf,
gzip, bearer token). Usage: logs_clients.py BASE_URL TOKEN MARK."""

import logging
import sys

import logging_loki
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource

base, token, mark = sys.argv[1], sys.argv[2], sys.argv[3]

loki = logging_loki.LokiHandler(
    url=f"{base}/loki/api/v1/push",
    tags={"service": "py-loki", "env": "test"},
    auth=("steward", token),
    version="1",
)
loki_logger = logging.getLogger("loki-client")
loki_logger.setLevel(logging.INFO)
loki_logger.addHandler(loki)
loki_logger.error("payment failed %s", mark)
loki_logger.info("payment retried %s", mark)

provider = LoggerProvider(
    resource=Resource.create(
        {"service.name": "py-otel", "deployment.environment.name": "test", "host.name": "box-1"}
    )
)
provider.add_log_record_processor(
    SimpleLogRecordProcessor(
        OTLPLogExporter(
            endpoint=f"{base}/v1/logs",
            headers={"Authorization": f"Bearer {token}"},
            compression=Compression.Gzip,
        )
    )
)
otel_logger = logging.getLogger("otel-client")
otel_logger.setLevel(logging.INFO)
otel_logger.addHandler(LoggingHandler(logger_provider=provider))
otel_logger.warning("planner slow %s", mark, extra={"task.id": "t-42"})
provider.shutdown()
print("pushed")
