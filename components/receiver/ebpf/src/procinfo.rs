//! Who a pid is: executable, command line and container, from `/proc/<pid>` (read once per pid,
//! dropped when the kernel reports the process's exit; bounded). Command lines are redacted
//! ([`redact_command_line`]) unless `process.command_line: raw`, and not read at all when
//! `process.enabled` is false.

// looked up for every traced exchange: std's SipHash took ~8% of the receiver's CPU (perf)
use foldhash::{HashMap, HashMapExt};
use std::sync::Arc;

use crate::config::{CommandLine, ProcessConfig};

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
    /// `process.enabled`: argv is neither read from /proc nor kept from exec events otherwise.
    command_lines: bool,
    redact: bool,
}

impl ProcessTable {
    pub fn new(proc_root: impl Into<String>, process: &ProcessConfig) -> Self {
        ProcessTable {
            proc_root: proc_root.into(),
            known: HashMap::new(),
            command_lines: process.enabled,
            redact: process.command_line == CommandLine::Redacted,
        }
    }

    /// argv joined by spaces as configured: redacted, raw, or not at all.
    fn command_line(&self, line: &str) -> String {
        match (self.command_lines, self.redact) {
            (false, _) => String::new(),
            (true, true) => redact_command_line(line),
            (true, false) => line.to_string(),
        }
    }

    /// What is known of `pid`, reading /proc on first sight; `comm` names a process already gone.
    /// The process, if already known.
    pub fn cached(&self, pid: u32) -> Option<Arc<ProcessInfo>> {
        self.known.get(&pid).cloned()
    }

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
            info.command_line = self.command_line(command_line);
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
        let command_line = if self.command_lines {
            std::fs::read(format!("{dir}/cmdline"))
                .map(|raw| self.command_line(&crate::events::args_line(&raw)))
                .unwrap_or_default()
        } else {
            String::new()
        };
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

/// What a secret's value becomes.
const REDACTED: &str = "***";

/// The last word of a name (split at `-`, `_` and `.`) that marks its value as a secret.
const SECRET_WORDS: &[&str] = &[
    "password",
    "passwd",
    "pass",
    "passphrase",
    "token",
    "secret",
    "apikey",
    "auth",
    "credential",
    "credentials",
];

/// Single-dash words that start like mysql's glued `-pPASSWORD` but are compiler flags.
const NOT_GLUED_PASSWORDS: &[&str] = &[
    "-pthread",
    "-pthreads",
    "-pipe",
    "-pie",
    "-pg",
    "-pedantic",
    "-pedantic-errors",
];

/// The command line with the values of arguments that look like secrets replaced by `***`, all
/// else (whitespace included) as it was. argv arrives joined by spaces (from an exec event or
/// /proc's `cmdline`), so an argument here is a whitespace-separated word: a value holding a space
/// is redacted up to that space only, but a secret inside a shell's `-c` string is found too.
/// Redacted:
/// - `--password=x`, `--password x`, `-password x` (the next word, unless it is another flag),
///   for every name whose last word is one of [`SECRET_WORDS`] (`--db-password`, `--auth-token`,
///   `--client-secret`) or that ends in `<word>-key` (`--api-key`, `--api_key`, `--secret-key`);
///   not `--no-auth`, and not names ending in another word: `--password-file=/path` keeps its
///   path, which is where the secret is, not the secret;
/// - mysql's glued `-pSECRET`, but not `-p 5432` (psql's port: `-p` alone is never redacted) nor
///   the compiler flags in [`NOT_GLUED_PASSWORDS`] and `-print-…`;
/// - `NAME=x` and Java's `-Dname=x` for such names (`PASSWORD=x`, `GITHUB_TOKEN=x`, `AWS_SECRET_ACCESS_KEY=x`,
///   `-Dspring.datasource.password=x`);
/// - the password in a URL (`postgres://user:***@host`; a URL's user name alone is kept) and
///   secret query parameters (`?token=***`);
/// - the word after `Bearer`, and the password of curl's `-u`/`--user user:pass`.
pub fn redact_command_line(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut copied = 0;
    let mut next = Next::Plain;
    for word in line.split_whitespace() {
        // `word` is a slice of `line`: its offset is where it starts
        let start = word.as_ptr() as usize - line.as_ptr() as usize;
        out.push_str(&line[copied..start]);
        copied = start + word.len();
        match redact_word(word, &mut next) {
            Some(redacted) => out.push_str(&redacted),
            None => out.push_str(word),
        }
    }
    out.push_str(&line[copied..]);
    out
}

/// What the previous word says of the next one.
#[derive(Clone, Copy)]
enum Next {
    Plain,
    /// follows `--password`, `Bearer`…
    Secret,
    /// follows `-u`/`--user`: `user:password`
    UserPassword,
}

fn redact_word(word: &str, next: &mut Next) -> Option<String> {
    let expected = std::mem::replace(next, Next::Plain);
    if !word.starts_with('-') {
        match expected {
            Next::Secret => return Some(REDACTED.to_string()),
            Next::UserPassword if !word.contains("://") => {
                if let Some((user, _)) = word.split_once(':') {
                    return Some(format!("{user}:{REDACTED}"));
                }
            }
            Next::UserPassword | Next::Plain => {}
        }
    }
    if word.eq_ignore_ascii_case("bearer") {
        *next = Next::Secret;
        return None;
    }
    if let Some(flag) = word.strip_prefix('-') {
        let name = flag.trim_start_matches('-');
        if let Some((key, value)) = name.split_once('=') {
            let flag_part = &word[..word.len() - value.len()];
            // Java system properties: -Dname=value
            let property = key.strip_prefix('D').filter(|_| !flag.starts_with('-'));
            if is_secret_name(key) || property.is_some_and(is_secret_name) {
                return Some(format!("{flag_part}{REDACTED}"));
            }
            if key == "user"
                && let Some((user, _)) = value.split_once(':')
            {
                return Some(format!("{flag_part}{user}:{REDACTED}"));
            }
        } else if is_secret_name(name) {
            *next = Next::Secret;
            return None;
        } else if word == "-u" || word == "--user" {
            *next = Next::UserPassword;
            return None;
        }
        if is_glued_password(word) {
            return Some(format!("-p{REDACTED}"));
        }
    } else if let Some((key, _)) = word.split_once('=')
        && is_identifier(key)
        && is_secret_name(key)
    {
        return Some(format!("{key}={REDACTED}"));
    }
    redact_url(word)
}

fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    let words: Vec<&str> = name
        .split(['-', '_', '.'])
        .filter(|w| !w.is_empty())
        .collect();
    match words.as_slice() {
        [] | ["no", ..] => false,
        [.., last] if SECRET_WORDS.contains(last) => true,
        [_, .., "key"] => true,
        _ => false,
    }
}

