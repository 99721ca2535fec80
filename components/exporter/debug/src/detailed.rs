//! `verbosity: detailed`: every field of every resource, scope and record, in otelcol's layout.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Span;
use std::fmt::Write;

use crate::values::{hex_id, severity, span_kind, status_code, timestamp, typed};

/// The text being built, one entry per line.
#[derive(Default)]
pub(crate) struct Buffer {
    pub out: String,
}

impl Buffer {
    pub fn line(&mut self, text: impl AsRef<str>) {
        self.out.push_str(text.as_ref());
        self.out.push('\n');
    }

    /// `    Name           : value`, the aligned span fields.
    fn field(&mut self, name: &str, value: impl std::fmt::Display) {
        let _ = writeln!(self.out, "    {name:<15}: {value}");
    }

    /// A header, then `     -> key: Type(value)` per attribute; nothing at all without attributes.
    /// A header that is itself an arrow entry (`     -> Attributes:`) indents its entries further.
    pub fn attributes(&mut self, header: &str, attributes: &[KeyValue]) {
        if attributes.is_empty() {
            return;
        }
        self.line(format!("{header}:"));
        let indent = header.split_once("->").map_or("", |(before, _)| before);
        for kv in attributes {
            self.line(format!(
                "{indent}     -> {}: {}",
                kv.key,
                typed(kv.value.as_ref())
            ));
        }
    }

