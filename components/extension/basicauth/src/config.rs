//! `extensions: basicauth:` — otelcol-contrib's keys: `htpasswd` (`file`, `inline`) for a server
//! authenticator, or `client_auth` (`username`, `username_file`, `password`, `password_file`,
//! `aws_secrets_manager`) for a client one. Passwords and inline htpasswd content are [`Opaque`].

use ferrotel_core::config::{GoDuration, Opaque, Validate};
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub htpasswd: Option<HtpasswdSettings>,
    pub client_auth: Option<ClientAuthSettings>,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HtpasswdSettings {
    /// An htpasswd file, read at creation.
    pub file: String,
    /// htpasswd lines; for a user in both, these win over the file. Opaque because htpasswd
    /// accepts plaintext passwords.
    pub inline: Opaque,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClientAuthSettings {
    pub username: String,
    /// Read instead of `username` when set, and again whenever the file changes.
    pub username_file: String,
    pub password: Opaque,
    /// Read instead of `password` when set, and again whenever the file changes.
    pub password_file: String,
    /// Credentials from AWS Secrets Manager: recognised so the error is clear, not supported.
    pub aws_secrets_manager: Option<AwsSecretsManagerSettings>,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AwsSecretsManagerSettings {
    pub secret_arn: String,
    pub region: String,
    pub refresh_interval: GoDuration,
    pub username_key: String,
    pub password_key: String,
}

impl Validate for Config {
    fn validate(&self) -> Result<(), String> {
        match (&self.htpasswd, &self.client_auth) {
            (Some(_), Some(_)) => {
                Err("only one of `htpasswd` or `client_auth` can be specified".into())
            }
            (None, None) => Err("no credential source provided".into()),
            (Some(htpasswd), None) => {
                if htpasswd.file.is_empty() && htpasswd.inline.is_empty() {
                    // otelcol finds this when it creates the extension; it is a config error.
                    return Err("no credential source provided".into());
                }
                Ok(())
            }
            (None, Some(client)) => client.validate(),
        }
    }
}

impl ClientAuthSettings {
    fn validate(&self) -> Result<(), String> {
        if let Some(aws) = &self.aws_secrets_manager {
            if !self.username.is_empty()
                || !self.username_file.is_empty()
                || !self.password.is_empty()
                || !self.password_file.is_empty()
            {
                return Err("aws_secrets_manager cannot be combined with username, username_file, password, or password_file".into());
            }
            if aws.secret_arn.is_empty() {
                return Err("aws_secrets_manager.secret_arn is required".into());
            }
        }
        if self.username_file.is_empty() && self.username.contains(':') {
            return Err("invalid authorization format: the username cannot contain ':'".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrotel_core::config::{Node, decode_validated};

    fn load(yaml: &str) -> Result<Config, String> {
        decode_validated::<Config>(&Node::parse(yaml, "t.yaml").unwrap()).map_err(|e| e.to_string())
    }

    #[test]
    fn upstream_valid_config_loads() {
        let client = load("client_auth:\n  username: username\n  password: password\n").unwrap();
        let settings = client.client_auth.unwrap();
        assert_eq!(
            (settings.username.as_str(), settings.password.expose()),
            ("username", "password")
        );
        let server =
            load("htpasswd:\n  inline: |\n    username1:password1\n    username2:password2\n")
                .unwrap();
        assert!(
            server
                .htpasswd
                .unwrap()
                .inline
                .expose()
                .contains("username2:password2")
        );
    }

    #[test]
    fn invalid_configs_fail_with_otelcols_messages() {
        let both = load("htpasswd:\n  file: x\nclient_auth:\n  username: u\n").unwrap_err();
        assert!(
            both.contains("only one of `htpasswd` or `client_auth` can be specified"),
            "{both}"
        );
        assert!(
            load("")
                .unwrap_err()
                .contains("no credential source provided")
        );
        assert!(
            load("htpasswd:\n")
                .unwrap_err()
                .contains("no credential source provided")
        );
        assert!(
            load("client_auth:\n  username: u\n  aws_secrets_manager:\n    secret_arn: arn\n")
                .unwrap_err()
                .contains("cannot be combined")
        );
        assert!(
            load("client_auth:\n  aws_secrets_manager:\n    region: eu-west-1\n")
                .unwrap_err()
                .contains("aws_secrets_manager.secret_arn is required")
        );
        assert!(
            load("client_auth:\n  username: \"user:name\"\n")
                .unwrap_err()
                .contains("invalid authorization format")
        );
    }

    #[test]
    fn debug_output_hides_passwords() {
        let config = load("client_auth:\n  username: bob\n  password: hunter2-s3cr3t\n").unwrap();
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("s3cr3t") && shown.contains("bob"),
            "{shown}"
        );
        let server = load("htpasswd:\n  inline: \"bob:plain-s3cr3t\"\n").unwrap();
        assert!(!format!("{server:?}").contains("s3cr3t"));
    }
}
