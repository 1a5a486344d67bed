//! What a run container printed, line by line with the time each line arrived: the current run
//! and the one before it (`--previous`), and a signal for followers (`logs -f`).

use jiff::Timestamp;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::watch;

/// At most this many bytes are kept per run (older lines go first), as the kubelet rotates.
const MAX_BYTES: usize = 8 << 20;

#[derive(Debug, Clone)]
pub struct Line {
    pub at: Timestamp,
    pub text: String,
}

#[derive(Debug, Default)]
struct Runs {
    /// Increases with every run, so a follower knows its run was replaced.
    run: u64,
    current: Vec<Line>,
    current_bytes: usize,
    ended: bool,
    previous: Option<Vec<Line>>,
    /// Lines dropped from the front of `current` (followers' offsets stay valid).
    dropped: usize,
}

/// One container's logs.
#[derive(Debug)]
pub struct ContainerLog {
    runs: Mutex<Runs>,
    changed: watch::Sender<u64>,
}

impl Default for ContainerLog {
    fn default() -> Self {
        ContainerLog {
            runs: Mutex::new(Runs::default()),
            changed: watch::channel(0).0,
        }
    }
}

impl ContainerLog {
    fn lock(&self) -> MutexGuard<'_, Runs> {
        match self.runs.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    fn bump(&self) {
        self.changed.send_modify(|v| *v += 1);
    }

    /// A new run starts: the current one becomes the previous one.
    pub fn start_run(&self) {
        {
            let mut g = self.lock();
            if g.run > 0 {
                let cur = std::mem::take(&mut g.current);
                g.previous = Some(cur);
            }
            g.run += 1;
            g.current_bytes = 0;
            g.dropped = 0;
            g.ended = false;
        }
        self.bump();
    }

    pub fn push(&self, text: String) {
        {
            let mut g = self.lock();
            g.current_bytes += text.len() + 1;
            g.current.push(Line {
                at: crate::clock::now(),
                text,
            });
            while g.current_bytes > MAX_BYTES && !g.current.is_empty() {
                let l = g.current.remove(0);
                g.current_bytes -= l.text.len() + 1;
                g.dropped += 1;
            }
        }
        self.bump();
    }

    pub fn end_run(&self) {
        self.lock().ended = true;
        self.bump();
    }

    /// Whether any run has started.
    pub fn started(&self) -> bool {
        self.lock().run > 0
    }

    pub fn current(&self) -> Vec<Line> {
        self.lock().current.clone()
    }

    pub fn previous(&self) -> Option<Vec<Line>> {
        self.lock().previous.clone()
    }

    /// The last `n` lines of the current run as text (for `FallbackToLogsOnError`).
    pub fn tail_text(&self, n: usize, max_bytes: usize) -> String {
        let g = self.lock();
        let skip = g.current.len().saturating_sub(n);
        let mut s: String = g.current[skip..]
            .iter()
            .map(|l| format!("{}\n", l.text))
            .collect();
        if s.len() > max_bytes {
            let mut cut = s.len() - max_bytes;
            while !s.is_char_boundary(cut) {
                cut += 1;
            }
            s = s[cut..].to_string();
        }
        s
    }

    /// Follow the current run from line `from` (an index into it): each call returns the lines
    /// that arrived since, and false once the run has ended (or been replaced) and all is sent.
    pub async fn follow(self: &Arc<Self>, run: u64, from: &mut usize) -> (Vec<Line>, bool) {
        let mut rx = self.changed.subscribe();
        loop {
            {
                let g = self.lock();
                let source: &[Line] = if g.run == run {
                    &g.current
                } else {
                    g.previous
                        .as_deref()
                        .filter(|_| g.run == run + 1)
                        .unwrap_or(&[])
                };
                let base = if g.run == run { g.dropped } else { 0 };
                let start = from.saturating_sub(base).min(source.len());
                let fresh: Vec<Line> = source[start..].to_vec();
                *from = base + source.len();
                let open = g.run == run && !g.ended;
                if !fresh.is_empty() || !open {
                    return (fresh, open);
                }
            }
            if rx.changed().await.is_err() {
                return (vec![], false);
            }
        }
    }

    /// The current run's number, how many lines it has printed (counting dropped ones), and
    /// the lines kept, read at one instant (the start of a `follow`).
    pub fn snapshot(&self) -> (u64, usize, Vec<Line>) {
        let g = self.lock();
        (g.run, g.dropped + g.current.len(), g.current.clone())
    }
}
