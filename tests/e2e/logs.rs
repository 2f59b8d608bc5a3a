//! The log output of this test binary, captured by one process-wide subscriber, for the
//! tests that check what is (and is not) logged.

use std::sync::{Arc, Mutex, OnceLock};

use tracing_subscriber::EnvFilter;

/// Log output, captured.
#[derive(Clone, Default)]
pub(crate) struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut buffer) = self.0.lock() {
            buffer.extend_from_slice(bytes);
        }
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Captured {
    pub(crate) fn text(&self) -> String {
        self.0.lock().map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
    }
}

/// The log output of this test binary from the first call on: the gateway's own events at
/// every level, requests, and SQL statements. (A process-wide subscriber: a thread's own one
/// misses events when tests run in parallel.)
pub(crate) fn captured() -> anyhow::Result<&'static Captured> {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    let mut installed = Ok(());
    let logs = LOGS.get_or_init(|| {
        let logs = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(logs.clone())
            .with_env_filter(EnvFilter::new("fieldguard=trace,tower_http=trace,sea_orm=debug"))
            .with_ansi(false)
            .finish();
        installed = tracing::subscriber::set_global_default(subscriber);
        logs
    });
    installed?;
    Ok(logs)
}
