//! A serde `Deserializer` over located YAML nodes, so component configs decode with
//! `#[serde(deny_unknown_fields, default)]` and every error names the line and the key.
//!
//! Typing follows otelcol: a plain scalar is typed when the target asks (`8080` is a number for a
//! port and text for an endpoint); a quoted scalar is text, but numeric and boolean fields accept
//! numeric text. A present node — even an empty one — is `Some`, and an empty node read as a map is
//! an empty map, so `http:`, `http: null` and `http: {}` all mean "enabled with defaults". An empty
//! node read as a scalar is Go's zero value.

mod error;
mod scalar;
#[cfg(test)]
mod tests;

use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};

pub use error::DeError;
use error::{At, Path};
pub use scalar::{Typed, parse_bool, parse_float, parse_int, resolve as resolve_plain};

use super::node::Key;
use super::{ConfigError, Node, NodeKind};

/// Decodes `node` into `T`. Error paths are relative to `node`.
pub fn decode<T: DeserializeOwned>(node: &Node) -> std::result::Result<T, ConfigError> {
    decode_at(node, "")
}

/// Decodes `node`, which sits at `base` (e.g. `service::telemetry`) in the config: paths and
/// "has invalid keys" messages then name the whole way from the top.
pub fn decode_at<T: DeserializeOwned>(
    node: &Node,
    base: &str,
) -> std::result::Result<T, ConfigError> {
    let de = NodeDe {
        node,
        path: Path::from_colons(base),
    };
    let at = de.at();
    T::deserialize(de).map_err(|e| e.into_config_error(&at))
}

struct NodeDe<'a> {
    node: &'a Node,
    path: Path,
}

type Result<T> = std::result::Result<T, DeError>;

impl<'a> NodeDe<'a> {
    fn at(&self) -> At {
        At {
            mark: self.node.mark.clone(),
            path: self.path.clone(),
        }
    }

    fn expected(&self, what: &str) -> DeError {
        DeError::message(format!("expected {what}, got {}", self.node.describe()))
    }

    fn scalar(&self) -> Option<&'a str> {
        match &self.node.kind {
            NodeKind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    fn integer<T: TryFrom<i128>>(&self, range: (i128, i128)) -> Result<T> {
        let value = match &self.node.kind {
            NodeKind::Null => 0,
            NodeKind::Scalar { value, .. } => {
                parse_int(value).ok_or_else(|| self.expected("an integer"))?
            }
            _ => return Err(self.expected("an integer")),
        };
        T::try_from(value).map_err(|_| {
            DeError::message(format!(
                "expected an integer from {} to {}, got {value}",
                range.0, range.1
            ))
        })
    }

    fn float(&self) -> Result<f64> {
        match &self.node.kind {
            NodeKind::Null => Ok(0.0),
            NodeKind::Scalar { value, .. } => {
                parse_float(value).ok_or_else(|| self.expected("a number"))
            }
            _ => Err(self.expected("a number")),
        }
    }

    fn boolean(&self) -> Result<bool> {
        match &self.node.kind {
            NodeKind::Null => Ok(false),
            NodeKind::Scalar { value, .. } => {
                parse_bool(value).ok_or_else(|| self.expected("a boolean (true or false)"))
            }
            _ => Err(self.expected("a boolean (true or false)")),
        }
    }

    fn text(&self) -> Result<&'a str> {
        match &self.node.kind {
            NodeKind::Null => Ok(""),
            NodeKind::Scalar { value, .. } => Ok(value),
            _ => Err(self.expected("a string")),
        }
    }

