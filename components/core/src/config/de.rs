//! (being written)
use super::{ConfigError, Node};
pub fn decode<T: serde::de::DeserializeOwned>(_node: &Node) -> Result<T, ConfigError> {
    todo!()
}
