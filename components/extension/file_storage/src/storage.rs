//! The storage itself: a directory per (component kind, id, name) under `directory`, each locked
//! by this process for as long as the extension runs, so two collectors never share a queue.

use ferrotel_core::component::{ComponentId, Kind, Lifecycle};
use ferrotel_core::storage::{Storage, StorageLocation};
use std::collections::HashMap;
use std::fs::{DirBuilder, File, OpenOptions, TryLockError};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::FileStorageConfig;

/// The lock file inside each component's directory.
pub const LOCK_FILE: &str = "lock";
const LOCK_POLL: Duration = Duration::from_millis(20);

pub struct FileStorage {
    id: String,
    config: FileStorageConfig,
    /// Mode for the directories this extension creates.
    permissions: u32,
    /// Locks held, by component directory; dropping a file releases its lock.
    locks: Mutex<HashMap<PathBuf, File>>,
}

impl FileStorage {
    pub fn new(id: String, config: FileStorageConfig) -> FileStorage {
        let permissions = config.permissions().unwrap_or(0o750);
        FileStorage {
            id,
            config,
            permissions,
            locks: Mutex::new(HashMap::new()),
        }
    }

    fn ensure_base_directory(&self) -> anyhow::Result<()> {
        let dir = &self.config.directory;
        if self.config.create_directory && !dir.exists() {
            DirBuilder::new()
                .recursive(true)
                .mode(self.permissions)
                .create(dir)
                .map_err(|e| anyhow::anyhow!("file_storage: creating {}: {e}", dir.display()))?;
        }
        Ok(())
    }

    /// Holds the lock on `dir`, waiting up to `timeout` for another process to let it go (zero
    /// waits for good, as otelcol's database does).
    fn lock(&self, dir: &Path) -> anyhow::Result<File> {
        let path = dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|e| anyhow::anyhow!("file_storage: opening {}: {e}", path.display()))?;
        let timeout = self.config.timeout.as_duration();
        if timeout.is_zero() {
            file.lock()
                .map_err(|e| anyhow::anyhow!("file_storage: locking {}: {e}", path.display()))?;
            return Ok(file);
        }
        let deadline = Instant::now() + timeout;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(file),
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(LOCK_POLL);
                }
                Err(TryLockError::WouldBlock) => anyhow::bail!(
                    "file_storage: {} is locked by another process (waited {}); each collector needs a storage directory of its own",
                    dir.display(),
                    self.config.timeout
                ),
                Err(TryLockError::Error(e)) => {
                    anyhow::bail!("file_storage: locking {}: {e}", path.display())
                }
            }
        }
    }

    fn release_locks(&self) {
        self.locks.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

impl Storage for FileStorage {
    fn location(
        &self,
        owner_kind: Kind,
        owner: &ComponentId,
        name: &str,
    ) -> anyhow::Result<StorageLocation> {
        self.ensure_base_directory()?;
        let dir = self
            .config
            .directory
            .join(directory_name(owner_kind, owner, name));
        match std::fs::metadata(&dir) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => anyhow::bail!(
                "file_storage: {} is a file, not a directory (an otelcol-contrib database?); ferrotel keeps each queue in a directory of that name: move the file aside",
                dir.display()
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => DirBuilder::new()
                .mode(self.permissions)
                .create(&dir)
                .map_err(|e| anyhow::anyhow!("file_storage: creating {}: {e}", dir.display()))?,
            Err(e) => anyhow::bail!("file_storage: {}: {e}", dir.display()),
        }
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        if !locks.contains_key(&dir) {
            let file = self.lock(&dir)?;
            locks.insert(dir.clone(), file);
        }
        tracing::debug!(extension = %self.id, directory = %dir.display(), "storage location handed out");
        Ok(StorageLocation {
            directory: dir,
            fsync: self.config.fsync,
            timeout: self.config.timeout.as_duration(),
        })
    }
}

#[async_trait::async_trait]
impl Lifecycle for FileStorage {
    async fn start(&self) -> anyhow::Result<()> {
        self.ensure_base_directory()
    }

    /// Components have stopped (extensions stop last): their directories are free again.
    async fn shutdown(&self) -> anyhow::Result<()> {
        self.release_locks();
        Ok(())
    }
}

/// `<kind>_<type>_<name>_<name>` as otelcol-contrib names a component's file, made safe for a
/// file name the same way: anything but ASCII letters, digits, `.`, `-` and `_` becomes `~`
/// and four hex digits of its code point (the `~` itself too, so names never collide).
pub fn directory_name(kind: Kind, owner: &ComponentId, name: &str) -> String {
    let owner_name = owner.name.as_deref().unwrap_or("");
    let raw = if name.is_empty() {
        format!("{}_{}_{owner_name}", kind.as_str(), owner.type_name)
    } else {
        format!("{}_{}_{owner_name}_{name}", kind.as_str(), owner.type_name)
    };
    let mut safe = String::with_capacity(raw.len());
    for c in raw.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
            safe.push(c);
        } else {
            safe.push_str(&format!("~{:04X}", c as u32));
        }
    }
    safe
}
