//! Process resource figures read from /proc, for self-telemetry and the memory limiter.

pub struct ProcessStats {
    pub rss_bytes: u64,
    pub cpu_seconds: f64,
}

impl ProcessStats {
    pub fn read() -> ProcessStats {
        ProcessStats {
            rss_bytes: rss_bytes().unwrap_or(0),
            cpu_seconds: cpu_seconds().unwrap_or(0.0),
        }
    }
}

/// Resident set size of this process.
pub fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let resident_pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(resident_pages * page_size())
}

/// The kernel's page size (4 KiB on x86-64, often 16 or 64 KiB on arm64): `statm` counts pages.
fn page_size() -> u64 {
    static PAGE_SIZE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *PAGE_SIZE.get_or_init(|| {
        // SAFETY: sysconf has no preconditions.
        let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        u64::try_from(size).ok().filter(|&s| s > 0).unwrap_or(4096)
    })
}

/// Clock ticks per second, the unit of `stat`'s CPU times.
fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        // SAFETY: sysconf has no preconditions.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        if ticks > 0 { ticks as f64 } else { 100.0 }
    })
}

/// User + system CPU time of this process.
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may hold spaces; fields after the closing parenthesis are fixed.
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / clock_ticks())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `statm` pages times the page size must agree with the kernel's own byte figure.
    #[test]
    fn rss_in_bytes_agrees_with_vmrss() {
        let rss = rss_bytes().unwrap();
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let vm_rss_kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap();
        let vm_rss = vm_rss_kib * 1024;
        // The two reads are moments apart; allow a little drift, not a factor.
        let (low, high) = (vm_rss - vm_rss / 4, vm_rss + vm_rss / 4);
        assert!(
            (low..=high).contains(&rss),
            "statm {rss} B, VmRSS {vm_rss} B"
        );
    }
}
