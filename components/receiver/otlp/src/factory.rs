//! The `otlp` receiver factory.

use std::sync::Arc;

use ferrotel_core::component::{
    CreateSettings, Factory, Lifecycle, ReceiverFactory, SignalConsumers, Stability,
    every_signal_at,
};
use ferrotel_core::config::{ConfigError, Node, decode_validated};
use ferrotel_core::signal::Signal;

use crate::config::Config;
use crate::receiver::OtlpReceiver;

pub struct OtlpReceiverFactory;

const SIGNALS: &[(Signal, Stability)] = &every_signal_at(Stability::Stable);

impl Factory for OtlpReceiverFactory {
    fn type_name(&self) -> &'static str {
        "otlp"
    }

    fn validate(&self, node: &Node) -> Result<(), ConfigError> {
        decode_validated::<Config>(node).map(|_| ())
    }
}

impl ReceiverFactory for OtlpReceiverFactory {
    fn signals(&self) -> &'static [(Signal, Stability)] {
        SIGNALS
    }

    /// One receiver serves every pipeline that lists it, whatever their signals (otelcol shares
    /// one instance per config the same way).
    fn create(
        &self,
        set: CreateSettings,
        node: &Node,
        next: SignalConsumers,
    ) -> anyhow::Result<Arc<dyn Lifecycle>> {
        let config = decode_validated::<Config>(node)?;
        Ok(Arc::new(OtlpReceiver::new(config, set, next)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrotel_core::component::{ComponentId, Kind};
    use ferrotel_core::telemetry::SelfTelemetry;

    fn node(yaml: &str) -> Node {
        Node::parse(yaml, "otlp.yaml").unwrap()
    }

    #[test]
    fn validates_and_resolves_the_authenticator_at_creation() {
        let factory = OtlpReceiverFactory;
        assert_eq!(factory.type_name(), "otlp");
        assert!(factory.validate(&node("protocols:\n  grpc:\n")).is_ok());
        let err = factory
            .validate(&node("protocols:\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("must specify at least one protocol"), "{err}");
        let set = CreateSettings::new(
            ComponentId::parse("otlp").unwrap(),
            Kind::Receiver,
            SelfTelemetry::new(&[]),
        );
        let with_auth = node("protocols:\n  http:\n    auth:\n      authenticator: basicauth\n");
        assert!(factory.validate(&with_auth).is_ok(), "the key is otelcol's");
        // No such extension on the host: refused at creation, never served without it.
        let err = factory
            .create(set, &with_auth, SignalConsumers::default())
            .err()
            .unwrap();
        let err = format!("{err:#}");
        assert!(
            err.contains("protocols::http::auth")
                && err.contains("failed to resolve authenticator \"basicauth\""),
            "{err}"
        );
    }
}
