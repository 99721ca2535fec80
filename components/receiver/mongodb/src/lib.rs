//! The `mongodb` receiver (being written).
