//! The keys of an identity provider, from its JSON Web Key Set (`--jwt-jwks FILE|URL`).
//!
//! The set is fetched (or read) on first use and kept. It is fetched again when a token names
//! a key the set does not hold (the provider rotated its keys), at most once every
//! [`MIN_REFRESH`] however many unknown keys are presented, and when it is older than
//! [`MAX_AGE`]. A fetch that fails keeps the keys already held. Keys for encryption and
//! symmetric keys are left out; each key verifies the algorithm it names, or the one its type
//! and curve imply (RSA: RS256, P-256: ES256, P-384: ES384, Ed25519: EdDSA).

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};

use crate::error::Error;

/// The least time between two fetches of the set.
pub const MIN_REFRESH: Duration = Duration::from_secs(5);
/// How long a fetched set is used before it is fetched again.
pub const MAX_AGE: Duration = Duration::from_secs(300);
/// How long a fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest key set read.
const MAX_SET_BYTES: usize = 1 << 20;

/// One key of the set.
pub struct Key {
    /// Its id (`kid`), if it has one.
    pub kid: Option<String>,
    /// The algorithm it verifies.
    pub algorithm: Algorithm,
    /// The key.
    pub decoding: DecodingKey,
}

enum Source {
    File(PathBuf),
    Url(String),
}

#[derive(Default)]
struct Held {
    keys: Vec<Arc<Key>>,
    fetched: Option<Instant>,
}

/// A JSON Web Key Set, kept and refreshed.
pub struct KeySet {
    source: Source,
    held: RwLock<Held>,
    fetching: tokio::sync::Mutex<()>,
    min_refresh: Duration,
}

impl KeySet {
    /// The set at `location`: a URL (`http://`, `https://`) or a file. Nothing is read yet.
    pub fn new(location: &str) -> Self {
        let source = if location.starts_with("https://") || location.starts_with("http://") {
            Source::Url(location.to_owned())
        } else {
            Source::File(PathBuf::from(location))
        };
        Self {
            source,
            held: RwLock::default(),
            fetching: tokio::sync::Mutex::new(()),
            min_refresh: MIN_REFRESH,
        }
    }

    /// The same set, fetched again at most once every `interval` (tests rotate keys faster
    /// than [`MIN_REFRESH`]).
    #[must_use]
    pub fn refreshing_at_most_every(mut self, interval: Duration) -> Self {
        self.min_refresh = interval;
        self
    }

    /// Whether the set is fetched over HTTP (rather than read from a file).
    pub fn is_remote(&self) -> bool {
        matches!(self.source, Source::Url(_))
    }

    /// Where the set comes from, for messages.
    pub fn location(&self) -> String {
        match &self.source {
            Source::File(path) => path.display().to_string(),
            Source::Url(url) => url.clone(),
        }
    }

    /// The key a token names by `kid`; a token without one uses the set's only key.
    pub fn key(&self, kid: Option<&str>) -> Option<Arc<Key>> {
        let held = self.held.read().ok()?;
        match kid {
            Some(kid) => held.keys.iter().find(|key| key.kid.as_deref() == Some(kid)).cloned(),
            None if held.keys.len() == 1 => held.keys.first().cloned(),
            None => None,
        }
    }

    /// Whether the set should be fetched before a token naming `kid` is checked: it was
    /// never fetched, is older than [`MAX_AGE`], or lacks that key.
    pub fn wants_refresh(&self, kid: Option<&str>) -> bool {
        let stale = self
            .held
            .read()
            .map(|held| held.fetched.is_none_or(|at| at.elapsed() > MAX_AGE))
            .unwrap_or(true);
        stale || self.key(kid).is_none()
    }

    /// Fetches the set again, unless another caller just did (then its answer is used): at
    /// most once every [`MIN_REFRESH`]. On failure the keys held are kept. How many keys are
    /// held afterwards.
    pub async fn refresh(&self) -> Result<usize, Error> {
        let _turn = self.fetching.lock().await;
        let recent = self
            .held
            .read()
            .map(|held| held.fetched.is_some_and(|at| at.elapsed() < self.min_refresh))
            .unwrap_or(false);
        if recent {
            return Ok(self.held.read().map(|held| held.keys.len()).unwrap_or(0));
        }
        let fetched = self.fetch().await;
        let mut held = self.held.write().map_err(|_| self.unavailable("a lock was poisoned"))?;
        held.fetched = Some(Instant::now());
        let keys = fetched?;
        tracing::info!(keys = keys.len(), from = %self.location(), "identity provider keys loaded");
        held.keys = keys;
        Ok(held.keys.len())
    }

    fn unavailable(&self, why: &str) -> Error {
        Error::Config(format!("the JWKS at {}: {why}", self.location()))
    }

