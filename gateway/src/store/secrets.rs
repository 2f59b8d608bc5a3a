//! Secrets at rest: sealed RDP passwords, hashed registration tokens, and the keys kept in
//! the data directory.
//!
//! Secrets are write-only (domain §4): a sealed password is opened by nobody on a request path,
//! and a registration token is shown once and stored only as its SHA-256 hash. Sealing uses
//! XChaCha20-Poly1305 (RustCrypto's `chacha20poly1305`, an audited AEAD), with a random nonce per
//! value, so a database dump reveals neither the passwords nor whether two are equal.

use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use crate::authz::active::content_hash;

use crate::error::Error;

/// The file, in the data directory, that holds the sealing key when none is configured.
pub const SEALING_KEY_FILE: &str = "sealing-key";

/// What a sealed value starts with: the scheme, so that a later key or cipher can be told apart.
const SEALED_PREFIX: &str = "xc20p1:";

/// Seals secrets with one key.
pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

impl Sealer {
    /// A sealer with a key given as 64 hexadecimal digits.
    pub fn from_hex(key: &str) -> Result<Self, Error> {
        let bytes = hex_decode(key.trim())
            .filter(|bytes| bytes.len() == 32)
            .ok_or_else(|| Error::Config("the sealing key must be 64 hexadecimal digits".into()))?;
        let cipher = XChaCha20Poly1305::new_from_slice(&bytes)
            .map_err(|_| Error::Config("the sealing key must be 32 bytes".into()))?;
        Ok(Self { cipher })
    }

    /// The sealer of the key kept in `data_dir`, created on first use.
    pub fn stored(data_dir: &Path) -> Result<Self, Error> {
        let (key, _) = kept_secret(data_dir, SEALING_KEY_FILE)?;
        Self::from_hex(&key)
    }

    /// Seals a secret: what is stored in its place.
    pub fn seal(&self, secret: &str) -> Result<String, Error> {
        let nonce_bytes: [u8; 24] = rand::random();
        let sealed = self
            .cipher
            .encrypt(&XNonce::from(nonce_bytes), secret.as_bytes())
            .map_err(|_| Error::Config("a secret could not be sealed".into()))?;
        Ok(format!("{SEALED_PREFIX}{}{}", hex(&nonce_bytes), hex(&sealed)))
    }

    /// Opens a sealed secret; `None` if it was sealed with another key or is not sealed.
    pub fn open(&self, sealed: &str) -> Option<String> {
        let bytes = hex_decode(sealed.strip_prefix(SEALED_PREFIX)?)?;
        if bytes.len() < 24 {
            return None;
        }
        let (nonce, body) = bytes.split_at(24);
        let nonce: [u8; 24] = nonce.try_into().ok()?;
        let plain = self.cipher.decrypt(&XNonce::from(nonce), body).ok()?;
        String::from_utf8(plain).ok()
    }
}

/// A new registration token: what the runner presents, shown to its creator once.
pub fn new_registration_token() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("fgrt_{}", hex(&bytes))
}

/// How a registration token is stored: its SHA-256, written as policy hashes are.
pub fn token_hash(token: &str) -> String {
    content_hash(token.as_bytes())
}

/// A secret of 32 random bytes (as 64 hexadecimal digits) kept in `file` of `data_dir`, created
/// on first use, readable by its owner only; and whether it was created just now.
pub fn kept_secret(data_dir: &Path, file: &str) -> Result<(String, bool), Error> {
    let path = data_dir.join(file);
    let io = |what: &str| {
        let what = format!("{what} {}", path.display());
        move |cause| Error::Io { what, cause }
    };
    match std::fs::read_to_string(&path) {
        Ok(secret) if !secret.trim().is_empty() => return Ok((secret.trim().to_owned(), false)),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io("reading")(e)),
    }
    let bytes: [u8; 32] = rand::random();
    let secret = hex(&bytes);
    std::fs::create_dir_all(data_dir).map_err(io("creating the directory of"))?;
    // Written whole under a name of its own, then linked into place: a link never replaces a
    // file, so of two processes starting on a fresh directory one secret wins, and the other
    // reads it, complete.
    let draft = data_dir.join(format!(
        ".{file}.{}.{}",
        std::process::id(),
        hex(&rand::random::<[u8; 4]>())
    ));
    std::fs::write(&draft, &secret).map_err(io("writing"))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&draft, std::fs::Permissions::from_mode(0o600))
            .map_err(io("protecting"))?;
    }
    let linked = std::fs::hard_link(&draft, &path);
    let _ = std::fs::remove_file(&draft);
    match linked {
        Ok(()) => Ok((secret, true)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let kept = std::fs::read_to_string(&path).map_err(io("reading"))?;
            Ok((kept.trim().to_owned(), false))
        }
        Err(e) => Err(io("writing")(e)),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_decode(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer() -> Sealer {
        Sealer::from_hex(&"ab".repeat(32)).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_sealed_secret_opens_with_its_key_only_and_never_shows_in_the_stored_text() {
        let sealed = sealer().seal("hunter2-rdp").unwrap_or_else(|e| panic!("{e}"));
        assert!(!sealed.contains("hunter2"));
        assert_eq!(sealer().open(&sealed).as_deref(), Some("hunter2-rdp"));
        let other = Sealer::from_hex(&"cd".repeat(32)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(other.open(&sealed), None);
        assert_ne!(sealer().seal("hunter2-rdp").ok(), Some(sealed), "a fresh nonce per seal");
    }

    #[test]
    fn keys_must_be_32_bytes_of_hex() {
        assert!(Sealer::from_hex("abc").is_err());
        assert!(Sealer::from_hex(&"zz".repeat(32)).is_err());
        assert!(Sealer::from_hex(&"ab".repeat(31)).is_err());
    }

    #[test]
    fn tokens_are_random_and_stored_as_their_hash() {
        let (a, b) = (new_registration_token(), new_registration_token());
        assert_ne!(a, b);
        assert!(a.starts_with("fgrt_") && a.len() == 69);
        assert_eq!(token_hash(&a), token_hash(&a));
        assert!(!token_hash(&a).contains(&a[5..]));
    }
}
