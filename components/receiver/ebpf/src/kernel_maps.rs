//! The kernel maps user space reads and tends at each collection: the L7 statistics the kernel
//! counts itself (turned into deltas since the last read), the followed sockets (byte counts of
//! open connections), and the housekeeping a non-LRU map needs — entries of processes that are
//! gone, requests never answered — plus the processes the filters rule out, written for the
//! kernel to skip.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

use aya::maps::{HashMap as BpfHashMap, MapData, PerCpuHashMap};

use crate::aggregate::{Aggregator, monotonic_ns};
use crate::events::{L7Key, L7Stats, RequestKey, RequestMeta, SockEntry};

/// A request unanswered this long is given up on: its socket's process may have gone, or the
/// response was never recognised.
const REQUEST_EXPIRY: Duration = Duration::from_secs(60);

pub struct KernelMaps {
    pub l7_stats: PerCpuHashMap<MapData, L7Key, L7Stats>,
    pub sockets: BpfHashMap<MapData, u64, SockEntry>,
    pub requests: BpfHashMap<MapData, RequestKey, RequestMeta>,
    pub denied: BpfHashMap<MapData, u32, u8>,
    /// The kernel's cumulative values at the last read.
    last: HashMap<L7Key, L7Stats>,
    /// Processes whose filter verdict was already given to the kernel.
    judged: HashSet<u32>,
    /// Requests removed unanswered (self-telemetry).
    pub expired_requests: u64,
    proc_root: String,
}

fn alive(proc_root: &str, tgid: u32) -> bool {
    Path::new(&format!("{proc_root}/{tgid}")).exists()
}

impl KernelMaps {
    pub fn new(ebpf: &mut aya::Ebpf, proc_root: &str) -> anyhow::Result<Self> {
        let mut take = |name: &str| {
            ebpf.take_map(name)
                .ok_or_else(|| anyhow::anyhow!("no map {name} in the object"))
        };
        Ok(KernelMaps {
            l7_stats: PerCpuHashMap::try_from(take("l7_stats")?)?,
            sockets: BpfHashMap::try_from(take("sockets")?)?,
            requests: BpfHashMap::try_from(take("requests")?)?,
            denied: BpfHashMap::try_from(take("denied_tgids")?)?,
            last: HashMap::new(),
            judged: HashSet::new(),
            expired_requests: 0,
            proc_root: proc_root.to_string(),
        })
    }

    /// Reads everything into the aggregator and tidies the maps.
    pub fn collect(&mut self, aggregator: &mut Aggregator) {
        for (key, delta) in self.l7_deltas() {
            aggregator.l7_counted(&key, &delta);
        }
        let open = self.open_sockets(aggregator);
        aggregator.open_sockets(open);
        self.expire_requests();
    }

    /// What the kernel counted per series since the last read. Series of processes that are gone
    /// are read a last time, then removed.
    fn l7_deltas(&mut self) -> Vec<(L7Key, L7Stats)> {
        let mut out = Vec::new();
        let mut gone = Vec::new();
        for item in self.l7_stats.iter() {
            let Ok((key, per_cpu)) = item else { continue };
            let mut total = L7Stats::default();
            for value in per_cpu.iter() {
                total.add(value);
            }
            let last = self.last.entry(key).or_default();
            out.push((key, total.since(last)));
            *last = total;
            if !alive(&self.proc_root, key.tgid) {
                gone.push(key);
            }
        }
        for key in gone {
            let _ = self.l7_stats.remove(&key);
            self.last.remove(&key);
        }
        out
    }

    /// The followed sockets, for the byte counts of open connections; entries of processes that
    /// are gone are removed, and each process is judged once by the name and cgroup filters.
    fn open_sockets(&mut self, aggregator: &mut Aggregator) -> Vec<(u64, SockEntry)> {
        let entries: Vec<(u64, SockEntry)> = self.sockets.iter().filter_map(Result::ok).collect();
        let mut alive_cache: HashMap<u32, bool> = HashMap::new();
        let mut open = Vec::with_capacity(entries.len());
        for (key, entry) in entries {
            let tgid = (key >> 32) as u32;
            let is_alive = *alive_cache
                .entry(tgid)
                .or_insert_with(|| alive(&self.proc_root, tgid));
            if !is_alive {
                let _ = self.sockets.remove(&key);
                // the pid may be reused by a process the filters let through
                if self.judged.remove(&tgid) {
                    let _ = self.denied.remove(&tgid);
                }
                continue;
            }
            if self.judged.insert(tgid) && !aggregator.process_allowed(tgid) {
                let _ = self.denied.insert(tgid, 1, 0);
            }
            open.push((key, entry));
        }
        open
    }

    fn expire_requests(&mut self) {
        let oldest = monotonic_ns().saturating_sub(REQUEST_EXPIRY.as_nanos() as u64);
        let stale: Vec<RequestKey> = self
            .requests
            .iter()
            .filter_map(Result::ok)
            .filter(|(_, meta)| meta.start_ns < oldest)
            .map(|(key, _)| key)
            .collect();
        for key in stale {
            if self.requests.remove(&key).is_ok() {
                self.expired_requests += 1;
            }
        }
    }
}
