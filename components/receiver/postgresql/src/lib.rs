//! The `postgresql` receiver (being written).
