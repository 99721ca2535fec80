#!/usr/bin/env python3
"""Sends a fixed, known set of traces, metrics and logs with the OpenTelemetry Python SDK over OTLP.

The interop tests (integration-tests/tests/interop.rs) run this against ferrotel and check that every
resource, attribute and value below arrives intact at the end of the relay chain; keep the two in
step. Telemetry is collected in memory first and then exported with the OTLP exporters directly, so
that each export's result is known: the script prints one JSON line of results and exits 0 only when
every export succeeded. With --reference-endpoint the identical data also goes straight to a
recording server, so a test can compare what a relay delivered with what the SDK sent.
"""

import argparse
import json
import sys

from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

# A remote span the child span links to.
LINK_TRACE_ID = 0x0AF7651916CD43DD8448EB211C80319C
LINK_SPAN_ID = 0xB7AD6B7169203331
# Past 2**53, so a relay that goes through a float loses it.
BIG_INT = -9007199254740993
LOG_TIME = 1_700_000_000_123_456_789


def exporters(protocol, endpoint, compression):
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        from opentelemetry.exporter.otlp.proto.grpc.exporter import Compression

        kwargs = dict(endpoint=f"http://{endpoint}", insecure=True, timeout=10)
        if compression == "gzip":
            kwargs["compression"] = Compression.Gzip
        return OTLPSpanExporter(**kwargs), OTLPMetricExporter(**kwargs), OTLPLogExporter(**kwargs)
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    base = f"http://{endpoint}"
    comp = Compression.Gzip if compression == "gzip" else Compression.NoCompression
    return (
        OTLPSpanExporter(endpoint=f"{base}/v1/traces", compression=comp, timeout=10),
        OTLPMetricExporter(endpoint=f"{base}/v1/metrics", compression=comp, timeout=10),
        OTLPLogExporter(endpoint=f"{base}/v1/logs", compression=comp, timeout=10),
    )


def make_resource(args):
    return Resource.create(
        {
            "service.name": f"interop-{args.protocol}",
            "test.run": args.run_id,
            "test.transport": args.protocol,
            "res.int": 42,
            "res.float": 2.5,
            "res.bool": True,
            "res.strs": ["a", "b"],
        }
    )


def record_traces(resource, inside_child):
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("interop.tracer", "1.2.3")
    with tracer.start_as_current_span(
        "parent",
        kind=SpanKind.SERVER,
        attributes={
            "attr.str": "hello ünïcode ✓",
            "attr.int": BIG_INT,
            "attr.float": 3.25,
            "attr.bool": True,
            "attr.str_array": ["x", "y", "z"],
            "attr.int_array": [1, -2, 3],
            "attr.float_array": [0.5, 1.5],
            "attr.bool_array": [True, False],
            "attr.empty_str": "",
        },
    ) as parent:
        parent.add_event("cache.miss", {"key": "user:42", "attempt": 2})
        parent.add_event("retry", timestamp=1_700_000_000_000_000_000)
        link = Link(
            SpanContext(LINK_TRACE_ID, LINK_SPAN_ID, is_remote=True, trace_flags=TraceFlags(1)),
            {"link.kind": "follows"},
        )
        with tracer.start_as_current_span("child", kind=SpanKind.CLIENT, links=[link]) as child:
            child.set_status(Status(StatusCode.OK))
            # Whatever runs here (the first log record) carries the child's trace and span ids.
            inside_child()
        parent.set_status(Status(StatusCode.ERROR, "boom"))
    provider.shutdown()
    return memory.get_finished_spans()


def emit_warning(logger):
    logger.emit(
        timestamp=LOG_TIME,
        severity_number=SeverityNumber.WARN,
        severity_text="WARN",
        body="disk almost full",
        attributes={
            "disk.free_bytes": 1024,
            "disk.path": "/var",
            "disk.ratio": 0.97,
            "alert": True,
            "tags": ["storage", "capacity"],
        },
    )


def record_traces_and_logs(resource):
    """Spans, and log records of which the first is emitted inside the child span."""
    memory = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=resource)
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    logger = provider.get_logger("interop.logger", "4.5.6")
    spans = record_traces(resource, lambda: emit_warning(logger))
    logger.emit(
        timestamp=LOG_TIME + 1,
        severity_number=SeverityNumber.ERROR,
        severity_text="ERROR",
        body={"event": "crash", "code": 500},
        attributes={"exception.type": "ValueError"},
    )
    provider.shutdown()
    return spans, memory.get_finished_logs()


def record_metrics(resource):
    reader = InMemoryMetricReader()
    provider = MeterProvider(resource=resource, metric_readers=[reader])
    meter = provider.get_meter("interop.meter", "0.1")
    counter = meter.create_counter("interop.requests", unit="{request}", description="Requests handled")
    counter.add(5, {"route": "/a"})
    counter.add(7, {"route": "/b"})
    counter.add(1, {"route": "/a"})
    histogram = meter.create_histogram("interop.latency", unit="ms", description="Request latency")
    for value in (3, 7, 12.5, 1000):
        histogram.record(value, {"route": "/a"})
    gauge = meter.create_gauge("interop.temperature", unit="Cel", description="Lab temperature")
    gauge.set(21.5, {"room": "lab"})
    data = reader.get_metrics_data()
    provider.shutdown()
    return data


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protocol", choices=["grpc", "http"], required=True)
    parser.add_argument("--endpoint", required=True, help="host:port of the OTLP receiver")
    parser.add_argument("--run-id", default="manual")
    parser.add_argument("--compression", choices=["none", "gzip"], default="none")
    parser.add_argument("--signals", default="traces,metrics,logs")
    parser.add_argument(
        "--reference-endpoint",
        help="also export the very same data over gRPC to this host:port, as the reference a relay is compared with",
    )
    args = parser.parse_args()
    signals = set(args.signals.split(","))

    resource = make_resource(args)
    spans, logs = record_traces_and_logs(resource)
    metrics = record_metrics(resource)
    targets = [("", exporters(args.protocol, args.endpoint, args.compression))]
    if args.reference_endpoint:
        targets.append(("reference.", exporters("grpc", args.reference_endpoint, "none")))
    results = {}
    for prefix, (span_exporter, metric_exporter, log_exporter) in targets:
        if "traces" in signals:
            results[prefix + "traces"] = span_exporter.export(spans).name
        if "metrics" in signals:
            results[prefix + "metrics"] = metric_exporter.export(metrics).name
        if "logs" in signals:
            results[prefix + "logs"] = log_exporter.export(logs).name
        for exporter in (span_exporter, metric_exporter, log_exporter):
            exporter.shutdown()
    print(json.dumps(results), flush=True)
    return 0 if all(result == "SUCCESS" for result in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
