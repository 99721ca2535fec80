//! The `file_storage` factory.

use ferrotel_core::component::{
    CreateSettings, ExtensionFactory, ExtensionServices, Factory, Lifecycle, Stability,
};
use ferrotel_core::config::{ConfigError, Node, decode_validated};
use std::sync::Arc;

use crate::config::{CompactionConfig, FileStorageConfig};
use crate::storage::FileStorage;

pub struct FileStorageExtensionFactory;

impl Factory for FileStorageExtensionFactory {
    fn type_name(&self) -> &'static str {
        "file_storage"
    }

    fn validate(&self, node: &Node) -> Result<(), ConfigError> {
        decode_validated::<FileStorageConfig>(node).map(|_| ())
    }
}

impl ExtensionFactory for FileStorageExtensionFactory {
    fn stability(&self) -> Stability {
        Stability::Beta
    }

    fn create(&self, set: CreateSettings, node: &Node) -> anyhow::Result<Arc<dyn Lifecycle>> {
        let config = decode_validated::<FileStorageConfig>(node)?;
        let id = set.id.to_string();
        // Debug, not warn: the data stays bounded without compaction (see the crate docs).
        if config.compaction != CompactionConfig::default() {
            tracing::debug!(
                extension = %id,
                "compaction settings have no effect: sent segments are deleted, so there is nothing to compact"
            );
        }
        if config.recreate {
            tracing::debug!(
                extension = %id,
                "recreate has no effect: damaged data is always cut away and reported when a queue opens"
            );
        }
        let storage = Arc::new(FileStorage::new(id, config));
        set.host.register_extension(
            &set.id,
            ExtensionServices {
                storage: Some(storage.clone()),
                ..Default::default()
            },
        );
        Ok(storage)
    }
}
