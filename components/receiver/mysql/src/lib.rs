//! The `mysql` receiver (being written).
