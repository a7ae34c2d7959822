"""Exports metrics with the OpenTelemetry Python SDK to the OTLP/HTTP
endpoint given as the first argument (protobuf encoding), for the
steward-metrics integration test `otlp`. Exits non-zero unless every
export succeeded."""

import sys

from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.metrics import Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExportResult, PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import (
    ExplicitBucketHistogramAggregation,
    ExponentialBucketHistogramAggregation,
    View,
)
from opentelemetry.sdk.resources import Resource

results = []


class CheckedExporter(OTLPMetricExporter):
    """Records the result of every export."""

    def export(self, metrics_data, timeout_millis=10_000, **kwargs):
        result = super().export(metrics_data, timeout_millis=timeout_millis, **kwargs)
        results.append(result)
        return result


resource = Resource.create(
    {
        "service.name": "shop",
        "service.namespace": "acme",
        "service.instance.id": "i-1",
        "deployment.environment": "test",
    }
)
# A long interval: the one export is the one shutdown makes.
reader = PeriodicExportingMetricReader(
    CheckedExporter(endpoint=sys.argv[1]), export_interval_millis=3_600_000
)
provider = MeterProvider(
    resource=resource,
    metric_readers=[reader],
    views=[
        View(
            instrument_name="request.duration",
            aggregation=ExplicitBucketHistogramAggregation(boundaries=[0.1, 1, 10]),
        ),
        View(
            instrument_name="payload.size",
            aggregation=ExponentialBucketHistogramAggregation(max_size=20),
        ),
    ],
)
meter = provider.get_meter("steward.test", "0.1.0")

requests = meter.create_counter("requests", unit="{request}")
requests.add(3, {"route": "/a"})
requests.add(2, {"route": "/a"})
requests.add(1, {"route": "/b"})

queue = meter.create_up_down_counter("queue.depth")
queue.add(5)
queue.add(-2)

meter.create_observable_gauge(
    "temperature",
    callbacks=[lambda options: [Observation(21.5, {"room": "lab"})]],
    unit="Cel",
)

duration = meter.create_histogram("request.duration", unit="s")
for v in [0.05, 0.5, 0.7, 5, 50]:
    duration.record(v)

size = meter.create_histogram("payload.size", unit="By")
for v in [1, 2, 3, 100, 1000]:
    size.record(v)

provider.shutdown()
if not results or any(r != MetricExportResult.SUCCESS for r in results):
    sys.exit(f"exports failed: {results}")
print(f"exported {len(results)} time(s)")
