//! otelcol-contrib's `file_storage` extension for ferrotel: a place on disk for data that must
//! survive a restart, above all the persistent sending queue
//! (`exporters::<id>::sending_queue::storage: file_storage/<name>`).
//!
//! Each component asks for a location by kind, id and name and gets a directory of its own under
//! `directory`, named as otelcol names its files: `<kind>_<type>_<name>_<name>`, with unsafe
//! characters escaped (`exporter_otlp__traces`, `exporter_otlp_a~002Fb_logs`). The directory is
//! created if missing and locked (`flock` on a `lock` file in it) until the extension shuts
//! down: a second collector on the same directory waits up to `timeout` and then fails with the
//! path in the error (a zero `timeout` waits for good). Directories are created with
//! `directory_permissions`, queue files with mode 0600. `fsync: true` makes every acknowledged
//! write durable across a power loss, at the cost of a device sync per group of writes.
//!
//! Compaction: otelcol compacts its bbolt databases, which keep the space of deleted entries.
//! ferrotel's queue is a log of segment files, and a segment is deleted once everything in it
//! was sent, so disk use follows what is queued and there is nothing to compact. The
//! `compaction` keys (and `recreate`) are accepted and checked as otelcol checks them, and
//! otherwise have no effect (noted at debug level).
//!
//! An otelcol-contrib storage directory is not read: otelcol keeps a bbolt file where ferrotel
//! keeps a directory of the same name, and ferrotel says so rather than touch the file.

pub mod config;
mod factory;
mod storage;

pub use config::{CompactionConfig, FileStorageConfig};
pub use factory::FileStorageExtensionFactory;
pub use storage::{FileStorage, LOCK_FILE, directory_name};

#[cfg(test)]
mod tests;
