//! The pipeline graph: wiring, fan-out, shared exporters, connectors, start and shutdown order.

use async_trait::async_trait;
use ferrotel_core::component::*;
use ferrotel_core::config::{self, ConfigError, Node};
use ferrotel_core::consumer::{ConsumeError, Consumer, ConsumerRef};
use ferrotel_core::graph::Service;
use ferrotel_core::telemetry::SelfTelemetry;
use ferrotel_core::{Signal, Telemetry};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Log = Arc<Mutex<Vec<String>>>;

/// Every test component writes its lifecycle events and received data here.
#[derive(Clone, Default)]
struct World {
    events: Log,
    received: Arc<Mutex<Vec<(String, Telemetry)>>>,
    receiver_outputs: Arc<Mutex<Vec<(String, SignalConsumers)>>>,
}

struct Component {
    label: String,
    world: World,
    next: Option<ConsumerRef>,
    tag: bool,
}

#[async_trait]
impl Lifecycle for Component {
    async fn start(&self) -> anyhow::Result<()> {
        self.world
            .events
            .lock()
            .unwrap()
            .push(format!("start {}", self.label));
        Ok(())
    }
    async fn shutdown(&self) -> anyhow::Result<()> {
        self.world
            .events
            .lock()
            .unwrap()
            .push(format!("stop {}", self.label));
        Ok(())
    }
}

#[async_trait]
impl Consumer for Component {
    fn mutates_data(&self) -> bool {
        self.tag
    }
    async fn consume(&self, mut data: Telemetry) -> Result<(), ConsumeError> {
        if self.tag {
            let label = self.label.clone();
            data.modify_traces(|r| {
                for span in r
                    .resource_spans
                    .iter_mut()
                    .flat_map(|r| &mut r.scope_spans)
                    .flat_map(|s| &mut s.spans)
                {
                    span.attributes.push(KeyValue {
                        key: "seen_by".into(),
                        value: Some(AnyValue {
                            value: Some(any_value::Value::StringValue(label.clone())),
                        }),
                        ..Default::default()
                    });
                }
            })
            .map_err(|e| ConsumeError::Permanent(e.to_string()))?;
        }
        match &self.next {
            Some(next) => next.consume(data).await,
            None => {
                self.world
                    .received
                    .lock()
                    .unwrap()
                    .push((self.label.clone(), data));
                Ok(())
            }
        }
    }
}

struct TestFactory {
    name: &'static str,
    world: World,
}

impl Factory for TestFactory {
    fn type_name(&self) -> &'static str {
        self.name
    }
    fn validate(&self, _node: &Node) -> Result<(), ConfigError> {
        Ok(())
    }
}

const ALL: &[(Signal, Stability)] = &every_signal_at(Stability::Stable);

impl ReceiverFactory for TestFactory {
    fn signals(&self) -> &'static [(Signal, Stability)] {
        ALL
    }
    fn create(
        &self,
        set: CreateSettings,
        _: &Node,
        next: SignalConsumers,
    ) -> anyhow::Result<Arc<dyn Lifecycle>> {
        let label = format!("receiver {}", set.id);
        self.world
            .receiver_outputs
            .lock()
            .unwrap()
            .push((set.id.to_string(), next));
        Ok(Arc::new(Component {
            label,
            world: self.world.clone(),
            next: None,
            tag: false,
        }))
    }
}

impl ProcessorFactory for TestFactory {
    fn signals(&self) -> &'static [(Signal, Stability)] {
        ALL
    }
    fn create(
        &self,
        set: CreateSettings,
        _: &Node,
        _: Signal,
        next: ConsumerRef,
    ) -> anyhow::Result<PipeRef> {
        Ok(Arc::new(Component {
            label: format!("processor {}", set.id),
            world: self.world.clone(),
            next: Some(next),
            tag: true,
        }))
    }
}

impl ExporterFactory for TestFactory {
    fn signals(&self) -> &'static [(Signal, Stability)] {
        ALL
    }
    fn create(&self, set: CreateSettings, _: &Node) -> anyhow::Result<PipeRef> {
        self.world
            .events
            .lock()
            .unwrap()
            .push(format!("create exporter {}", set.id));
        Ok(Arc::new(Component {
            label: format!("exporter {}", set.id),
            world: self.world.clone(),
            next: None,
            tag: false,
        }))
    }
}

impl ConnectorFactory for TestFactory {
    fn pairs(&self) -> &'static [(Signal, Signal, Stability)] {
        &[(Signal::Traces, Signal::Traces, Stability::Stable)]
    }
    fn create(
        &self,
        set: CreateSettings,
        _: &Node,
        _: Signal,
        _: Signal,
        next: ConsumerRef,
    ) -> anyhow::Result<PipeRef> {
        Ok(Arc::new(Component {
            label: format!("connector {}", set.id),
            world: self.world.clone(),
            next: Some(next),
            tag: false,
        }))
    }
}

