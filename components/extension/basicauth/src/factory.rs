//! The `basicauth` factory: a server authenticator when `htpasswd` is set, a client one when
//! `client_auth` is (the config allows exactly one of them).

use std::sync::Arc;

use ferrotel_core::component::{
    CreateSettings, ExtensionFactory, ExtensionServices, Factory, Lifecycle, Stability,
};
use ferrotel_core::config::{ConfigError, Node, decode_validated};

use crate::client::BasicAuthClient;
use crate::config::Config;
use crate::server::BasicAuthServer;

pub struct BasicAuthExtensionFactory;

impl Factory for BasicAuthExtensionFactory {
    fn type_name(&self) -> &'static str {
        "basicauth"
    }

    fn validate(&self, node: &Node) -> Result<(), ConfigError> {
        decode_validated::<Config>(node).map(|_| ())
    }
}

impl ExtensionFactory for BasicAuthExtensionFactory {
    fn stability(&self) -> Stability {
        Stability::Beta
    }

    fn create(&self, set: CreateSettings, node: &Node) -> anyhow::Result<Arc<dyn Lifecycle>> {
        let config = decode_validated::<Config>(node)?;
        let (services, component): (ExtensionServices, Arc<dyn Lifecycle>) =
            match (&config.htpasswd, &config.client_auth) {
                (Some(htpasswd), _) => {
                    let server = Arc::new(BasicAuthServer::new(htpasswd)?);
                    let services = ExtensionServices {
                        server_auth: Some(server.clone()),
                        ..ExtensionServices::default()
                    };
                    (services, server)
                }
                (None, Some(client_auth)) => {
                    let client = Arc::new(BasicAuthClient::new(&set.id.to_string(), client_auth)?);
                    let services = ExtensionServices {
                        client_auth: Some(client.clone()),
                        ..ExtensionServices::default()
                    };
                    (services, client)
                }
                (None, None) => anyhow::bail!("no credential source provided"),
            };
        set.host.register_extension(&set.id, services);
        Ok(component)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrotel_core::component::{ComponentId, Kind};
    use ferrotel_core::telemetry::SelfTelemetry;

    fn create(id: &str, yaml: &str, host_of: Option<&CreateSettings>) -> CreateSettings {
        let mut set = CreateSettings::new(
            ComponentId::parse(id).unwrap(),
            Kind::Extension,
            SelfTelemetry::new(&[]),
        );
        if let Some(other) = host_of {
            set.host = other.host.clone();
        }
        BasicAuthExtensionFactory
            .create(set.clone(), &Node::parse(yaml, "t.yaml").unwrap())
            .unwrap();
        set
    }

    #[test]
    fn server_and_client_register_what_they_offer() {
        let server = create(
            "basicauth/server",
            "htpasswd:\n  inline: \"alice:{SHA}vFznddje0Ht4+pmO0FaxwrUKN/M=\"\n",
            None,
        );
        create(
            "basicauth/client",
            "client_auth:\n  username: alice\n  password: htpasswd-sha\n",
            Some(&server),
        );
        let host = &server.host;
        let client = host.client_authenticator("basicauth/client").unwrap();
        let checker = host.server_authenticator("basicauth/server").unwrap();
        assert!(checker.authenticate(&client.headers().unwrap()).is_ok());
        // Each instance offers only its own half.
        let err = format!(
            "{:#}",
            host.client_authenticator("basicauth/server").err().unwrap()
        );
        assert!(err.contains("is not a client authenticator"), "{err}");
        assert!(host.server_authenticator("basicauth/client").is_err());
    }
}
