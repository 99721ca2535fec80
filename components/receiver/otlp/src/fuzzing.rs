//! Entry points for the fuzz targets in `components/core/fuzz`; not an API.

pub use crate::body::{BodyError, Encoding, decompress_blocking};
