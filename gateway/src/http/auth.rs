//! Authentication: bearer JWTs, and which team a request acts in.
//!
//! Tokens are HS256 with a shared secret by default, or RS256 verified with a public key.
//! The subject is the user's id; an optional `team` claim, overridden by the
//! `X-Fieldguard-Team` header, chooses the acting team.

use std::path::Path;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// The header that chooses the acting team.
pub const TEAM_HEADER: &str = "x-fieldguard-team";

/// What a token says.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// The user's id.
    pub sub: String,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
    /// Issued at, seconds since the epoch.
    #[serde(default)]
    pub iat: u64,
    /// The team to act in when the request names none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<i32>,
}

/// Who a valid token names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The user's id.
    pub user: i32,
    /// The team the token asks to act in.
    pub team: Option<i32>,
}

/// Verifies tokens (and, with a shared secret, mints them).
pub struct Authenticator {
    decoding: DecodingKey,
    encoding: Option<EncodingKey>,
    validation: Validation,
}

impl Authenticator {
    /// HS256 with a shared secret.
    pub fn hs256(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        Self {
            decoding: DecodingKey::from_secret(secret),
            encoding: Some(EncodingKey::from_secret(secret)),
            validation,
        }
    }

    /// RS256, verified with a PEM public key. Such an authenticator cannot mint tokens.
    pub fn rs256(public_key_pem: &[u8]) -> Result<Self, Error> {
        let decoding = DecodingKey::from_rsa_pem(public_key_pem).map_err(|e| {
            Error::Config(format!("the RS256 public key is not a PEM RSA key: {e}"))
        })?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = 5;
        Ok(Self { decoding, encoding: None, validation })
    }

    /// Checks a bearer token and says whom it names.
    pub fn verify(&self, token: &str) -> Result<Identity, Error> {
        let data = decode::<Claims>(token, &self.decoding, &self.validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            Error::Unauthenticated(match e.kind() {
                ErrorKind::ExpiredSignature => "the token has expired".into(),
                ErrorKind::InvalidSignature => "the token's signature is not valid".into(),
                _ => format!("the token is malformed: {e}"),
            })
        })?;
        let user =
            data.claims.sub.parse::<i32>().map_err(|_| {
                Error::Unauthenticated("the token's subject is not a user id".into())
            })?;
        Ok(Identity { user, team: data.claims.team })
    }

    /// Mints a token for `user`, valid for `ttl_seconds`.
    pub fn mint(&self, user: i32, team: Option<i32>, ttl_seconds: u64) -> Result<String, Error> {
        let now = chrono::Utc::now().timestamp().max(0) as u64;
        self.sign(&Claims { sub: user.to_string(), exp: now + ttl_seconds, iat: now, team })
    }

    /// Signs claims as they are (HS256 only).
    pub fn sign(&self, claims: &Claims) -> Result<String, Error> {
        let encoding = self.encoding.as_ref().ok_or_else(|| {
            Error::Config("tokens can be signed only with a shared secret (HS256)".into())
        })?;
        encode(&Header::new(Algorithm::HS256), claims, encoding)
            .map_err(|e| Error::Config(format!("cannot sign a token: {e}")))
    }
}

/// The platform operator's credential: a bearer token configured on the server
/// (`--operator-token`), never a team member's JWT. Only its digest is kept.
pub struct OperatorToken([u8; 32]);

/// The shortest operator token accepted.
pub const MIN_OPERATOR_TOKEN: usize = 24;

impl OperatorToken {
    /// The operator credential `token`, if long enough to resist guessing.
    pub fn new(token: &str) -> Result<Self, Error> {
        if token.trim().len() < MIN_OPERATOR_TOKEN {
            return Err(Error::Config(format!(
                "the operator token must be at least {MIN_OPERATOR_TOKEN} characters"
            )));
        }
        Ok(Self(Self::digest(token.trim())))
    }

    fn digest(token: &str) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        Sha256::digest(token.as_bytes()).into()
    }

    /// Whether `presented` is the operator token. Digests are compared, so the time taken
    /// says nothing about the token itself.
    pub fn matches(&self, presented: &str) -> bool {
        Self::digest(presented.trim()) == self.0
    }
}

/// The bearer token of an `Authorization` header value, if it is one.
pub fn bearer(value: &str) -> Option<&str> {
    value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")).map(str::trim)
}

/// The signing secret kept in the data directory, created on first use.
pub fn stored_secret(data_dir: &Path) -> Result<(Vec<u8>, bool), Error> {
    let (secret, generated) = crate::store::secrets::kept_secret(data_dir, "jwt-secret")?;
    Ok((secret.into_bytes(), generated))
}
