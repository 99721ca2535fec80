//! Config defaults and checks as otelcol's, directory naming, locking across instances, and a
//! persistent exporter queue surviving a restart of extension and exporter.

use super::*;
use ferrotel_core::component::{ComponentId, CreateSettings, ExtensionFactory, Kind};
use ferrotel_core::config::{GoDuration, Node, decode, decode_validated};
use ferrotel_core::exporterhelper::{Delivered, Exporter, ExporterSettings, SendError, Sender};
use ferrotel_core::storage::Storage;
use ferrotel_core::telemetry::SelfTelemetry;
use ferrotel_core::{Consumer, Signal, Telemetry};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn parse(yaml: &str) -> Result<FileStorageConfig, String> {
    let node = Node::parse(yaml, "t.yaml").unwrap();
    decode_validated::<FileStorageConfig>(&node).map_err(|e| e.to_string())
}

fn yaml_path(p: &Path) -> String {
    p.display().to_string()
}

#[test]
fn defaults_are_otelcols() {
    let defaults: FileStorageConfig = decode(&Node::parse("", "t.yaml").unwrap()).unwrap();
    assert_eq!(defaults, FileStorageConfig::default());
    assert_eq!(
        defaults.directory,
        Path::new("/var/lib/otelcol/file_storage")
    );
    assert_eq!(defaults.timeout, GoDuration::from_secs(1));
    assert!(!defaults.fsync && !defaults.create_directory);
    assert_eq!(defaults.directory_permissions, "0750");
    let c = &defaults.compaction;
    assert!(!c.on_start && !c.on_rebound && !c.cleanup_on_start);
    assert_eq!(c.directory, Path::new("/var/lib/otelcol/file_storage"));
    assert_eq!(
        (
            c.rebound_needed_threshold_mib,
            c.rebound_trigger_threshold_mib
        ),
        (100, 10)
    );
    assert_eq!(c.max_transaction_size, 65536);
    assert_eq!(c.check_interval, GoDuration::from_secs(5));
}

#[test]
fn otelcols_all_settings_example_loads() {
    let dir = tempfile::tempdir().unwrap();
    let d = yaml_path(dir.path());
    let config = parse(&format!(
        "directory: {d}\ncompaction:\n  directory: {d}\n  on_start: true\n  on_rebound: true\n  rebound_trigger_threshold_mib: 16\n  rebound_needed_threshold_mib: 128\n  max_transaction_size: 2048\n  cleanup_on_start: true\ntimeout: 2s\nfsync: true\n"
    ))
    .unwrap();
    assert_eq!(config.timeout, GoDuration::from_secs(2));
    assert!(config.fsync);
    assert_eq!(config.compaction.max_transaction_size, 2048);
    assert_eq!(config.compaction.check_interval, GoDuration::from_secs(5));
    assert!(parse(&format!("directory: {d}\ncompaction:\n")).is_ok());
    assert!(parse(&format!("directory: {d}\nbogus: 1\n")).is_err());
}

#[test]
fn validation_follows_otelcol() {
    let dir = tempfile::tempdir().unwrap();
    let d = yaml_path(dir.path());
    let missing = yaml_path(&dir.path().join("missing"));
    let e = parse(&format!("directory: {missing}\n")).unwrap_err();
    assert!(
        e.contains("directory must exist") && e.contains("create_directory"),
        "{e}"
    );
    let file = dir.path().join("file");
    std::fs::write(&file, b"").unwrap();
    let e = parse(&format!("directory: {}\n", yaml_path(&file))).unwrap_err();
    assert!(e.contains("is not a directory"), "{e}");

    let create = |perms: &str| {
        parse(&format!(
            "directory: {missing}\ncreate_directory: true\ndirectory_permissions: \"{perms}\"\n"
        ))
    };
    assert!(create("0700").is_ok());
    for bad in ["invalid string", "rwxr--r--", "0778"] {
        let e = create(bad).unwrap_err();
        assert!(
            e.contains("must be a valid octal representation"),
            "{bad}: {e}"
        );
    }
    let e = create("07771").unwrap_err();
    assert!(e.contains("invalid bits for file access"), "{e}");
    assert!(
        parse(&format!(
            "directory: {d}\ndirectory_permissions: \"07771\"\n"
        ))
        .is_ok(),
        "permissions are only checked with create_directory"
    );

    let compaction = |extra: &str| parse(&format!("directory: {d}\ncompaction:\n{extra}"));
    let e = compaction(&format!("  on_start: true\n  directory: {missing}\n")).unwrap_err();
    assert!(e.contains("directory must exist"), "{e}");
    let e = compaction(&format!("  on_rebound: true\n  directory: {missing}\n")).unwrap_err();
    assert!(e.contains("directory must exist"), "{e}");
    assert!(compaction(&format!("  directory: {missing}\n")).is_ok());
    let e = compaction("  max_transaction_size: -1\n").unwrap_err();
    assert!(e.contains("cannot be less than 0"), "{e}");
    let e = compaction(&format!(
        "  on_rebound: true\n  directory: {d}\n  check_interval: 0s\n"
    ))
    .unwrap_err();
    assert!(e.contains("check interval must be positive"), "{e}");
}

