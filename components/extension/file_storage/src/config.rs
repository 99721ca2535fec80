//! `file_storage`'s settings, with otelcol-contrib's keys and defaults.

use ferrotel_core::config::{GoDuration, Validate};
use std::path::{Path, PathBuf};

/// otelcol-contrib's default outside Windows.
pub const DEFAULT_DIRECTORY: &str = "/var/lib/otelcol/file_storage";

#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileStorageConfig {
    /// Where every component gets a directory of its own.
    pub directory: PathBuf,
    /// How long to wait for a directory held by another process; zero waits for good.
    pub timeout: GoDuration,
    /// Accepted for otelcol compatibility; ferrotel's queue has nothing to compact.
    pub compaction: CompactionConfig,
    /// Sync every write to the device before it is acknowledged.
    pub fsync: bool,
    /// Create `directory` (and the parents it lacks) when it is missing.
    pub create_directory: bool,
    /// Octal permissions for the directories created with `create_directory`.
    pub directory_permissions: String,
    /// Accepted for otelcol compatibility: damaged data is always cut away and reported when the
    /// queue opens, so there is no database to recreate.
    pub recreate: bool,
}

impl Default for FileStorageConfig {
    fn default() -> Self {
        FileStorageConfig {
            directory: PathBuf::from(DEFAULT_DIRECTORY),
            timeout: GoDuration::from_secs(1),
            compaction: CompactionConfig::default(),
            fsync: false,
            create_directory: false,
            directory_permissions: "0750".into(),
            recreate: false,
        }
    }
}

/// `compaction`: otelcol compacts its bbolt files; ferrotel's segments are deleted as soon as
/// everything in them was sent, so these keys are checked and otherwise have no effect.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CompactionConfig {
    pub on_start: bool,
    pub on_rebound: bool,
    pub directory: PathBuf,
    pub rebound_needed_threshold_mib: i64,
    pub rebound_trigger_threshold_mib: i64,
    pub max_transaction_size: i64,
    pub check_interval: GoDuration,
    pub cleanup_on_start: bool,
}

impl Default for CompactionConfig {
    fn default() -> Self {
        CompactionConfig {
            on_start: false,
            on_rebound: false,
            directory: PathBuf::from(DEFAULT_DIRECTORY),
            rebound_needed_threshold_mib: 100,
            rebound_trigger_threshold_mib: 10,
            max_transaction_size: 65536,
            check_interval: GoDuration::from_secs(5),
            cleanup_on_start: false,
        }
    }
}

impl FileStorageConfig {
    /// `directory_permissions` as mode bits (checked by `validate` when `create_directory`).
    pub fn permissions(&self) -> Result<u32, String> {
        let mode = i64::from_str_radix(&self.directory_permissions, 8)
            .ok()
            .filter(|m| i32::try_from(*m).is_ok())
            .ok_or("directory_permissions value must be a valid octal representation")?;
        if mode & 0o777 != mode {
            return Err("directory_permissions contain invalid bits for file access".into());
        }
        Ok(mode as u32)
    }
}

fn check_directory(dir: &Path, create: bool) -> Result<(), String> {
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(format!("{} is not a directory", dir.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if create {
                Ok(())
            } else {
                Err(format!(
                    "directory must exist: {}: {e}. Enable create_directory to have it created",
                    dir.display()
                ))
            }
        }
        Err(e) => Err(format!(
            "problem accessing configured directory: {}, err: {e}",
            dir.display()
        )),
    }
}

impl Validate for FileStorageConfig {
    fn validate(&self) -> Result<(), String> {
        check_directory(&self.directory, self.create_directory)?;
        let compaction = &self.compaction;
        if compaction.on_start || compaction.on_rebound {
            check_directory(&compaction.directory, self.create_directory)?;
        }
        if compaction.max_transaction_size < 0 {
            return Err("max transaction size for compaction cannot be less than 0".into());
        }
        if compaction.on_rebound && compaction.check_interval.is_zero() {
            return Err(
                "compaction check interval must be positive when rebound compaction is set".into(),
            );
        }
        if self.create_directory {
            self.permissions()?;
        }
        Ok(())
    }
}
