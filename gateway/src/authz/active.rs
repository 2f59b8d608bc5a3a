//! The policy in force, replaced atomically while the server runs.
//!
//! A request takes the current [`LoadedPolicy`] once, when it starts, and keeps it to the end:
//! a swap never changes the rules under a request in flight.

use std::path::Path;
use std::sync::Arc;

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::Policy;
use super::native::AllowAll;
use super::wasm::WasmPolicy;
use crate::error::Error;

/// The default policy, built from `policy-wasm/` and embedded in the binary.
pub static BUILTIN_POLICY: &[u8] = include_bytes!(env!("FIELDGUARD_BUILTIN_POLICY"));

/// The hash that identifies a policy version: `sha256:` and the hex digest of its bytes.
pub fn content_hash(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

/// The largest policy module read from a file, in bytes (the default policy is far smaller).
pub const MAX_POLICY_BYTES: u64 = 32 * 1024 * 1024;

/// The bytes of a policy file: only a regular file (never a FIFO or a device, which could
/// block the reader for good), and only up to [`MAX_POLICY_BYTES`].
pub fn read_policy_file(path: &Path) -> Result<Vec<u8>, Error> {
    use std::io::Read;
    let io = |what: &str| {
        let what = format!("{what} the policy file {}", path.display());
        move |cause| Error::Io { what, cause }
    };
    let not_regular = || {
        Error::InvalidPolicy(format!(
            "{} is not a regular file; refusing to read it",
            path.display()
        ))
    };
    let too_large = |size: u64| {
        Error::InvalidPolicy(format!(
            "{} has {size} bytes; a policy module has at most {MAX_POLICY_BYTES}",
            path.display()
        ))
    };
    let metadata = std::fs::metadata(path).map_err(io("reading"))?;
    if !metadata.is_file() {
        return Err(not_regular());
    }
    if metadata.len() > MAX_POLICY_BYTES {
        return Err(too_large(metadata.len()));
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    // Opening without blocking: a FIFO renamed over the path after the check above must not
    // hang the reader (O_NONBLOCK; it changes nothing for a regular file).
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(0o4000);
    }
    let file = options.open(path).map_err(io("opening"))?;
    if !file.metadata().map_err(io("reading"))?.is_file() {
        return Err(not_regular());
    }
    let mut bytes = Vec::new();
    file.take(MAX_POLICY_BYTES + 1).read_to_end(&mut bytes).map_err(io("reading"))?;
    if bytes.len() as u64 > MAX_POLICY_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

/// What is known about a loaded policy version.
#[derive(Clone, Debug)]
pub struct PolicyInfo {
    /// The name the policy gives itself.
    pub name: String,
    /// `sha256:` and the hex digest of the module's bytes.
    pub hash: String,
    /// When this version was loaded.
    pub loaded_at: DateTime<Utc>,
    /// Where it came from: `builtin`, a file path, or `native:…` for policies written in Rust.
    pub source: String,
}

/// A policy version ready to answer, with what is known about it.
pub struct LoadedPolicy {
    /// The policy.
    pub policy: Box<dyn Policy>,
    /// Its description.
    pub info: PolicyInfo,
    /// The module it was compiled from (none for policies written in Rust).
    pub module: Option<Arc<[u8]>>,
    /// What it answered, by principal, for their next requests.
    pub memo: super::memo::Memo,
}

impl LoadedPolicy {
    /// Compiles a policy module from bytes.
    pub fn from_wasm(bytes: &[u8], source: impl Into<String>) -> Result<Self, Error> {
        let policy = WasmPolicy::compile(bytes)?;
        Ok(Self {
            info: PolicyInfo {
                name: policy.name().to_owned(),
                hash: content_hash(bytes),
                loaded_at: Utc::now(),
                source: source.into(),
            },
            policy: Box::new(policy),
            module: Some(bytes.into()),
            memo: Default::default(),
        })
    }

    /// The built-in default policy.
    pub fn builtin() -> Result<Self, Error> {
        Self::from_wasm(BUILTIN_POLICY, "builtin")
    }

    /// Compiles the policy module in a file.
    pub fn from_file(path: &Path) -> Result<Self, Error> {
        let bytes = read_policy_file(path)?;
        Self::from_wasm(&bytes, path.display().to_string()).map_err(|error| match error {
            Error::InvalidPolicy(reason) => {
                Error::InvalidPolicy(format!("{}: {reason}", path.display()))
            }
            other => other,
        })
    }

    /// A policy written in Rust, under a name (`native:…`).
    pub fn native(policy: impl Policy + 'static, name: &str) -> Self {
        Self {
            policy: Box::new(policy),
            info: PolicyInfo {
                name: name.to_owned(),
                hash: format!("native:{name}"),
                loaded_at: Utc::now(),
                source: format!("native:{name}"),
            },
            module: None,
            memo: Default::default(),
        }
    }

    /// A policy that allows everything: the baseline of the benchmark.
    pub fn allow_all() -> Self {
        Self::native(AllowAll, "allow-all")
    }
}

/// The policy in force.
pub struct ActivePolicy {
    current: ArcSwap<LoadedPolicy>,
}

impl ActivePolicy {
    /// Starts with `policy` in force.
    pub fn new(policy: LoadedPolicy) -> Self {
        Self { current: ArcSwap::from_pointee(policy) }
    }

    /// The version in force now; hold it for the whole request.
    pub fn current(&self) -> Arc<LoadedPolicy> {
        self.current.load_full()
    }

    /// Puts `policy` in force for every request that starts from now on.
    pub fn replace(&self, policy: LoadedPolicy) {
        self.replace_shared(Arc::new(policy));
    }

    /// Puts an already shared `policy` in force (a version compiled before, kept for reuse).
    pub fn replace_shared(&self, policy: Arc<LoadedPolicy>) {
        tracing::info!(
            name = %policy.info.name,
            hash = %policy.info.hash,
            source = %policy.info.source,
            "policy in force"
        );
        self.current.store(policy);
        crate::metrics::policy_swapped();
    }
}