fn create(id: &str, yaml: &str) -> (Arc<dyn Lifecycle>, Arc<dyn Storage>, CreateSettings) {
    let set = CreateSettings::new(
        ComponentId::parse(id).unwrap(),
        Kind::Extension,
        SelfTelemetry::new(&[]),
    );
    let node = Node::parse(yaml, "t.yaml").unwrap();
    let extension = FileStorageExtensionFactory
        .create(set.clone(), &node)
        .unwrap();
    let storage = set.host.storage(id).unwrap();
    (extension, storage, set)
}

use ferrotel_core::component::Lifecycle;

#[tokio::test]
async fn each_owner_gets_a_named_directory_created_with_the_permissions() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("a/b");
    let (extension, storage, _) = create(
        "file_storage/q",
        &format!(
            "directory: {}\ncreate_directory: true\ndirectory_permissions: \"0700\"\nfsync: true\ntimeout: 3s\n",
            yaml_path(&base)
        ),
    );
    extension.start().await.unwrap();
    assert!(base.is_dir());
    let mode = std::fs::metadata(&base).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    let plain = storage
        .location(
            Kind::Exporter,
            &ComponentId::parse("otlp").unwrap(),
            "traces",
        )
        .unwrap();
    assert_eq!(plain.directory, base.join("exporter_otlp__traces"));
    assert!(plain.directory.join(LOCK_FILE).is_file());
    assert!(plain.fsync);
    assert_eq!(plain.timeout, Duration::from_secs(3));
    let odd = storage
        .location(
            Kind::Exporter,
            &ComponentId::parse("otlp/a/b~c").unwrap(),
            "logs",
        )
        .unwrap();
    assert_eq!(odd.directory, base.join("exporter_otlp_a~002Fb~007Ec_logs"));
    assert_eq!(
        directory_name(Kind::Receiver, &ComponentId::parse("filelog").unwrap(), ""),
        "receiver_filelog_"
    );
    // Asking again from this process is fine: the lock is already ours.
    storage
        .location(
            Kind::Exporter,
            &ComponentId::parse("otlp").unwrap(),
            "traces",
        )
        .unwrap();
    extension.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_directory_locked_by_another_instance_is_refused_after_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!("directory: {}\ntimeout: 300ms\n", yaml_path(dir.path()));
    let owner = ComponentId::parse("otlp").unwrap();
    let (first, first_storage, _) = create("file_storage", &yaml);
    first_storage
        .location(Kind::Exporter, &owner, "logs")
        .unwrap();

    let (_second, second_storage, _) = create("file_storage", &yaml);
    let started = Instant::now();
    let err = second_storage
        .location(Kind::Exporter, &owner, "logs")
        .unwrap_err()
        .to_string();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(err.contains("locked by another process"), "{err}");
    assert!(err.contains("exporter_otlp__logs"), "{err}");
    // Another owner's directory is free.
    second_storage
        .location(Kind::Exporter, &owner, "traces")
        .unwrap();

    first.shutdown().await.unwrap();
    second_storage
        .location(Kind::Exporter, &owner, "logs")
        .unwrap();
}

