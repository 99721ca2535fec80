//! Limits on what one export request may hold, checked in the walk that counts its items
//! (`walk.rs`): the nesting of array and kvlist values, the attributes of one element, and the
//! length of one string or bytes field; and the errors the walk reports, for a limit or for data a
//! decoder would refuse.

use super::WireError;
use super::schema::wire_type_name;

/// The deepest array/kvlist nesting the walk will follow, whatever a caller configures.
///
/// prost refuses messages nested deeper than 100 levels, and the deepest place an attribute value
/// can start is an exemplar's filtered attributes (request → resource metrics → scope metrics →
/// metric → histogram → data point → exemplar → key-value → value: level 8, counting the request as
/// 0). Each kvlist level adds three messages (value → kvlist → key-value → value), so 30 levels end
/// at 98 and decode everywhere; accepting more would let a relay pass on data that no processor
/// could read.
pub const MAX_SUPPORTED_VALUE_DEPTH: usize = 30;

/// What a request may hold; see the `limits` section of the OTLP receiver's docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Arrays and kvlists nested in one attribute value or log body (a plain value is 0).
    pub max_value_depth: usize,
    /// Attributes of one resource, scope, span, event, link, log record, metric, data point or
    /// exemplar, and entries of one kvlist value.
    pub max_attributes: usize,
    /// Bytes of one string or bytes field: attribute keys and values, names, bodies, ids.
    pub max_value_length: usize,
}

impl Limits {
    /// Generous enough that no legitimate client meets them (the receiver docs say why): the
    /// deepest nesting ferrotel can decode, 10,000 attributes where SDKs keep 128, and 4 MiB, the
    /// whole of a default gRPC message.
    pub const DEFAULT: Limits = Limits {
        max_value_depth: MAX_SUPPORTED_VALUE_DEPTH,
        max_attributes: 10_000,
        max_value_length: 4 << 20,
    };
}

const _: () = assert!(Limits::DEFAULT.max_value_depth <= MAX_SUPPORTED_VALUE_DEPTH);

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// Which limit a request went over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    ValueDepth,
    Attributes,
    /// The entries of one kvlist value (counted against `max_attributes`).
    KvlistEntries,
    ValueLength,
}

impl Limit {
    /// The config key that sets it.
    pub fn key(self) -> &'static str {
        match self {
            Limit::ValueDepth => "max_value_depth",
            Limit::Attributes | Limit::KvlistEntries => "max_attributes",
            Limit::ValueLength => "max_value_length",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct LimitExceeded {
    pub limit: Limit,
    /// What the request holds; for depth, the first level past the limit (the walk stops there).
    pub found: usize,
    pub max: usize,
    /// The element that holds it, e.g. "a span".
    pub place: &'static str,
}

impl LimitExceeded {
    fn describe(&self) -> String {
        let (found, key, max, place) = (self.found, self.limit.key(), self.max, self.place);
        match self.limit {
            Limit::ValueDepth => format!(
                "a value in {place} is nested at least {found} levels deep, over {key} ({max})"
            ),
            Limit::Attributes => format!("{place} has {found} attributes, over {key} ({max})"),
            Limit::KvlistEntries => {
                format!("a kvlist value in {place} has {found} entries, over {key} ({max})")
            }
            Limit::ValueLength => format!(
                "a string or bytes field in {place} is {found} bytes long, over {key} ({max})"
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Wire(#[from] WireError),
    #[error("limit exceeded: {0}")]
    Limit(#[from] LimitExceeded),
    #[error("invalid data: {0}")]
    Invalid(#[from] InvalidField),
}

/// A field that a decoder refuses though the request around it is well framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct InvalidField {
    pub problem: Problem,
    /// The field, e.g. "trace_id" or "attribute key".
    pub field: &'static str,
    /// The element that holds it, e.g. "a span".
    pub place: &'static str,
}

/// What is wrong with an [`InvalidField`]: prost refuses all but the last, otelcol's pdata the last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// A string field that is not UTF-8.
    NotUtf8,
    /// A known field sent with a wire type its type does not take.
    WireType {
        found: u8,
        /// The wire types it takes, e.g. "2 (length-delimited)".
        expected: &'static str,
    },
    /// A packed field of fixed-width values whose length is not a multiple of their width.
    PackedLength { len: usize, width: usize },
    /// A packed field of varints that ends inside one, or holds one longer than 64 bits.
    PackedVarint,
    /// A trace or span id neither empty nor of its length (16 or 8 bytes).
    IdLength { found: usize, expected: usize },
}

impl InvalidField {
    fn describe(&self) -> String {
        let (field, place) = (self.field, self.place);
        match self.problem {
            Problem::NotUtf8 => format!("a string field ({field}) in {place} is not valid UTF-8"),
            Problem::WireType { found, expected } => format!(
                "{place}'s {field} has wire type {found} ({}), not {expected}",
                wire_type_name(found)
            ),
            Problem::PackedLength { len, width } => format!(
                "{place}'s {field} is a packed field of {len} bytes, not a whole number of \
                 {width}-byte values"
            ),
            Problem::PackedVarint => {
                format!("{place}'s {field} is a packed field holding a malformed varint")
            }
            Problem::IdLength { found, expected } => {
                format!("{place}'s {field} is {found} bytes; must be {expected} or empty")
            }
        }
    }
}