    async fn fetch(&self) -> Result<Vec<Arc<Key>>, Error> {
        let bytes = match &self.source {
            Source::File(path) => tokio::fs::read(path)
                .await
                .map_err(|e| self.unavailable(&format!("cannot be read: {e}")))?,
            Source::Url(url) => {
                let client = reqwest::Client::builder()
                    .timeout(FETCH_TIMEOUT)
                    .build()
                    .map_err(|e| self.unavailable(&e.to_string()))?;
                let response = client
                    .get(url)
                    .send()
                    .await
                    .and_then(reqwest::Response::error_for_status)
                    .map_err(|e| self.unavailable(&format!("cannot be fetched: {e}")))?;
                if response.content_length().is_some_and(|n| n > MAX_SET_BYTES as u64) {
                    return Err(self.unavailable("is larger than 1 MiB"));
                }
                response
                    .bytes()
                    .await
                    .map_err(|e| self.unavailable(&format!("cannot be fetched: {e}")))?
                    .to_vec()
            }
        };
        if bytes.len() > MAX_SET_BYTES {
            return Err(self.unavailable("is larger than 1 MiB"));
        }
        parse(&bytes).map_err(|why| self.unavailable(&why))
    }
}

/// The usable keys of a key set's JSON; a key that cannot be used is left out and logged.
fn parse(bytes: &[u8]) -> Result<Vec<Arc<Key>>, String> {
    #[derive(serde::Deserialize)]
    struct Set {
        keys: Vec<serde_json::Value>,
    }
    let set: Set =
        serde_json::from_slice(bytes).map_err(|e| format!("is not a JSON Web Key Set: {e}"))?;
    let mut keys = Vec::new();
    for value in set.keys {
        match usable(value) {
            Ok(key) => keys.push(Arc::new(key)),
            Err(why) => tracing::warn!(why, "a key of the identity provider's set is left out"),
        }
    }
    Ok(keys)
}

fn usable(value: serde_json::Value) -> Result<Key, String> {
    let jwk: Jwk = serde_json::from_value(value).map_err(|e| format!("not a key: {e}"))?;
    let kid = jwk.common.key_id.clone();
    let named = kid.as_deref().unwrap_or("(no kid)");
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return Err(format!("{named} is for encryption"));
    }
    let implied = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Some(Algorithm::RS256),
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => Some(Algorithm::ES256),
            EllipticCurve::P384 => Some(Algorithm::ES384),
            _ => None,
        },
        AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => {
            Some(Algorithm::EdDSA)
        }
        AlgorithmParameters::OctetKey(_) => {
            return Err(format!("{named} is a shared secret, not a public key"));
        }
        _ => None,
    };
    let algorithm = match jwk.common.key_algorithm {
        Some(named_algorithm) => Algorithm::try_from(named_algorithm)
            .map_err(|_| format!("{named}: the algorithm {named_algorithm} does not sign"))?,
        None => implied.ok_or_else(|| format!("{named}: a key type this server does not use"))?,
    };
    if matches!(algorithm, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) {
        return Err(format!("{named} names a shared-secret algorithm"));
    }
    let decoding = DecodingKey::from_jwk(&jwk).map_err(|e| format!("{named}: {e}"))?;
    Ok(Key { kid, algorithm, decoding })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        format!("{}/../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
    }

    #[tokio::test]
    async fn a_set_from_a_file_gives_each_key_its_algorithm() {
        for (file, kid, algorithm) in [
            ("jwks-rs256.json", "rs256-test", Algorithm::RS256),
            ("jwks-es256.json", "es256-test", Algorithm::ES256),
            ("jwks-eddsa.json", "eddsa-test", Algorithm::EdDSA),
        ] {
            let set = KeySet::new(&fixture(file));
            assert!(set.wants_refresh(Some(kid)), "{file}: nothing is held before a fetch");
            assert_eq!(set.refresh().await.ok(), Some(1), "{file}");
            assert_eq!(set.key(Some(kid)).map(|key| key.algorithm), Some(algorithm), "{file}");
            assert!(set.key(None).is_some(), "{file}: a token without kid uses the only key");
            assert!(set.key(Some("another")).is_none(), "{file}");
            assert!(!set.wants_refresh(Some(kid)), "{file}: a fresh set with the key");
        }
    }

    #[test]
    fn keys_for_encryption_shared_secrets_and_garbage_are_left_out() {
        let set = serde_json::json!({ "keys": [
            { "kty": "oct", "kid": "secret", "k": "c2VjcmV0" },
            { "kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB" },
            { "kty": "XYZ", "kid": "unknown" },
            "not a key",
        ]});
        let keys = parse(set.to_string().as_bytes());
        assert_eq!(keys.map(|keys| keys.len()), Ok(0));
        assert!(parse(b"{}").is_err());
    }

    #[tokio::test]
    async fn a_failed_fetch_keeps_the_keys_held() {
        let dir = std::env::temp_dir().join(format!("fieldguard-jwks-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let file = dir.join("jwks.json");
        let _ = std::fs::copy(fixture("jwks-es256.json"), &file);
        let set = KeySet::new(&file.display().to_string()).refreshing_at_most_every(Duration::ZERO);
        assert_eq!(set.refresh().await.ok(), Some(1));
        let _ = std::fs::write(&file, b"garbage");
        assert!(set.refresh().await.is_err());
        assert!(set.key(Some("es256-test")).is_some(), "the held key was dropped");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
