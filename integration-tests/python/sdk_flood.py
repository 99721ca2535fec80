#!/usr/bin/env python3
"""Creates spans with the OpenTelemetry Python SDK as an application would, and reports what the SDK lost.

The tracer provider has the SDK's default BatchSpanProcessor (queue 2048, batches of 512, 5 s delay:
no tuning) in front of an OTLP exporter. The main thread creates spans in a tight loop of
`with tracer.start_as_current_span(...)`, flat out or paced at --rate spans/s; the processor's
worker thread exports them meanwhile. When the processor's queue is full, the SDK drops the span
(BatchProcessor.emit: the deque has a maxlen; it logs "Queue full, dropping Span." at most once per
20 s and, with OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED, counts it in
`otel.sdk.processor.span.processed{error.type="queue_full"}`).

Prints one JSON line:
  created            spans created (ended) by the loop
  seconds, rate      how long the loop took, and spans created per second
  submitted          spans the processor handed to the exporter (wrapped to count them)
  exported_ok        of those, spans in exports that returned SUCCESS
  export_failed      spans in exports that returned FAILURE
  dropped            created - submitted: spans the SDK dropped (its queue was full)
  dropped_metric     the SDK's own queue_full count (its internal metric), or null if unavailable
  queue_full_logged  whether the SDK logged "Queue full"
Exits 0 whatever was lost: the caller judges the figures.
"""

import argparse
import json
import logging
import os
import sys
import time

# The SDK's own processor metrics (otel.sdk.processor.span.processed) must be enabled before the
# processor is built; they count drops but change nothing about batching.
# The SDK's internal metrics (its own queue_full count) cost a fifth of the creation rate: off
# unless the caller sets OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED; `dropped` does not need them.

from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import InMemoryMetricReader  # noqa: E402
from opentelemetry.sdk.resources import Resource  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import (  # noqa: E402
    BatchSpanProcessor,
    SpanExporter,
    SpanExportResult,
)


class CountingExporter(SpanExporter):
    """Delegates to the OTLP exporter and counts what the batch processor handed over."""

    def __init__(self, inner):
        self.inner = inner
        self.submitted = 0
        self.exported_ok = 0
        self.export_failed = 0
        self.exports = 0

    def export(self, spans):
        self.exports += 1
        self.submitted += len(spans)
        result = self.inner.export(spans)
        if result == SpanExportResult.SUCCESS:
            self.exported_ok += len(spans)
        else:
            self.export_failed += len(spans)
        return result

    def shutdown(self):
        self.inner.shutdown()

    def force_flush(self, timeout_millis=30000):
        return self.inner.force_flush(timeout_millis)


class QueueFullCounter(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record):
        if "Queue full" in record.getMessage() or "Queue is full" in record.getMessage():
            self.count += 1


def otlp_exporter(protocol, endpoint, timeout):
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(endpoint=f"http://{endpoint}", insecure=True, timeout=timeout)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=f"http://{endpoint}/v1/traces", timeout=timeout)


def sdk_dropped(reader):
    """The SDK's queue_full drop count from its internal metric, or None when it is not there."""
    data = reader.get_metrics_data()
    if data is None:
        return None
    found = None
    for resource_metrics in data.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                if metric.name != "otel.sdk.processor.span.processed":
                    continue
                found = found or 0
                for point in metric.data.data_points:
                    if point.attributes.get("error.type") == "queue_full":
                        found += int(point.value)
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True, help="host:port of the OTLP receiver")
    parser.add_argument("--protocol", choices=["grpc", "http"], default="grpc")
    parser.add_argument("--spans", type=int, default=60_000, help="spans to create (0: use --seconds)")
    parser.add_argument("--seconds", type=float, default=0.0, help="create spans for this long instead")
    parser.add_argument("--rate", type=float, default=0.0, help="spans per second; 0 is flat out")
    parser.add_argument("--service", default="sdk-flood", help="service.name, and the span name prefix")
    parser.add_argument("--export-timeout", type=float, default=10.0, help="OTLP exporter timeout, seconds")
    args = parser.parse_args()
    if args.spans <= 0 and args.seconds <= 0:
        parser.error("give --spans or --seconds")

    queue_full = QueueFullCounter()
    logging.getLogger("opentelemetry").addHandler(queue_full)

    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    exporter = CountingExporter(otlp_exporter(args.protocol, args.endpoint, args.export_timeout))
    provider = TracerProvider(resource=Resource.create({"service.name": args.service}))
    provider.add_span_processor(BatchSpanProcessor(exporter, meter_provider=meter_provider))
    tracer = provider.get_tracer("sdk_flood")
    name = f"{args.service}.op"

    created = 0
    start = time.perf_counter()
    deadline = start + args.seconds if args.seconds > 0 else None
    while True:
        # Look at the clock every 100 spans only: the loop is what is measured.
        chunk = 100 if deadline is not None else min(100, args.spans - created)
        if chunk <= 0:
            break
        for _ in range(chunk):
            with tracer.start_as_current_span(name):
                pass
        created += chunk
        now = time.perf_counter()
        if deadline is not None and now >= deadline:
            break
        if args.rate > 0 and created / args.rate > now - start:
            time.sleep(created / args.rate - (now - start))
    seconds = time.perf_counter() - start

    flush_start = time.perf_counter()
    provider.shutdown()
    flush_seconds = time.perf_counter() - flush_start
    dropped_metric = sdk_dropped(reader)
    meter_provider.shutdown()

    print(
        json.dumps(
            {
                "service": args.service,
                "created": created,
                "seconds": round(seconds, 3),
                "rate": round(created / seconds) if seconds > 0 else 0,
                "flush_seconds": round(flush_seconds, 3),
                "exports": exporter.exports,
                "submitted": exporter.submitted,
                "exported_ok": exporter.exported_ok,
                "export_failed": exporter.export_failed,
                "dropped": created - exporter.submitted,
                "dropped_metric": dropped_metric,
                "queue_full_logged": queue_full.count > 0,
            }
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