    fn any<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match &self.node.kind {
            NodeKind::Null => visitor.visit_unit(),
            NodeKind::Scalar {
                value,
                quoted: true,
            } => visitor.visit_str(value),
            NodeKind::Scalar {
                value,
                quoted: false,
            } => match scalar::resolve(value) {
                Typed::Bool(b) => visitor.visit_bool(b),
                Typed::Int(i) => match (i64::try_from(i), u64::try_from(i)) {
                    (Ok(i), _) => visitor.visit_i64(i),
                    (_, Ok(u)) => visitor.visit_u64(u),
                    _ => visitor.visit_str(value),
                },
                Typed::Float(f) => visitor.visit_f64(f),
                Typed::Str => visitor.visit_str(value),
            },
            NodeKind::Seq(_) => self.seq(visitor),
            NodeKind::Map(_) => self.map(visitor),
        }
    }

    fn seq<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let items: &'a [Node] = match &self.node.kind {
            NodeKind::Seq(items) => items,
            NodeKind::Null => &[],
            _ => return Err(self.expected("a list")),
        };
        visitor.visit_seq(SeqDe {
            items: items.iter().enumerate(),
            path: self.path,
        })
    }

    fn map<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let entries: &'a [(Key, Node)] = match &self.node.kind {
            NodeKind::Map(entries) => entries,
            NodeKind::Null => &[],
            _ => return Err(self.expected("a map")),
        };
        visitor.visit_map(MapDe {
            entries: entries.iter(),
            value: None,
            path: self.path,
        })
    }

    fn enumeration<'de, V: Visitor<'de>>(
        self,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        match &self.node.kind {
            NodeKind::Scalar { value, .. } => visitor.visit_enum(EnumDe {
                variant: value,
                value: None,
                path: self.path,
            }),
            NodeKind::Map(entries) if entries.len() == 1 => {
                let (key, value) = &entries[0];
                let path = self.path.key(&key.name);
                visitor.visit_enum(EnumDe {
                    variant: &key.name,
                    value: Some(value),
                    path,
                })
            }
            _ => Err(self.expected(&format!("one of [{}]", variants.join(", ")))),
        }
    }
}

/// Each method runs the body, then gives any unlocated error this node's place.
macro_rules! located {
    ($($method:ident($($arg:ident: $ty:ty),*) => |$de:ident, $v:ident| $body:expr;)*) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* $v: V) -> Result<V::Value> {
            let at = self.at();
            let $de = self;
            let result: Result<V::Value> = $body;
            result.map_err(|e| e.locate(&at))
        }
    )*};
}

macro_rules! integers {
    ($($method:ident => $visit:ident($ty:ty);)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
            let at = self.at();
            let range = (<$ty>::MIN as i128, <$ty>::MAX as i128);
            self.integer::<$ty>(range).and_then(|n| visitor.$visit(n)).map_err(|e| e.locate(&at))
        }
    )*};
}