fn registry(world: &World) -> Registry {
    let f = |name| {
        Arc::new(TestFactory {
            name,
            world: world.clone(),
        })
    };
    Registry {
        receivers: vec![f("src")],
        processors: vec![f("tag")],
        exporters: vec![f("rec")],
        connectors: vec![f("fwd")],
        extensions: vec![],
    }
}

const CONFIG: &str = r#"
receivers:
  src:
  src/other:
processors:
  tag/a:
  tag/b:
exporters:
  rec/direct:
  rec/shared:
connectors:
  fwd:
service:
  pipelines:
    traces/in:
      receivers: [src, src/other]
      processors: [tag/a]
      exporters: [rec/direct, rec/shared, fwd]
    traces/out:
      receivers: [fwd]
      processors: [tag/b]
      exporters: [rec/shared]
    traces/second:
      receivers: [src]
      exporters: [rec/direct]
"#;

fn build(world: &World) -> Service {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("graph.yaml");
    std::fs::write(&path, CONFIG).unwrap();
    let registry = registry(world);
    let loaded = config::load(&[path.display().to_string()], &[], &registry, None).unwrap();
    Service::build(&loaded.config, &registry, SelfTelemetry::new(&[])).unwrap()
}

fn one_span() -> Telemetry {
    Telemetry::from_traces(ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    name: "op".into(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    })
}

fn seen_by(data: &mut Telemetry) -> Vec<String> {
    let traces = data.traces().unwrap();
    traces.resource_spans[0].scope_spans[0].spans[0]
        .attributes
        .iter()
        .map(|kv| match &kv.value.as_ref().unwrap().value {
            Some(any_value::Value::StringValue(s)) => s.clone(),
            other => panic!("unexpected {other:?}"),
        })
        .collect()
}

#[tokio::test]
async fn data_flows_through_processors_fan_out_and_connectors() {
    let world = World::default();
    let service = build(&world);
    service.start().await.unwrap();
    assert!(service.host().is_ready());

    let outputs = world.receiver_outputs.lock().unwrap().clone();
    let (_, src) = outputs
        .iter()
        .find(|(id, _)| id == "src")
        .expect("receiver src created");
    assert!(
        src.metrics.is_none() && src.logs.is_none(),
        "src only feeds traces pipelines"
    );
    src.traces
        .as_ref()
        .unwrap()
        .consume(one_span())
        .await
        .unwrap();

    let mut received = std::mem::take(&mut *world.received.lock().unwrap());
    received.sort_by_key(|(label, data)| (label.clone(), data.item_count()));
    let mut paths: Vec<(String, Vec<String>)> = received
        .iter_mut()
        .map(|(l, d)| (l.clone(), seen_by(d)))
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        vec![
            // traces/second: no processor
            ("exporter rec/direct".into(), vec![]),
            // traces/in: tag/a only
            ("exporter rec/direct".into(), vec!["processor tag/a".into()]),
            // traces/in direct to the shared exporter
            ("exporter rec/shared".into(), vec!["processor tag/a".into()]),
            // traces/out via the connector: tag/a then tag/b
            (
                "exporter rec/shared".into(),
                vec!["processor tag/a".into(), "processor tag/b".into()]
            ),
        ]
    );
    service.shutdown(Duration::from_secs(5)).await;
    assert!(!service.host().is_ready());
}

#[tokio::test]
async fn exporters_are_shared_and_lifecycle_runs_downstream_first() {
    let world = World::default();
    let service = build(&world);
    service.start().await.unwrap();
    service.shutdown(Duration::from_secs(5)).await;
    let events = world.events.lock().unwrap().clone();
    let created: Vec<_> = events.iter().filter(|e| e.starts_with("create")).collect();
    assert_eq!(
        created.len(),
        2,
        "one instance per exporter id: {created:?}"
    );

    let position = |needle: &str| {
        events
            .iter()
            .position(|e| e == needle)
            .unwrap_or_else(|| panic!("{needle} missing: {events:?}"))
    };
    // Start: exporters before what feeds them; receivers last.
    assert!(position("start exporter rec/shared") < position("start processor tag/b"));
    assert!(position("start processor tag/b") < position("start connector fwd"));
    assert!(position("start connector fwd") < position("start processor tag/a"));
    assert!(position("start processor tag/a") < position("start receiver src"));
    // Shutdown: receivers first, then upstream processors, connector, downstream, exporters last.
    assert!(position("stop receiver src") < position("stop processor tag/a"));
    assert!(position("stop processor tag/a") < position("stop connector fwd"));
    assert!(position("stop connector fwd") < position("stop processor tag/b"));
    assert!(position("stop processor tag/b") < position("stop exporter rec/shared"));
}
