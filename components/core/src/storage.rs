//! The storage contract (otelcol's `extension/xextension/storage`): a storage extension such as
//! `file_storage` hands each component a place of its own for data that must survive a restart.
//! The persistent sending queue (`sending_queue.storage: file_storage/x`) is its main user.

use std::path::PathBuf;
use std::time::Duration;

use crate::component::{ComponentId, Kind};

/// Where one component keeps one named set of data, and how carefully to write it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageLocation {
    /// A directory that belongs to this (kind, component, name) alone; it exists.
    pub directory: PathBuf,
    /// Sync every write to the device before acknowledging it (file_storage's `fsync`). Without
    /// it a write survives a process crash (it sits in the page cache) but not a power loss.
    pub fsync: bool,
    /// How long to wait for the directory's lock when another process holds it.
    pub timeout: Duration,
}

pub trait Storage: Send + Sync {
    /// The location for `owner`'s data called `name` (the persistent queue uses the signal),
    /// created if missing. otelcol names it `<kind>_<type>_<name>_<name>`; so do we, so a
    /// directory survives an upgrade from one to the other in spirit if not in format.
    fn location(
        &self,
        owner_kind: Kind,
        owner: &ComponentId,
        name: &str,
    ) -> anyhow::Result<StorageLocation>;
}