fn is_identifier(key: &str) -> bool {
    key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn is_glued_password(word: &str) -> bool {
    word.len() > 2
        && word.starts_with("-p")
        && !NOT_GLUED_PASSWORDS.contains(&word)
        && !word.starts_with("-print")
}

/// The passwords of the URLs in `word` and its secret query parameters, when there are any.
fn redact_url(word: &str) -> Option<String> {
    if !word.contains("://") {
        return None;
    }
    let mut out = String::with_capacity(word.len());
    let mut rest = word;
    while let Some(scheme_end) = rest.find("://") {
        let (head, tail) = rest.split_at(scheme_end + 3);
        out.push_str(head);
        let end = tail.find(['/', '?', '#']).unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@').map(|at| authority.split_at(at)) {
            Some((userinfo, host)) if userinfo.contains(':') => {
                let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
                out.push_str(user);
                out.push(':');
                out.push_str(REDACTED);
                out.push_str(host);
            }
            _ => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    if let Some(question) = out.find('?') {
        let fragment = out[question..]
            .find('#')
            .map_or(out.len(), |f| question + f);
        let query: Vec<String> = out[question + 1..fragment]
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if is_secret_name(key) => format!("{key}={REDACTED}"),
                _ => pair.to_string(),
            })
            .collect();
        out = format!(
            "{}?{}{}",
            &out[..question],
            query.join("&"),
            &out[fragment..]
        );
    }
    (out != word).then_some(out)
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
        let mut table = ProcessTable::new("/proc", &ProcessConfig::default());
        let me = table.get(std::process::id(), "fallback");
        assert!(!me.executable_name.is_empty() && me.executable_name != "fallback");
        assert!(me.command_line.contains(&me.executable_name) || !me.command_line.is_empty());
        // a pid that does not exist falls back to the kernel's comm
        let gone = table.get(u32::MAX - 1, "ghost");
        assert_eq!(gone.executable_name, "ghost");
        assert_eq!(table.exit(u32::MAX - 1, "ghost").executable_name, "ghost");
    }

    #[test]
    fn secrets_in_command_lines_are_redacted() {
        for (raw, redacted) in [
            ("app --password=hunter2 -v", "app --password=*** -v"),
            ("app --password hunter2 -v", "app --password *** -v"),
            ("app --PASSWORD hunter2", "app --PASSWORD ***"),
            ("app -password hunter2", "app -password ***"),
            ("app -password=hunter2", "app -password=***"),
            ("app --passwd x --pass y", "app --passwd *** --pass ***"),
            (
                "app --token abc --secret=def",
                "app --token *** --secret=***",
            ),
            (
                "app --api-key k1 --apikey k2 --api_key=k3",
                "app --api-key *** --apikey *** --api_key=***",
            ),
            (
                "app --auth u:p --credentials c",
                "app --auth *** --credentials ***",
            ),
            (
                "app --db-password=x --auth-token y --client-secret z",
                "app --db-password=*** --auth-token *** --client-secret ***",
            ),
            ("mysql -uroot -phunter2 db", "mysql -uroot -p*** db"),
            ("sh -c mysql -phunter2", "sh -c mysql -p***"),
            (
                "env PASSWORD=x DB_PASSWORD=y GITHUB_TOKEN=z APP_SECRET=s AWS_SECRET_ACCESS_KEY=k run",
                "env PASSWORD=*** DB_PASSWORD=*** GITHUB_TOKEN=*** APP_SECRET=*** AWS_SECRET_ACCESS_KEY=*** run",
            ),
            ("env db_pass=x", "env db_pass=***"),
            (
                "java -Dspring.datasource.password=x -Dtoken=y -jar a.jar",
                "java -Dspring.datasource.password=*** -Dtoken=*** -jar a.jar",
            ),
            (
                "psql postgres://app:s3cret@db:5432/x",
                "psql postgres://app:***@db:5432/x",
            ),
            (
                "redis-cli -u redis://:pw@127.0.0.1:6379",
                "redis-cli -u redis://:***@127.0.0.1:6379",
            ),
            (
                "curl https://u:p@example.com/a?b=1",
                "curl https://u:***@example.com/a?b=1",
            ),
            (
                "curl https://example.com/a?access_token=t&q=1#top",
                "curl https://example.com/a?access_token=***&q=1#top",
            ),
            (
                "app DATABASE_URL=postgres://u:p@h/db",
                "app DATABASE_URL=postgres://u:***@h/db",
            ),
            ("curl -u alice:pw https://x", "curl -u alice:*** https://x"),
            (
                "curl --user=alice:pw https://x",
                "curl --user=alice:*** https://x",
            ),
            (
                "curl -H Authorization: Bearer abc.def",
                "curl -H Authorization: Bearer ***",
            ),
            ("  app\t--token  t  ", "  app\t--token  ***  "),
            ("app --password", "app --password"),
        ] {
            assert_eq!(redact_command_line(raw), redacted, "{raw}");
        }
    }

    #[test]
    fn what_is_not_a_secret_is_kept() {
        for line in [
            "psql -h db -p 5432 -U app",
            "mysql -p",
            "app --password-file=/run/secrets/pw --token-file /run/t",
            "mongod --auth --port 27017",
            "app --no-auth x",
            "app --key=/etc/ssl/key.pem --sort key",
            "cc -O2 -pthread -pipe -pie -pg -print-file-name=libc.so x.c",
            "curl https://example.com/a?b=1",
            "git clone https://git@github.com/o/r.git",
            "echo password hunter",
            "env PWD=/home/x PATH=/bin",
            "ps -u root",
            "python3 -c import time; time.sleep(1)",
            "",
        ] {
            assert_eq!(redact_command_line(line), line);
        }
        // a flag right after a secret flag is not taken for its value
        assert_eq!(
            redact_command_line("mysql --password --host db"),
            "mysql --password --host db"
        );
    }

    #[test]
    fn command_lines_follow_the_process_settings() {
        let me = std::process::id();
        let exec = |process: ProcessConfig| {
            let mut table = ProcessTable::new("/proc", &process);
            let from_exec = table
                .exec(1, "/bin/app", "app --token t")
                .command_line
                .clone();
            let from_proc = table.get(me, "").command_line.clone();
            (from_exec, from_proc)
        };
        let (from_exec, from_proc) = exec(ProcessConfig::default());
        assert_eq!(from_exec, "app --token ***");
        assert!(!from_proc.is_empty());
        let raw = ProcessConfig {
            command_line: CommandLine::Raw,
            ..ProcessConfig::default()
        };
        assert_eq!(exec(raw).0, "app --token t");
        // process: {enabled: false} keeps no argv, neither from exec events nor from /proc
        let off = ProcessConfig {
            enabled: false,
            ..ProcessConfig::default()
        };
        assert_eq!(exec(off), (String::new(), String::new()));
    }
}
