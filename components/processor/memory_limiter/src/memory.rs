//! How much memory the process may use: fixed MiB, or a percentage of the total memory, which is
//! the tightest limit of the process's own cgroup and its ancestors when there is one (v2
//! `memory.max`, v1 `memory/memory.limit_in_bytes`; the cgroup is read from `/proc/self/cgroup`, so
//! a systemd `MemoryMax=` counts as well as a container's limit) and the host's `MemTotal` otherwise.

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
    /// `/proc/self/cgroup`: which cgroup the process is in.
    pub self_cgroup: PathBuf,
}

impl MemorySource {
    pub fn system() -> MemorySource {
        MemorySource {
            cgroup_root: "/sys/fs/cgroup".into(),
            meminfo: "/proc/meminfo".into(),
            self_cgroup: "/proc/self/cgroup".into(),
        }
    }

    /// The cgroup memory limit, or the host's memory when the cgroup sets none.
    pub fn total_memory(&self) -> anyhow::Result<u64> {
        match self.cgroup_limit()? {
            Some(limit) => Ok(limit),
            None => read_mem_total(&self.meminfo),
        }
    }

    /// The tightest limit from the process's cgroup up to the root; `None` when none is set.
    fn cgroup_limit(&self) -> anyhow::Result<Option<u64>> {
        let membership = read_if_present(&self.self_cgroup)?.unwrap_or_default();
        let mut tightest: Option<u64> = None;
        for (file, path) in self.candidates(&membership) {
            let limit = match read_if_present(&file)? {
                Some(text) => parse_limit(&file, text.trim())?,
                None => continue,
            };
            tightest = match (tightest, limit) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            tracing::trace!(cgroup = %path, ?limit, "cgroup memory limit");
        }
        Ok(tightest)
    }

    /// The limit files to read: each directory from the process's cgroup up to the root, for the
    /// v2 unified hierarchy and the v1 memory controller alike (only one will exist).
    fn candidates(&self, membership: &str) -> Vec<(PathBuf, String)> {
        let mut out = Vec::new();
        let mut push_chain = |base: PathBuf, file: &str, cgroup: &str| {
            let mut path = cgroup.trim_matches('/').to_owned();
            loop {
                out.push((base.join(&path).join(file), format!("/{path}")));
                match path.rfind('/') {
                    Some(cut) => path.truncate(cut),
                    None if !path.is_empty() => path.clear(),
                    None => break,
                }
            }
        };
        let mut v2 = "/";
        let mut v1 = "/";
        for line in membership.lines() {
            let mut fields = line.splitn(3, ':');
            let (Some(_), Some(controllers), Some(path)) =
                (fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            if controllers.is_empty() {
                v2 = path;
            } else if controllers.split(',').any(|c| c == "memory") {
                v1 = path;
            }
        }
        push_chain(self.cgroup_root.clone(), "memory.max", v2);
        push_chain(self.cgroup_root.join("memory"), "memory.limit_in_bytes", v1);
        out
    }
}

/// A limit file's value: `max` (v2) or the v1 "unlimited" sentinel mean no limit.
fn parse_limit(file: &Path, value: &str) -> anyhow::Result<Option<u64>> {
    if value == "max" {
        return Ok(None);
    }
    let limit = value
        .parse::<i64>()
        .with_context(|| format!("{}: not a byte count: {value:?}", file.display()))?;
    Ok(u64::try_from(limit)
        .ok()
        .filter(|l| *l > 0 && *l < V1_UNLIMITED))
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
                self_cgroup: self.dir.path().join("self_cgroup"),
            }
        }

        fn member_of(&self, text: &str) {
            std::fs::write(self.dir.path().join("self_cgroup"), text).unwrap();
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
    fn the_process_own_cgroup_and_its_ancestors_are_read_and_the_tightest_wins() {
        let fake = Fake::new(64 * 1024 * 1024);
        fake.member_of("0::/system.slice/ferrotel.service\n");
        fake.write("system.slice/ferrotel.service/memory.max", "268435456\n");
        fake.write("system.slice/memory.max", "max\n");
        assert_eq!(fake.source().total_memory().unwrap(), 256 * MIB);
        fake.write("system.slice/memory.max", "134217728\n");
        assert_eq!(
            fake.source().total_memory().unwrap(),
            128 * MIB,
            "a tighter parent limits the child"
        );

        let v1 = Fake::new(64 * 1024 * 1024);
        v1.member_of("12:cpu,cpuacct:/docker/abc\n4:memory:/docker/abc\n0::/\n");
        v1.write("memory/docker/abc/memory.limit_in_bytes", "536870912\n");
        assert_eq!(v1.source().total_memory().unwrap(), 512 * MIB);
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
