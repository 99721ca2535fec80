//! The `bearertokenauth` factory: one authenticator per id, offered to receivers and exporters
//! alike through the host.

use std::sync::Arc;

use ferrotel_core::component::{
    CreateSettings, ExtensionFactory, ExtensionServices, Factory, Lifecycle, Stability,
};
use ferrotel_core::config::{ConfigError, Node, decode_validated};

use crate::config::Config;
use crate::tokens::BearerTokenAuth;

pub struct BearerTokenAuthExtensionFactory;

impl Factory for BearerTokenAuthExtensionFactory {
    fn type_name(&self) -> &'static str {
        "bearertokenauth"
    }

    fn validate(&self, node: &Node) -> Result<(), ConfigError> {
        decode_validated::<Config>(node).map(|_| ())
    }
}

impl ExtensionFactory for BearerTokenAuthExtensionFactory {
    fn stability(&self) -> Stability {
        Stability::Beta
    }

    fn create(&self, set: CreateSettings, node: &Node) -> anyhow::Result<Arc<dyn Lifecycle>> {
        let config = decode_validated::<Config>(node)?;
        let auth = Arc::new(BearerTokenAuth::new(&set.id.to_string(), &config)?);
        set.host.register_extension(
            &set.id,
            ExtensionServices {
                server_auth: Some(auth.clone()),
                client_auth: Some(auth.clone()),
                ..ExtensionServices::default()
            },
        );
        Ok(auth)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrotel_core::component::{ComponentId, Kind};
    use ferrotel_core::telemetry::SelfTelemetry;

    #[test]
    fn create_offers_both_authenticators_under_the_id() {
        let set = CreateSettings::new(
            ComponentId::parse("bearertokenauth/in").unwrap(),
            Kind::Extension,
            SelfTelemetry::new(&[]),
        );
        let host = set.host.clone();
        let node = Node::parse("token: abc\n", "t.yaml").unwrap();
        BearerTokenAuthExtensionFactory.create(set, &node).unwrap();
        let server = host.server_authenticator("bearertokenauth/in").unwrap();
        let client = host.client_authenticator("bearertokenauth/in").unwrap();
        assert!(server.authenticate(&client.headers().unwrap()).is_ok());
        assert!(host.server_authenticator("bearertokenauth").is_err());
        let err = BearerTokenAuthExtensionFactory
            .validate(&Node::parse("scheme: Bearer\n", "t.yaml").unwrap())
            .unwrap_err();
        assert!(
            err.to_string().contains("no bearer token provided"),
            "{err}"
        );
    }
}
