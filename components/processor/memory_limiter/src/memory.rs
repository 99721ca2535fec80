//! How much memory the process may use: fixed MiB, or a percentage of the total memory, which is
//! the cgroup's limit when there is one (v2 `memory.max`, v1 `memory/memory.limit_in_bytes`) and
//! the host's `MemTotal` otherwise.

use anyhow::Context;
use std::path::{Path, PathBuf};

const MIB: u64 = 1024 * 1024;

/// What cgroup v1 reports when no limit is set (the largest page-aligned i64).
const V1_UNLIMITED: u64 = 9_223_372_036_854_771_712;

/// Where the total memory is read from; tests point it at files of their own.
#[derive(Debug, Clone)]
pub struct MemorySource {
    pub cgroup_root: PathBuf,
    pub meminfo: PathBuf,
}

impl MemorySource {
    pub fn system() -> MemorySource {
        MemorySource {
            cgroup_root: "/sys/fs/cgroup".into(),
            meminfo: "/proc/meminfo".into(),
        }
    }

    /// The cgroup memory limit, or the host's memory when the cgroup sets none.
    pub fn total_memory(&self) -> anyhow::Result<u64> {
        match self.cgroup_limit()? {
            Some(limit) => Ok(limit),
            None => read_mem_total(&self.meminfo),
        }
    }

    fn cgroup_limit(&self) -> anyhow::Result<Option<u64>> {
        let v2 = self.cgroup_root.join("memory.max");
        if let Some(text) = read_if_present(&v2)? {
            let value = text.trim();
            if value == "max" {
                return Ok(None);
            }
            let limit = value
                .parse::<u64>()
                .with_context(|| format!("{}: not a byte count: {value:?}", v2.display()))?;
            return Ok(Some(limit));
        }
        let v1 = self
            .cgroup_root
            .join("memory")
            .join("memory.limit_in_bytes");
        if let Some(text) = read_if_present(&v1)? {
            let value = text.trim();
            let limit = value
                .parse::<i64>()
                .with_context(|| format!("{}: not a byte count: {value:?}", v1.display()))?;
            return Ok(u64::try_from(limit)
                .ok()
                .filter(|l| *l > 0 && *l < V1_UNLIMITED));
        }
        Ok(None)
    }
}

fn read_if_present(path: &Path) -> anyhow::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn read_mem_total(meminfo: &Path) -> anyhow::Result<u64> {
    let text = std::fs::read_to_string(meminfo)
        .with_context(|| format!("reading {}", meminfo.display()))?;
    let line = text
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .with_context(|| format!("{}: no MemTotal line", meminfo.display()))?;
    let kib = line
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse::<u64>()
        .with_context(|| format!("{}: MemTotal is not a number: {line:?}", meminfo.display()))?;
    Ok(kib * 1024)
}

/// The two thresholds, in bytes: data is refused at or above `soft` (= hard limit − spike).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    pub hard: u64,
    pub soft: u64,
}

impl Thresholds {
    /// A limit with its spike headroom; no spike given means 20% of the limit, as in otelcol.
    pub fn new(limit: u64, spike: u64) -> Thresholds {
        let spike = if spike == 0 { limit / 5 } else { spike };
        Thresholds {
            hard: limit,
            soft: limit.saturating_sub(spike),
        }
    }

    pub fn fixed_mib(limit_mib: u32, spike_limit_mib: u32) -> Thresholds {
        Thresholds::new(u64::from(limit_mib) * MIB, u64::from(spike_limit_mib) * MIB)
    }

    pub fn percentage(total: u64, limit_percentage: u32, spike_percentage: u32) -> Thresholds {
        let share = |percent: u32| (u128::from(total) * u128::from(percent) / 100) as u64;
        Thresholds::new(share(limit_percentage), share(spike_percentage))
    }
}

pub fn mib(bytes: u64) -> u64 {
    bytes / MIB
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake {
        dir: tempfile::TempDir,
    }

    impl Fake {
        fn new(mem_total_kib: u64) -> Fake {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(
                dir.path().join("meminfo"),
                format!("MemTotal:       {mem_total_kib} kB\nMemFree:  1 kB\n"),
            )
            .unwrap();
            std::fs::create_dir(dir.path().join("cgroup")).unwrap();
            Fake { dir }
        }

        fn write(&self, relative: &str, text: &str) {
            let path = self.dir.path().join("cgroup").join(relative);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }

        fn source(&self) -> MemorySource {
            MemorySource {
                cgroup_root: self.dir.path().join("cgroup"),
                meminfo: self.dir.path().join("meminfo"),
            }
        }
    }

    #[test]
    fn fixed_limits_default_the_spike_to_a_fifth() {
        assert_eq!(
            Thresholds::fixed_mib(4000, 500),
            Thresholds {
                hard: 4000 * MIB,
                soft: 3500 * MIB
            }
        );
        assert_eq!(
            Thresholds::fixed_mib(10, 0),
            Thresholds {
                hard: 10 * MIB,
                soft: 8 * MIB
            }
        );
    }

    #[test]
    fn a_cgroup_v2_limit_is_the_total() {
        let fake = Fake::new(64 * 1024 * 1024);
        fake.write("memory.max", "1073741824\n");
        let total = fake.source().total_memory().unwrap();
        assert_eq!(total, 1024 * MIB);
        assert_eq!(
            Thresholds::percentage(total, 50, 10),
            Thresholds {
                hard: 512 * MIB,
                soft: 512 * MIB - 1024 * MIB / 10
            }
        );
    }

    #[test]
    fn an_unlimited_cgroup_falls_back_to_the_host_memory() {
        let fake = Fake::new(2 * 1024 * 1024);
        fake.write("memory.max", "max\n");
        assert_eq!(fake.source().total_memory().unwrap(), 2048 * MIB);

        let fake = Fake::new(2 * 1024 * 1024);
        fake.write("memory/memory.limit_in_bytes", &format!("{V1_UNLIMITED}\n"));
        assert_eq!(fake.source().total_memory().unwrap(), 2048 * MIB);

        let no_cgroup = Fake::new(3 * 1024 * 1024);
        assert_eq!(no_cgroup.source().total_memory().unwrap(), 3072 * MIB);
    }

    #[test]
    fn a_cgroup_v1_limit_is_the_total() {
        let fake = Fake::new(64 * 1024 * 1024);
        fake.write("memory/memory.limit_in_bytes", "536870912\n");
        assert_eq!(fake.source().total_memory().unwrap(), 512 * MIB);
    }

    #[test]
    fn unreadable_values_are_errors_that_name_the_file() {
        let fake = Fake::new(1024);
        fake.write("memory.max", "lots\n");
        let err = format!("{:#}", fake.source().total_memory().unwrap_err());
        assert!(err.contains("memory.max") && err.contains("lots"), "{err}");

        let fake = Fake::new(1024);
        std::fs::write(fake.dir.path().join("meminfo"), "Nothing: 1 kB\n").unwrap();
        let err = format!("{:#}", fake.source().total_memory().unwrap_err());
        assert!(err.contains("no MemTotal line"), "{err}");
    }

    #[test]
    fn this_host_has_a_total() {
        assert!(MemorySource::system().total_memory().unwrap() > 0);
    }
}
