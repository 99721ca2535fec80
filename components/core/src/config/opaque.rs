//! otelcol's `configopaque`: a config string that is a secret (a password, a token, a header
//! value). Its `Debug` and `Display` print `[REDACTED]`, so a config struct can be logged or shown
//! in an error without giving the secret away; the value itself is read with [`Opaque::expose`].

use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};

/// What every secret prints as (otelcol's `configopaque.String`).
pub const REDACTED: &str = "[REDACTED]";

#[derive(Clone, PartialEq, Eq, Default)]
pub struct Opaque(String);

impl Opaque {
    pub fn new(secret: impl Into<String>) -> Opaque {
        Opaque(secret.into())
    }

    /// The secret itself: only for where it is used (a header, a comparison), never for output.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<&str> for Opaque {
    fn from(secret: &str) -> Opaque {
        Opaque::new(secret)
    }
}

impl From<String> for Opaque {
    fn from(secret: String) -> Opaque {
        Opaque(secret)
    }
}

impl fmt::Debug for Opaque {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Opaque {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<'de> serde::Deserialize<'de> for Opaque {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Opaque)
    }
}

/// `#[serde(deserialize_with = "opaque_list")]` for a list of secrets: a value that is not a list
/// is refused without quoting it, since it is most likely a secret written in the wrong shape.
pub fn opaque_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Opaque>, D::Error> {
    struct ListVisitor;
    impl<'de> Visitor<'de> for ListVisitor {
        type Value = Vec<Opaque>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of strings")
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(secret) = seq.next_element::<Opaque>()? {
                out.push(secret);
            }
            Ok(out)
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Err(E::custom("expected a list of strings, got a single value"))
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Err(E::custom("expected a list of strings, got a single value"))
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Err(E::custom("expected a list of strings, got a single value"))
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Err(E::custom("expected a list of strings, got a single value"))
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Err(E::custom("expected a list of strings, got a single value"))
        }
        fn visit_map<A: de::MapAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
            Err(de::Error::custom("expected a list of strings, got a map"))
        }
    }
    deserializer.deserialize_any(ListVisitor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Node, decode};

    #[derive(Debug, serde::Deserialize)]
    struct Secrets {
        password: Opaque,
        #[serde(default, deserialize_with = "opaque_list")]
        tokens: Vec<Opaque>,
    }

    fn load(yaml: &str) -> Result<Secrets, String> {
        decode::<Secrets>(&Node::parse(yaml, "t.yaml").unwrap()).map_err(|e| e.to_string())
    }

    #[test]
    fn secrets_decode_but_never_print() {
        let secrets = load("password: hunter2\ntokens: [abc, 12345]\n").unwrap();
        assert_eq!(secrets.password.expose(), "hunter2");
        assert_eq!(secrets.tokens[1].expose(), "12345");
        let shown = format!("{secrets:?} {}", secrets.password);
        assert!(
            !shown.contains("hunter2") && !shown.contains("abc"),
            "{shown}"
        );
        assert!(shown.contains(REDACTED), "{shown}");
    }

    #[test]
    fn a_secret_in_the_wrong_shape_is_not_quoted_back() {
        let err = load("password: x\ntokens: s3cr3t-token\n").unwrap_err();
        assert!(err.contains("expected a list of strings"), "{err}");
        assert!(!err.contains("s3cr3t-token"), "{err}");
        assert!(load("password: x\ntokens:\n").unwrap().tokens.is_empty());
    }
}
