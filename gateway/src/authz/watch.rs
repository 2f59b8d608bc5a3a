//! Reloads the policy when its file changes.
//!
//! The directory holding the file is watched (editors and `cargo build` replace files rather
//! than write them in place). Bursts of events are coalesced, and reads of the file (which
//! fire events of their own) are ignored. Only a regular file is read, up to a size limit. A
//! file that fails to load leaves the version in force untouched, and the reason is logged
//! once per version of the file.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};

use super::active::{content_hash, read_policy_file};
use super::{ActivePolicy, LoadedPolicy};
use crate::error::Error;

/// How long the file must be quiet before it is reloaded.
const SETTLE: Duration = Duration::from_millis(250);

/// Watches `path` and puts every loadable new version of it in force, until dropped.
pub struct PolicyWatcher {
    _watcher: notify::RecommendedWatcher,
}

impl PolicyWatcher {
    /// Starts watching. Reloads run on the Tokio runtime of the caller.
    pub fn start(path: &Path, active: Arc<ActivePolicy>) -> Result<Self, Error> {
        let path = std::path::absolute(path)
            .map_err(|cause| Error::Io { what: format!("resolving {}", path.display()), cause })?;
        let directory = path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("/"));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        let file_name = path.file_name().map(|name| name.to_owned());
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                if let Ok(event) = event
                    && !matches!(event.kind, notify::EventKind::Access(_))
                    && event.paths.iter().any(|p| p.file_name() == file_name.as_deref())
                {
                    let _ = tx.send(());
                }
            })
            .map_err(|e| Error::PolicyWatch(e.to_string()))?;
        watcher
            .watch(&directory, RecursiveMode::NonRecursive)
            .map_err(|e| Error::PolicyWatch(format!("{}: {e}", directory.display())))?;

        tokio::spawn(async move {
            // What the last version seen was: its hash, or why it could not be read. Each is
            // acted on (and reported) once.
            let mut last_seen = active.current().info.hash.clone();
            while rx.recv().await.is_some() {
                // Let the writer finish, then swallow the rest of the burst.
                tokio::time::sleep(SETTLE).await;
                while rx.try_recv().is_ok() {}
                let reading = path.clone();
                let bytes = match tokio::task::spawn_blocking(move || read_policy_file(&reading))
                    .await
                {
                    Ok(Ok(bytes)) => bytes,
                    Ok(Err(error)) => {
                        let seen = error.to_string();
                        if seen != last_seen {
                            tracing::warn!(path = %path.display(), %error, "policy file unreadable; keeping the version in force");
                            last_seen = seen;
                        }
                        continue;
                    }
                    Err(error) => {
                        tracing::error!(%error, "policy read task failed");
                        continue;
                    }
                };
                let hash = content_hash(&bytes);
                if hash == last_seen {
                    continue;
                }
                last_seen = hash;
                let source = path.display().to_string();
                match tokio::task::spawn_blocking(move || LoadedPolicy::from_wasm(&bytes, source))
                    .await
                {
                    Ok(Ok(policy)) => active.replace(policy),
                    Ok(Err(error)) => {
                        tracing::error!(path = %path.display(), %error, "the new policy file does not load; keeping the version in force");
                    }
                    Err(error) => tracing::error!(%error, "policy reload task failed"),
                }
            }
        });
        Ok(Self { _watcher: watcher })
    }
}
