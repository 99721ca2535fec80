//! PLACEHOLDER: memcached request semantics (being written).

use crate::{Options, Semantics};

pub(crate) fn parse(_request: &[u8], _options: &Options) -> Option<Semantics> {
    None
}
