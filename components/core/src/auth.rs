//! The authenticator contract (otelcol's `extension/auth`): a server authenticator checks each
//! incoming request's headers, a client authenticator adds credentials to each outgoing one.
//! Extensions such as `bearertokenauth` and `basicauth` provide them through the [`Host`]; a
//! receiver's `auth.authenticator` or an exporter's `auth.authenticator` names the extension.
//!
//! [`Host`]: crate::component::Host

use http::HeaderMap;

/// Why a request was not authenticated. The message goes back to the client, so it must never
/// contain the credentials it was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AuthError(pub String);

impl AuthError {
    pub fn new(msg: impl Into<String>) -> Self {
        AuthError(msg.into())
    }
}

/// Checks incoming requests. Receivers answer a failure with HTTP 401 / gRPC `UNAUTHENTICATED`
/// and never pass the data on.
pub trait ServerAuthenticator: Send + Sync {
    /// `headers` are the HTTP headers or the gRPC metadata; names are lower case.
    fn authenticate(&self, headers: &HeaderMap) -> Result<(), AuthError>;
}

/// Adds credentials to outgoing requests.
pub trait ClientAuthenticator: Send + Sync {
    /// Headers (gRPC metadata) to set on the next request; called once per request, so a token
    /// that is rotated on disk is picked up.
    fn headers(&self) -> Result<HeaderMap, AuthError>;

    /// True when the credentials must not travel in plaintext: a gRPC exporter then refuses to
    /// start over a connection without TLS (grpc-go's `RequireTransportSecurity`).
    fn requires_transport_security(&self) -> bool {
        false
    }
}
