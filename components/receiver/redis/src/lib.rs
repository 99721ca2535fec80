//! The `redis` receiver (being written).
