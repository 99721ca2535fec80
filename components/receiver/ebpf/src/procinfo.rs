//! Who a pid is: executable, command line and container, from `/proc/<pid>` (read once per pid,
//! dropped when the kernel reports the process's exit; bounded).

// looked up for every traced exchange: std's SipHash took ~8% of the receiver's CPU (perf)
use foldhash::{HashMap, HashMapExt};
use std::sync::Arc;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProcessInfo {
    pub pid: u32,
    pub executable_name: String,
    pub executable_path: String,
    pub command_line: String,
    pub cgroup_path: String,
    pub container_id: Option<String>,
}

/// At most this many processes are remembered; past it the table starts over (the next event of
/// each live process reads /proc again).
const MAX_PROCESSES: usize = 32_768;

pub struct ProcessTable {
    proc_root: String,
    known: HashMap<u32, Arc<ProcessInfo>>,
}

impl ProcessTable {
    pub fn new(proc_root: impl Into<String>) -> Self {
        ProcessTable {
            proc_root: proc_root.into(),
            known: HashMap::new(),
        }
    }

    /// What is known of `pid`, reading /proc on first sight; `comm` names a process already gone.
    pub fn get(&mut self, pid: u32, comm: &str) -> Arc<ProcessInfo> {
        if let Some(info) = self.known.get(&pid) {
            return info.clone();
        }
        if self.known.len() >= MAX_PROCESSES {
            self.known.clear();
        }
        let info = Arc::new(self.read(pid, comm));
        self.known.insert(pid, info.clone());
        info
    }

    /// Records what an exec event carried (the process may be gone before /proc is read).
    pub fn exec(&mut self, pid: u32, path: &str, command_line: &str) -> Arc<ProcessInfo> {
        let mut info = self.read(pid, "");
        if !path.is_empty() {
            info.executable_path = path.to_string();
            info.executable_name = base_name(path).to_string();
        }
        if !command_line.is_empty() {
            info.command_line = command_line.to_string();
        }
        let info = Arc::new(info);
        if self.known.len() >= MAX_PROCESSES {
            self.known.clear();
        }
        self.known.insert(pid, info.clone());
        info
    }

    /// Forgets an exited process, returning what was known of it.
    pub fn exit(&mut self, pid: u32, comm: &str) -> Arc<ProcessInfo> {
        let info = self.get(pid, comm);
        self.known.remove(&pid);
        info
    }

    fn read(&self, pid: u32, comm: &str) -> ProcessInfo {
        let dir = format!("{}/{pid}", self.proc_root);
        let executable_path = std::fs::read_link(format!("{dir}/exe"))
            .map(|p| {
                p.to_string_lossy()
                    .trim_end_matches(" (deleted)")
                    .to_string()
            })
            .unwrap_or_default();
        let command_line = std::fs::read(format!("{dir}/cmdline"))
            .map(|raw| crate::events::args_line(&raw))
            .unwrap_or_default();
        let cgroup_path = std::fs::read_to_string(format!("{dir}/cgroup"))
            .map(|text| cgroup_path(&text))
            .unwrap_or_default();
        let executable_name = if executable_path.is_empty() {
            comm.to_string()
        } else {
            base_name(&executable_path).to_string()
        };
        ProcessInfo {
            pid,
            executable_name,
            executable_path,
            command_line,
            container_id: container_id(&cgroup_path),
            cgroup_path,
        }
    }
}

fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The unified (v2) hierarchy's path, else the first v1 controller's.
pub fn cgroup_path(text: &str) -> String {
    let mut first = None;
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(_controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if id == "0" {
            return path.to_string();
        }
        first.get_or_insert(path);
    }
    first.unwrap_or_default().to_string()
}

/// The 64-hex-digit container id in a cgroup path, as docker, containerd, CRI-O and podman
/// spell it: `/docker/<id>`, `/kubepods/.../<id>`, `docker-<id>.scope`, `cri-containerd-<id>.scope`,
/// `crio-<id>.scope`, `libpod-<id>.scope`.
pub fn container_id(path: &str) -> Option<String> {
    path.split('/').rev().find_map(|segment| {
        let segment = segment.strip_suffix(".scope").unwrap_or(segment);
        let candidate = segment.rsplit(['-', ':']).next().unwrap_or(segment);
        (candidate.len() == 64 && candidate.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| candidate.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f9a1c0b7d2e4f6a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a";

    #[test]
    fn finds_container_ids_in_every_runtime_layout() {
        for path in [
            format!("/docker/{ID}"),
            format!("/system.slice/docker-{ID}.scope"),
            format!("/kubepods/besteffort/pod1234/{ID}"),
            format!(
                "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod12_34.slice/cri-containerd-{ID}.scope"
            ),
            format!("/kubepods.slice/kubepods-pod1.slice/crio-{ID}.scope"),
            format!("/machine.slice/libpod-{ID}.scope/container"),
        ] {
            assert_eq!(container_id(&path).as_deref(), Some(ID), "{path}");
        }
        assert_eq!(container_id("/system.slice/nginx.service"), None);
        assert_eq!(
            container_id("/user.slice/user-0.slice/session-1.scope"),
            None
        );
    }

    #[test]
    fn prefers_the_unified_hierarchy() {
        let text = format!("12:cpu,cpuacct:/docker/{ID}\n0::/system.slice/x.service\n");
        assert_eq!(cgroup_path(&text), "/system.slice/x.service");
        assert_eq!(cgroup_path("5:memory:/a/b\n"), "/a/b");
    }

    #[test]
    fn reads_this_process_from_proc() {
        let mut table = ProcessTable::new("/proc");
        let me = table.get(std::process::id(), "fallback");
        assert!(!me.executable_name.is_empty() && me.executable_name != "fallback");
        assert!(me.command_line.contains(&me.executable_name) || !me.command_line.is_empty());
        // a pid that does not exist falls back to the kernel's comm
        let gone = table.get(u32::MAX - 1, "ghost");
        assert_eq!(gone.executable_name, "ghost");
        assert_eq!(table.exit(u32::MAX - 1, "ghost").executable_name, "ghost");
    }
}
