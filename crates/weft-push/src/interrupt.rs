//! SIGINT and SIGTERM as a flag the engine checks between steps and while
//! it sleeps, so that a stopped push still rolls back and releases its lock.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::error::PushError;

/// How often a sleep looks at the flag.
const SLICE: Duration = Duration::from_millis(20);

/// A flag set by a signal (or by [`Interrupt::raise`]); clones share it.
#[derive(Debug, Clone, Default)]
pub struct Interrupt {
    signal: Arc<AtomicUsize>,
}

impl Interrupt {
    /// A flag nothing sets but [`Interrupt::raise`].
    pub fn new() -> Self {
        Interrupt::default()
    }

    /// A flag set by SIGINT and SIGTERM. A second signal while the first is
    /// being handled ends the process at once (exit 130 or 143); the next
    /// `weft push` or `weft push cleanup` repairs what it left.
    pub fn from_signals() -> std::io::Result<Self> {
        let interrupt = Interrupt::new();
        let seen = Arc::new(AtomicBool::new(false));
        for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            signal_hook::flag::register_conditional_shutdown(
                signal,
                128 + signal,
                Arc::clone(&seen),
            )?;
            signal_hook::flag::register(signal, Arc::clone(&seen))?;
            signal_hook::flag::register_usize(
                signal,
                Arc::clone(&interrupt.signal),
                usize::try_from(signal).unwrap_or(2),
            )?;
        }
        Ok(interrupt)
    }

    /// Sets the flag as if `signal` had arrived.
    pub fn raise(&self, signal: i32) {
        self.signal
            .store(usize::try_from(signal).unwrap_or(2), Ordering::SeqCst);
    }

    /// The signal that arrived, if any.
    pub fn signal(&self) -> Option<i32> {
        match self.signal.load(Ordering::SeqCst) {
            0 => None,
            signal => Some(i32::try_from(signal).unwrap_or(2)),
        }
    }

    /// An error when a signal arrived.
    pub fn check(&self) -> Result<(), PushError> {
        match self.signal() {
            Some(signal) => Err(PushError::Interrupted { signal }),
            None => Ok(()),
        }
    }

    /// Sleeps, waking early (with an error) when a signal arrives.
    pub fn sleep(&self, duration: Duration) -> Result<(), PushError> {
        let deadline = Instant::now() + duration;
        loop {
            self.check()?;
            let now = Instant::now();
            if now >= deadline {
                return Ok(());
            }
            std::thread::sleep(SLICE.min(deadline - now));
        }
    }
}