#[test]
fn an_otelcol_database_file_in_the_way_is_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("exporter_otlp__logs"), b"bbolt").unwrap();
    let (_e, storage, _) = create(
        "file_storage",
        &format!("directory: {}\n", yaml_path(dir.path())),
    );
    let err = storage
        .location(Kind::Exporter, &ComponentId::parse("otlp").unwrap(), "logs")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("exporter_otlp__logs") && err.contains("not a directory"),
        "{err}"
    );
}

struct Backend {
    up: bool,
    delivered: Mutex<Vec<usize>>,
}

#[async_trait::async_trait]
impl Sender for Backend {
    async fn send(&self, data: &Telemetry) -> Result<Delivered, SendError> {
        if !self.up {
            return Err(SendError::retryable("down"));
        }
        self.delivered.lock().unwrap().push(data.item_count());
        Ok(Delivered::all())
    }
}

fn logs(n: usize) -> Telemetry {
    Telemetry::from_logs(ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord::default(); n],
                ..Default::default()
            }],
            ..Default::default()
        }],
    })
}

/// A collector run: the extension, then an exporter whose queue lives in it.
async fn run(dir: &Path, up: bool, batches: &[usize]) -> Vec<usize> {
    let (extension, _, set) = create(
        "file_storage/q",
        &format!("directory: {}\n", yaml_path(dir)),
    );
    extension.start().await.unwrap();
    let set = CreateSettings {
        id: ComponentId::parse("otlp").unwrap(),
        kind: Kind::Exporter,
        ..set
    };
    let mut settings = ExporterSettings {
        drain_timeout: Duration::from_millis(200),
        ..ExporterSettings::default()
    };
    settings.queue.storage = Some("file_storage/q".into());
    let exporter = Exporter::new(
        &set,
        settings,
        Backend {
            up,
            delivered: Mutex::new(Vec::new()),
        },
    )
    .unwrap();
    exporter.start().await.unwrap();
    for n in batches {
        exporter.consume(logs(*n)).await.unwrap();
    }
    for _ in 0..200 {
        if !up || exporter.queue_size(Signal::Logs) == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    exporter.shutdown().await.unwrap();
    extension.shutdown().await.unwrap();
    let mut delivered = exporter.sender().delivered.lock().unwrap().clone();
    delivered.sort();
    delivered
}

#[tokio::test]
async fn the_queue_survives_a_restart_of_extension_and_exporter() {
    let dir = tempfile::tempdir().unwrap();
    assert!(run(dir.path(), false, &[1, 2, 3]).await.is_empty());
    assert!(dir.path().join("exporter_otlp__logs").is_dir());
    assert_eq!(run(dir.path(), true, &[]).await, [1, 2, 3]);
    assert_eq!(run(dir.path(), true, &[]).await, Vec::<usize>::new());
}

#[tokio::test]
async fn an_exporter_cannot_start_on_a_queue_another_collector_holds() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!("directory: {}\ntimeout: 100ms\n", yaml_path(dir.path()));
    let (_holder, holder_storage, _) = create("file_storage/q", &yaml);
    holder_storage
        .location(
            Kind::Exporter,
            &ComponentId::parse("otlp").unwrap(),
            "metrics",
        )
        .unwrap();
    let (_extension, _, set) = create("file_storage/q", &yaml);
    let set = CreateSettings {
        id: ComponentId::parse("otlp").unwrap(),
        kind: Kind::Exporter,
        ..set
    };
    let mut settings = ExporterSettings::default();
    settings.queue.storage = Some("file_storage/q".into());
    let backend = Backend {
        up: true,
        delivered: Mutex::new(Vec::new()),
    };
    let exporter = Exporter::new(&set, settings, backend).unwrap();
    let err = format!("{:#}", exporter.start().await.unwrap_err());
    assert!(
        err.contains("exporter_otlp__metrics") && err.contains("locked"),
        "{err}"
    );
    // What did open (the traces queue) was closed again.
    assert!(exporter.consume(logs(1)).await.is_err());
}