    pub fn resource(
        &mut self,
        label: &str,
        index: usize,
        schema_url: &str,
        resource: Option<&Resource>,
    ) {
        self.line(format!("{label} #{index}"));
        self.line(format!("Resource SchemaURL: {schema_url}"));
        let Some(resource) = resource else { return };
        self.attributes("Resource attributes", &resource.attributes);
        if resource.entity_refs.is_empty() {
            return;
        }
        self.line("Resource entity refs:");
        for (i, entity) in resource.entity_refs.iter().enumerate() {
            self.line(format!("     -> Entity ref #{i}:"));
            self.line(format!("          -> Type: {}", entity.r#type));
            if !entity.schema_url.is_empty() {
                self.line(format!("          -> Schema URL: {}", entity.schema_url));
            }
            for (title, keys) in [
                ("ID keys", &entity.id_keys),
                ("Description keys", &entity.description_keys),
            ] {
                if !keys.is_empty() {
                    self.line(format!("          -> {title}:"));
                    for key in keys {
                        self.line(format!("               -> {key}"));
                    }
                }
            }
        }
    }

    pub fn scope(
        &mut self,
        label: &str,
        index: usize,
        schema_url: &str,
        scope: Option<&InstrumentationScope>,
    ) {
        self.line(format!("{label} #{index}"));
        self.line(format!("{label} SchemaURL: {schema_url}"));
        let (name, version) = scope.map_or(("", ""), |s| (s.name.as_str(), s.version.as_str()));
        self.line(format!("InstrumentationScope {name} {version}"));
        if let Some(scope) = scope {
            self.attributes("InstrumentationScope attributes", &scope.attributes);
        }
    }
}

pub fn traces(request: &ExportTraceServiceRequest) -> String {
    let mut buf = Buffer::default();
    for (i, resource) in request.resource_spans.iter().enumerate() {
        buf.resource(
            "ResourceSpans",
            i,
            &resource.schema_url,
            resource.resource.as_ref(),
        );
        for (j, scope) in resource.scope_spans.iter().enumerate() {
            buf.scope("ScopeSpans", j, &scope.schema_url, scope.scope.as_ref());
            for (k, span) in scope.spans.iter().enumerate() {
                buf.line(format!("Span #{k}"));
                span_fields(&mut buf, span);
            }
        }
    }
    buf.out
}

fn span_fields(buf: &mut Buffer, span: &Span) {
    buf.field("Trace ID", hex_id(&span.trace_id));
    buf.field("Parent ID", hex_id(&span.parent_span_id));
    buf.field("ID", hex_id(&span.span_id));
    buf.field("Name", &span.name);
    buf.field("Kind", span_kind(span.kind));
    if !span.trace_state.is_empty() {
        buf.field("TraceState", &span.trace_state);
    }
    buf.field("Start time", timestamp(span.start_time_unix_nano));
    buf.field("End time", timestamp(span.end_time_unix_nano));
    let (code, message) = span
        .status
        .as_ref()
        .map_or((0, ""), |s| (s.code, s.message.as_str()));
    buf.field("Status code", status_code(code));
    buf.field("Status message", message);
    buf.field("DroppedAttributesCount", span.dropped_attributes_count);
    buf.attributes("Attributes", &span.attributes);
    if !span.events.is_empty() {
        buf.line("Events:");
        for (i, event) in span.events.iter().enumerate() {
            buf.line(format!("SpanEvent #{i}"));
            buf.line(format!("     -> Name: {}", event.name));
            buf.line(format!(
                "     -> Timestamp: {}",
                timestamp(event.time_unix_nano)
            ));
            buf.line(format!(
                "     -> DroppedAttributesCount: {}",
                event.dropped_attributes_count
            ));
            buf.attributes("     -> Attributes:", &event.attributes);
        }
    }
    buf.field("DroppedEventsCount", span.dropped_events_count);
    if !span.links.is_empty() {
        buf.line("Links:");
        for (i, link) in span.links.iter().enumerate() {
            buf.line(format!("SpanLink #{i}"));
            buf.line(format!("     -> Trace ID: {}", hex_id(&link.trace_id)));
            buf.line(format!("     -> ID: {}", hex_id(&link.span_id)));
            buf.line(format!("     -> TraceState: {}", link.trace_state));
            buf.line(format!(
                "     -> DroppedAttributesCount: {}",
                link.dropped_attributes_count
            ));
            buf.attributes("     -> Attributes:", &link.attributes);
        }
    }
    buf.field("DroppedLinksCount", span.dropped_links_count);
}

pub fn logs(request: &ExportLogsServiceRequest) -> String {
    let mut buf = Buffer::default();
    for (i, resource) in request.resource_logs.iter().enumerate() {
        buf.resource(
            "ResourceLog",
            i,
            &resource.schema_url,
            resource.resource.as_ref(),
        );
        for (j, scope) in resource.scope_logs.iter().enumerate() {
            buf.scope("ScopeLogs", j, &scope.schema_url, scope.scope.as_ref());
            for (k, record) in scope.log_records.iter().enumerate() {
                buf.line(format!("LogRecord #{k}"));
                buf.line(format!(
                    "ObservedTimestamp: {}",
                    timestamp(record.observed_time_unix_nano)
                ));
                buf.line(format!("Timestamp: {}", timestamp(record.time_unix_nano)));
                buf.line(format!("SeverityText: {}", record.severity_text));
                buf.line(format!(
                    "SeverityNumber: {}({})",
                    severity(record.severity_number),
                    record.severity_number
                ));
                if !record.event_name.is_empty() {
                    buf.line(format!("EventName: {}", record.event_name));
                }
                buf.line(format!("Body: {}", typed(record.body.as_ref())));
                buf.attributes("Attributes", &record.attributes);
                buf.line(format!("Trace ID: {}", hex_id(&record.trace_id)));
                buf.line(format!("Span ID: {}", hex_id(&record.span_id)));
                buf.line(format!("Flags: {}", record.flags));
            }
        }
    }
    buf.out
}

pub fn metrics(request: &ExportMetricsServiceRequest) -> String {
    let mut buf = Buffer::default();
    for (i, resource) in request.resource_metrics.iter().enumerate() {
        buf.resource(
            "ResourceMetrics",
            i,
            &resource.schema_url,
            resource.resource.as_ref(),
        );
        for (j, scope) in resource.scope_metrics.iter().enumerate() {
            buf.scope("ScopeMetrics", j, &scope.schema_url, scope.scope.as_ref());
            for (k, metric) in scope.metrics.iter().enumerate() {
                buf.line(format!("Metric #{k}"));
                crate::detailed_metrics::metric(&mut buf, metric);
            }
        }
    }
    buf.out
}
