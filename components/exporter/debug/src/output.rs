//! Where the exporter writes, and zap's sampling of what it writes: per distinct message and per
//! second, the first `initial` are written, then every `thereafter`-th.

use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const COUNTERS: usize = 4096;
const TICK: Duration = Duration::from_secs(1);

pub(crate) struct Sampler {
    initial: i64,
    thereafter: i64,
    /// Per message hash: when its second began and how many were seen in it.
    counters: Mutex<Vec<(Option<Instant>, i64)>>,
}

impl Sampler {
    pub fn new(initial: i64, thereafter: i64) -> Sampler {
        Sampler {
            initial,
            thereafter,
            counters: Mutex::new(vec![(None, 0); COUNTERS]),
        }
    }

    pub fn allow(&self, message: &str) -> bool {
        self.allow_at(message, Instant::now())
    }

    fn allow_at(&self, message: &str, now: Instant) -> bool {
        let mut counters = self
            .counters
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let counter = &mut counters[fnv1a(message) as usize % COUNTERS];
        if counter
            .0
            .is_none_or(|start| now.duration_since(start) >= TICK)
        {
            *counter = (Some(now), 0);
        }
        counter.1 += 1;
        let n = counter.1;
        n <= self.initial || (self.thereafter > 0 && (n - self.initial) % self.thereafter == 0)
    }
}

fn fnv1a(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    })
}

pub(crate) enum Sink {
    /// The collector's own log, through `tracing`.
    Internal,
    /// stdout, stderr or files, without level or time, as otelcol's own console logger writes.
    Writers(Mutex<Vec<Box<dyn Write + Send>>>),
}

impl Sink {
    pub fn open(paths: &[String]) -> anyhow::Result<Sink> {
        let mut writers: Vec<Box<dyn Write + Send>> = Vec::new();
        for path in paths {
            writers.push(match path.as_str() {
                "stdout" => Box::new(std::io::stdout()),
                "stderr" => Box::new(std::io::stderr()),
                file => Box::new(
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(file)
                        .map_err(|e| anyhow::anyhow!("opening output path {file:?}: {e}"))?,
                ),
            });
        }
        Ok(Sink::Writers(Mutex::new(writers)))
    }

    /// Writes one entry to every writer; the first failure is returned after all were tried.
    pub fn write(&self, entry: &str) -> std::io::Result<()> {
        let Sink::Writers(writers) = self else {
            return Ok(());
        };
        let mut writers = writers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut result = Ok(());
        for writer in writers.iter_mut() {
            let written = writer
                .write_all(entry.as_bytes())
                .and_then(|()| writer.flush());
            if result.is_ok() {
                result = written;
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_follows_zap() {
        let sampler = Sampler::new(2, 3);
        let start = Instant::now();
        let allowed: Vec<bool> = (0..8).map(|_| sampler.allow_at("Traces", start)).collect();
        // 1 and 2 pass, then every third after them: 5 and 8.
        assert_eq!(
            allowed,
            [true, true, false, false, true, false, false, true]
        );
        assert!(
            sampler.allow_at("Logs", start),
            "another message has its own count"
        );
        assert!(
            sampler.allow_at("Traces", start + TICK),
            "a new second starts over"
        );

        let everything = Sampler::new(2, 1);
        assert!((0..100).all(|_| everything.allow_at("Traces", start)));
        let first_only = Sampler::new(1, 0);
        assert_eq!(
            (0..3)
                .map(|_| first_only.allow_at("x", start))
                .collect::<Vec<_>>(),
            [true, false, false]
        );
    }
}
