//! What the code under test logs, captured: a `tracing` subscriber writing JSON lines to memory
//! instead of stderr, for tests that check what (or how much) gets logged.

use std::sync::{Arc, Mutex};

/// The bytes a [`subscriber`] wrote.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// Everything written so far, as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }

    /// How many bytes were written so far.
    pub fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A subscriber writing JSON lines up to `level` into the returned buffer.
pub fn subscriber(level: tracing::Level) -> (impl tracing::Subscriber + Send + Sync, Captured) {
    let buf = Captured::default();
    let w = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(level)
        .with_writer(move || w.clone())
        .finish();
    (subscriber, buf)
}

/// Runs `f` with everything it logs at INFO and above (on this thread, so on a current-thread
/// runtime: all of it) captured; returns its output and the number of bytes logged.
pub async fn logged<F: std::future::Future>(f: F) -> (F::Output, usize) {
    let (subscriber, buf) = subscriber(tracing::Level::INFO);
    let guard = tracing::subscriber::set_default(subscriber);
    let out = f.await;
    drop(guard);
    (out, buf.len())
}