impl<'de> de::Deserializer<'de> for NodeDe<'_> {
    type Error = DeError;

    integers! {
        deserialize_i8 => visit_i8(i8);
        deserialize_i16 => visit_i16(i16);
        deserialize_i32 => visit_i32(i32);
        deserialize_i64 => visit_i64(i64);
        deserialize_u8 => visit_u8(u8);
        deserialize_u16 => visit_u16(u16);
        deserialize_u32 => visit_u32(u32);
        deserialize_u64 => visit_u64(u64);
    }

    located! {
        deserialize_any() => |de, v| de.any(v);
        deserialize_bool() => |de, v| de.boolean().and_then(|b| v.visit_bool(b));
        deserialize_i128() => |de, v| de.integer::<i128>((i128::MIN, i128::MAX)).and_then(|n| v.visit_i128(n));
        deserialize_u128() => |de, v| de.integer::<u128>((0, i128::MAX)).and_then(|n| v.visit_u128(n));
        deserialize_f32() => |de, v| de.float().and_then(|f| v.visit_f32(f as f32));
        deserialize_f64() => |de, v| de.float().and_then(|f| v.visit_f64(f));
        deserialize_char() => |de, v| {
            let text = de.text()?;
            let mut chars = text.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => v.visit_char(c),
                _ => Err(de.expected("a single character")),
            }
        };
        deserialize_str() => |de, v| de.text().and_then(|s| v.visit_str(s));
        deserialize_string() => |de, v| de.text().and_then(|s| v.visit_str(s));
        deserialize_bytes() => |de, v| de.text().and_then(|s| v.visit_bytes(s.as_bytes()));
        deserialize_byte_buf() => |de, v| de.text().and_then(|s| v.visit_bytes(s.as_bytes()));
        deserialize_identifier() => |de, v| match de.scalar() {
            Some(s) => v.visit_str(s),
            None => Err(de.expected("a name")),
        };
        // A present node is `Some`, even an empty one: `http:` enables HTTP with defaults.
        deserialize_option() => |de, v| v.visit_some(de);
        deserialize_unit() => |de, v| if de.node.is_null() { v.visit_unit() } else { Err(de.expected("an empty value")) };
        deserialize_unit_struct(_name: &'static str) => |de, v| if de.node.is_null() { v.visit_unit() } else { Err(de.expected("an empty value")) };
        deserialize_newtype_struct(_name: &'static str) => |de, v| v.visit_newtype_struct(de);
        deserialize_seq() => |de, v| de.seq(v);
        deserialize_tuple(_len: usize) => |de, v| de.seq(v);
        deserialize_tuple_struct(_name: &'static str, _len: usize) => |de, v| de.seq(v);
        deserialize_map() => |de, v| de.map(v);
        deserialize_struct(_name: &'static str, _fields: &'static [&'static str]) => |de, v| de.map(v);
        deserialize_enum(_name: &'static str, variants: &'static [&'static str]) => |de, v| de.enumeration(variants, v);
        deserialize_ignored_any() => |_de, v| v.visit_unit();
    }
}

struct SeqDe<'a> {
    items: std::iter::Enumerate<std::slice::Iter<'a, Node>>,
    path: Path,
}

impl<'de> de::SeqAccess<'de> for SeqDe<'_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        match self.items.next() {
            Some((index, node)) => seed
                .deserialize(NodeDe {
                    node,
                    path: self.path.index(index),
                })
                .map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct MapDe<'a> {
    entries: std::slice::Iter<'a, (Key, Node)>,
    value: Option<&'a (Key, Node)>,
    path: Path,
}

impl<'de> de::MapAccess<'de> for MapDe<'_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        let Some(entry) = self.entries.next() else {
            return Ok(None);
        };
        self.value = Some(entry);
        // A key's errors (an unknown field, above all) point at the key, named by its map's path.
        let at = At {
            mark: entry.0.mark.clone(),
            path: self.path.clone(),
        };
        seed.deserialize(KeyDe(&entry.0.name))
            .map(Some)
            .map_err(|e| e.locate(&at))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        let (key, node) = self
            .value
            .take()
            .expect("next_value_seed after next_key_seed");
        // Errors a field's own Deserialize raises after reading its value belong to that value.
        let path = self.path.key(&key.name);
        let at = At {
            mark: node.mark.clone(),
            path: path.clone(),
        };
        seed.deserialize(NodeDe { node, path })
            .map_err(|e| e.locate(&at))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// A map key: always text, since otelcol's keys are strings.
struct KeyDe<'a>(&'a str);

impl<'de> de::Deserializer<'de> for KeyDe<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_str(self.0)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
        unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

/// `verbosity: detailed` (a unit variant) or `{variant: value}`.
struct EnumDe<'a> {
    variant: &'a str,
    value: Option<&'a Node>,
    path: Path,
}

impl<'de, 'a> de::EnumAccess<'de> for EnumDe<'a> {
    type Error = DeError;
    type Variant = VariantDe<'a>;

    fn variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, VariantDe<'a>)> {
        let variant = seed.deserialize(self.variant.into_deserializer())?;
        Ok((
            variant,
            VariantDe {
                value: self.value,
                path: self.path,
            },
        ))
    }
}

struct VariantDe<'a> {
    value: Option<&'a Node>,
    path: Path,
}

impl<'a> VariantDe<'a> {
    fn node(self) -> Result<NodeDe<'a>> {
        match self.value {
            Some(node) => Ok(NodeDe {
                node,
                path: self.path,
            }),
            None => Err(DeError::message(
                "expected a map holding the variant's settings",
            )),
        }
    }
}

impl<'de> de::VariantAccess<'de> for VariantDe<'_> {
    type Error = DeError;

    fn unit_variant(self) -> Result<()> {
        match self.value {
            None => Ok(()),
            Some(node) if node.is_null() => Ok(()),
            Some(node) => Err(DeError::message(format!(
                "expected no settings, got {}",
                node.describe()
            ))),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value> {
        seed.deserialize(self.node()?)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value> {
        de::Deserializer::deserialize_seq(self.node()?, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        de::Deserializer::deserialize_map(self.node()?, visitor)
    }
}
