//! The `memory_limiter` processor's settings, with otelcol's keys, defaults and checks.

use ferrotel_core::config::{GoDuration, Validate};

#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MemoryLimiterConfig {
    /// Time between two measurements of the memory in use. Required.
    pub check_interval: GoDuration,
    /// Go's garbage-collector pacing; accepted for compatibility, with nothing to pace here.
    pub min_gc_interval_when_soft_limited: GoDuration,
    /// Go's garbage-collector pacing; accepted for compatibility, with nothing to pace here.
    pub min_gc_interval_when_hard_limited: GoDuration,
    /// The hard limit in MiB; takes precedence over `limit_percentage`.
    pub limit_mib: u32,
    /// Headroom below the hard limit in MiB; data is refused above `limit - spike`. Default 20%.
    pub spike_limit_mib: u32,
    /// The hard limit as a percentage of the total memory (the cgroup limit, else the host's).
    pub limit_percentage: u32,
    /// The headroom as a percentage of the total memory.
    pub spike_limit_percentage: u32,
}

pub const DEFAULT_MIN_GC_INTERVAL_WHEN_SOFT_LIMITED: GoDuration = GoDuration::from_secs(10);

impl Default for MemoryLimiterConfig {
    fn default() -> Self {
        MemoryLimiterConfig {
            check_interval: GoDuration::ZERO,
            min_gc_interval_when_soft_limited: DEFAULT_MIN_GC_INTERVAL_WHEN_SOFT_LIMITED,
            min_gc_interval_when_hard_limited: GoDuration::ZERO,
            limit_mib: 0,
            spike_limit_mib: 0,
            limit_percentage: 0,
            spike_limit_percentage: 0,
        }
    }
}

impl Validate for MemoryLimiterConfig {
    fn validate(&self) -> Result<(), String> {
        if self.check_interval.is_zero() {
            return Err("'check_interval' must be greater than zero".into());
        }
        if self.min_gc_interval_when_soft_limited < self.min_gc_interval_when_hard_limited {
            return Err(
                "'min_gc_interval_when_soft_limited' should be larger than 'min_gc_interval_when_hard_limited'".into()
            );
        }
        if self.limit_mib == 0 && self.limit_percentage == 0 {
            return Err("'limit_mib' or 'limit_percentage' must be greater than zero".into());
        }
        if self.limit_percentage > 100 || self.spike_limit_percentage > 100 {
            return Err("'limit_percentage' and 'spike_limit_percentage' must be greater than zero and less than or \
                        equal to hundred"
                .into());
        }
        if self.limit_mib > 0 && self.limit_mib <= self.spike_limit_mib {
            return Err("'spike_limit_mib' must be smaller than 'limit_mib'".into());
        }
        if self.limit_percentage > 0 && self.limit_percentage <= self.spike_limit_percentage {
            return Err("'spike_limit_percentage' must be smaller than 'limit_percentage'".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrotel_core::config::{Node, decode_validated};

    fn decode(text: &str) -> Result<MemoryLimiterConfig, String> {
        let node = Node::parse(text, "memory_limiter.yaml").map_err(|e| e.to_string())?;
        decode_validated::<MemoryLimiterConfig>(&node).map_err(|e| e.to_string())
    }

    #[test]
    fn reads_the_upstream_testdata() {
        let config = decode("check_interval: 5s\nlimit_mib: 4000\nspike_limit_mib: 500\n").unwrap();
        assert_eq!(config.check_interval, GoDuration::from_secs(5));
        assert_eq!((config.limit_mib, config.spike_limit_mib), (4000, 500));
        assert_eq!(
            config.min_gc_interval_when_soft_limited,
            GoDuration::from_secs(10)
        );
    }

    #[test]
    fn an_empty_section_has_no_check_interval() {
        let err = decode("").unwrap_err();
        assert!(
            err.ends_with("'check_interval' must be greater than zero"),
            "{err}"
        );
    }

    #[test]
    fn refuses_what_otelcol_refuses_in_its_order_and_words() {
        let cases = [
            (
                "limit_mib: 10\n",
                "'check_interval' must be greater than zero",
            ),
            (
                "check_interval: 1s\nlimit_mib: 10\nmin_gc_interval_when_soft_limited: 1s\nmin_gc_interval_when_hard_limited: 2s\n",
                "'min_gc_interval_when_soft_limited' should be larger than 'min_gc_interval_when_hard_limited'",
            ),
            (
                "check_interval: 1s\n",
                "'limit_mib' or 'limit_percentage' must be greater than zero",
            ),
            (
                "check_interval: 1s\nlimit_percentage: 101\n",
                "'limit_percentage' and 'spike_limit_percentage' must be greater than zero and less than or equal to hundred",
            ),
            (
                "check_interval: 1s\nlimit_mib: 10\nspike_limit_mib: 10\n",
                "'spike_limit_mib' must be smaller than 'limit_mib'",
            ),
            (
                "check_interval: 1s\nlimit_percentage: 50\nspike_limit_percentage: 60\n",
                "'spike_limit_percentage' must be smaller than 'limit_percentage'",
            ),
        ];
        for (text, expected) in cases {
            let err = decode(text).unwrap_err();
            assert!(err.ends_with(expected), "{text:?}: {err}");
        }
        assert!(
            decode("check_interval: 1s\nlimit_percentage: 80\nspike_limit_percentage: 25\n")
                .is_ok()
        );
    }

    #[test]
    fn negative_limits_do_not_decode() {
        let err =
            decode("check_interval: 5s\nlimit_mib: -2000\nspike_limit_mib: -2300\n").unwrap_err();
        assert!(err.contains("limit_mib") && err.contains("-2000"), "{err}");
        let err = decode("check_interval: 5s\nballast_size_mib: 10\n").unwrap_err();
        assert!(err.contains("ballast_size_mib"), "{err}");
    }
}
