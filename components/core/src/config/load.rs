//! (being written)
pub struct LoadedConfig;
pub fn load() {}
