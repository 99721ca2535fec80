#!/usr/bin/env python3
"""Sends send_telemetry.py's traces, metrics and logs with the OpenTelemetry Python SDK over OTLP
with TLS (trusting a given CA) and extra request headers, such as a bearer token.

The security tests (integration-tests/tests/security.rs) run it against ferrotel with the right
token and with a wrong one. Like send_telemetry.py it prints one JSON line of export results and
exits 0 only when every export succeeded.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from send_telemetry import make_resource, record_metrics, record_traces_and_logs  # noqa: E402


def exporters(protocol, endpoint, ca_file, headers):
    if protocol == "grpc":
        import grpc
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        with open(ca_file, "rb") as f:
            credentials = grpc.ssl_channel_credentials(root_certificates=f.read())
        kwargs = dict(
            endpoint=f"https://{endpoint}",
            insecure=False,
            credentials=credentials,
            headers=headers,
            timeout=10,
        )
        return OTLPSpanExporter(**kwargs), OTLPMetricExporter(**kwargs), OTLPLogExporter(**kwargs)
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    base = f"https://{endpoint}"
    kwargs = dict(certificate_file=ca_file, headers=headers, timeout=10)
    return (
        OTLPSpanExporter(endpoint=f"{base}/v1/traces", **kwargs),
        OTLPMetricExporter(endpoint=f"{base}/v1/metrics", **kwargs),
        OTLPLogExporter(endpoint=f"{base}/v1/logs", **kwargs),
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protocol", choices=["grpc", "http"], required=True)
    parser.add_argument("--endpoint", required=True, help="host:port of the OTLP receiver (TLS)")
    parser.add_argument("--ca-file", required=True, help="PEM file of the CA that signed the server's certificate")
    parser.add_argument(
        "--header",
        action="append",
        default=[],
        help="NAME=VALUE to send with every request; repeat for more",
    )
    parser.add_argument("--run-id", default="manual")
    args = parser.parse_args()
    headers = dict(h.split("=", 1) for h in args.header)

    resource = make_resource(args)
    spans, logs = record_traces_and_logs(resource)
    metrics = record_metrics(resource)
    span_exporter, metric_exporter, log_exporter = exporters(
        args.protocol, args.endpoint, args.ca_file, headers
    )
    results = {
        "traces": span_exporter.export(spans).name,
        "metrics": metric_exporter.export(metrics).name,
        "logs": log_exporter.export(logs).name,
    }
    for exporter in (span_exporter, metric_exporter, log_exporter):
        exporter.shutdown()
    print(json.dumps(results), flush=True)
    return 0 if all(result == "SUCCESS" for result in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
