//! `tls:` sections whose receiver changes one of configtls's defaults (the redis and mysql
//! receivers dial in clear text unless told otherwise; the postgresql receiver skips certificate
//! checks). otelcol fills a receiver's defaults before it decodes the user's keys, so the flag stays
//! `true` unless the section writes it; these decoders give the same result with serde.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, Visitor};

use super::TlsClientSetting;

/// configtls's defaults with `insecure: true`.
pub fn insecure() -> TlsClientSetting {
    TlsClientSetting {
        insecure: true,
        ..TlsClientSetting::default()
    }
}

/// configtls's defaults with `insecure_skip_verify: true`.
pub fn skip_verify() -> TlsClientSetting {
    TlsClientSetting {
        insecure_skip_verify: true,
        ..TlsClientSetting::default()
    }
}

/// For `#[serde(deserialize_with)]`: `tls:` over [`insecure`].
pub fn deserialize_insecure<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<TlsClientSetting, D::Error> {
    deserializer.deserialize_map(FlagVisitor("insecure"))
}

/// For `#[serde(deserialize_with)]`: `tls:` over [`skip_verify`].
pub fn deserialize_skip_verify<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<TlsClientSetting, D::Error> {
    deserializer.deserialize_map(FlagVisitor("insecure_skip_verify"))
}

/// Decodes a TLS section in which the flag named `.0` defaults to true.
struct FlagVisitor(&'static str);

impl<'de> Visitor<'de> for FlagVisitor {
    type Value = TlsClientSetting;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of TLS settings")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(match self.0 {
            "insecure" => insecure(),
            _ => skip_verify(),
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        serde::Deserialize::deserialize(de::value::MapAccessDeserializer::new(WithFlag {
            inner: map,
            key: self.0,
            seen: false,
            injected: false,
        }))
    }
}

/// Passes the user's keys through and adds `key: true` at the end unless it was given.
struct WithFlag<A> {
    inner: A,
    key: &'static str,
    seen: bool,
    injected: bool,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for WithFlag<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        if self.injected {
            return Ok(None);
        }
        match self.inner.next_key::<String>()? {
            Some(key) => {
                self.seen |= key == self.key;
                seed.deserialize(key.into_deserializer()).map(Some)
            }
            None if self.seen => Ok(None),
            None => {
                self.injected = true;
                seed.deserialize(self.key.into_deserializer()).map(Some)
            }
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        if self.injected {
            seed.deserialize(true.into_deserializer())
        } else {
            self.inner.next_value_seed(seed)
        }
    }
}
