//! Authentication: bearer JWTs, and which team a request acts in.
//!
//! Tokens are HS256 with a shared secret by default, or RS256, ES256 or EdDSA verified with a
//! public key (its kind chooses the algorithm), or with the key an identity provider's JSON
//! Web Key Set holds under the token's `kid` ([`super::jwks`]). `exp` and `nbf` are checked with a small
//! leeway, the issuer and the audience when they are configured (whatever the algorithm), and
//! a token whose header lists a critical extension is refused: this server knows none. The
//! subject is the user's id; an optional `team` claim, overridden by the `X-Fieldguard-Team`
//! header, chooses the acting team.

use std::path::Path;
use std::sync::Arc;

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
    /// Who issued the token, when the server expects an issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Whom the token is meant for, when the server expects an audience.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// The database the token was minted for (its instance id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db: Option<String>,
}

/// How far clocks may disagree when `exp` and `nbf` are checked, in seconds.
pub const LEEWAY_SECONDS: u64 = 30;

/// Who a valid token names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The user.
    pub user: Subject,
    /// The team the token asks to act in.
    pub team: Option<i32>,
}

/// How a token names its user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subject {
    /// By Fieldguard's user id (`sub`, the default).
    Id(i32),
    /// By email, lower-cased: the value of the configured user claim (`--jwt-user-claim`).
    Email(String),
}

/// The claims read from a presented token (`exp`, `nbf`, `iss` and `aud` are checked by the
/// validation itself).
#[derive(Deserialize)]
struct Presented {
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    team: Option<i32>,
    #[serde(default)]
    db: Option<String>,
    #[serde(flatten)]
    other: serde_json::Map<String, serde_json::Value>,
}

/// Verifies tokens (and, with a shared secret, mints them).
pub struct Authenticator {
    keys: Keys,
    encoding: Option<EncodingKey>,
    validation: Validation,
    issuer: Option<String>,
    audience: Option<String>,
    user_claim: Option<String>,
    database: Option<String>,
}

/// What verifies a token's signature.
enum Keys {
    /// One key, of the validation's algorithm.
    Fixed(DecodingKey),
    /// The key of an identity provider's set named by the token's `kid`.
    Set(Arc<super::jwks::KeySet>),
}

/// The checks every algorithm gets.
fn validation(algorithm: Algorithm) -> Validation {
    let mut validation = Validation::new(algorithm);
    validation.leeway = LEEWAY_SECONDS;
    validation.validate_nbf = true;
    // Checked only when an audience is configured (`expecting`).
    validation.validate_aud = false;
    validation
}

impl Authenticator {
    /// HS256 with a shared secret.
    pub fn hs256(secret: &[u8]) -> Self {
        Self {
            keys: Keys::Fixed(DecodingKey::from_secret(secret)),
            encoding: Some(EncodingKey::from_secret(secret)),
            validation: validation(Algorithm::HS256),
            issuer: None,
            audience: None,
            user_claim: None,
            database: None,
        }
    }

    /// RS256, verified with a PEM public key. Such an authenticator cannot mint tokens.
    pub fn rs256(public_key_pem: &[u8]) -> Result<Self, Error> {
        let decoding = DecodingKey::from_rsa_pem(public_key_pem).map_err(|e| {
            Error::Config(format!("the RS256 public key is not a PEM RSA key: {e}"))
        })?;
        Ok(Self::verifying(decoding, Algorithm::RS256))
    }

    /// Verifies with a PEM public key, the algorithm chosen by its kind: RS256 for RSA, ES256
    /// for P-256, EdDSA for Ed25519. Such an authenticator cannot mint tokens.
    pub fn public_key(pem: &[u8]) -> Result<Self, Error> {
        if let Ok(key) = DecodingKey::from_rsa_pem(pem) {
            return Ok(Self::verifying(key, Algorithm::RS256));
        }
        if let Ok(key) = DecodingKey::from_ec_pem(pem) {
            return Ok(Self::verifying(key, Algorithm::ES256));
        }
        if let Ok(key) = DecodingKey::from_ed_pem(pem) {
            return Ok(Self::verifying(key, Algorithm::EdDSA));
        }
        Err(Error::Config(
            "the JWT public key is not a PEM RSA, P-256 or Ed25519 public key".into(),
        ))
    }

    /// Verifies with the keys of an identity provider's JSON Web Key Set, each key by its own
    /// algorithm. Such an authenticator cannot mint tokens.
    pub fn jwks(set: super::jwks::KeySet) -> Self {
        let mut authenticator = Self::verifying(DecodingKey::from_secret(&[]), Algorithm::RS256);
        authenticator.keys = Keys::Set(Arc::new(set));
        authenticator
    }

    /// Loads the identity provider's key set, if this authenticator uses one, and says how
    /// many keys it holds. A file that does not load is an error; a URL that does not answer
    /// is logged, and tried again as tokens come (the provider may be down for a moment).
    pub async fn load_keys(&self) -> Result<Option<usize>, Error> {
        match &self.keys {
            Keys::Fixed(_) => Ok(None),
            Keys::Set(set) => match set.refresh().await {
                Ok(keys) => Ok(Some(keys)),
                Err(error) if set.is_remote() => {
                    tracing::warn!(%error, "tokens are refused until the identity provider's keys load");
                    Ok(Some(0))
                }
                Err(error) => Err(error),
            },
        }
    }

    fn verifying(decoding: DecodingKey, algorithm: Algorithm) -> Self {
        Self {
            keys: Keys::Fixed(decoding),
            encoding: None,
            validation: validation(algorithm),
            issuer: None,
            audience: None,
            user_claim: None,
            database: None,
        }
    }

    /// The same verifier, requiring this issuer (`iss`) and audience (`aud`) when given;
    /// minted tokens carry them.
    #[must_use]
    pub fn expecting(mut self, issuer: Option<&str>, audience: Option<&str>) -> Self {
        if let Some(issuer) = issuer {
            self.validation.set_issuer(&[issuer]);
            self.validation.required_spec_claims.insert("iss".into());
            self.issuer = Some(issuer.to_owned());
        }
        if let Some(audience) = audience {
            self.validation.set_audience(&[audience]);
            self.validation.validate_aud = true;
            self.validation.required_spec_claims.insert("aud".into());
            self.audience = Some(audience.to_owned());
        }
        self
    }

    /// The same verifier, finding the user by the email in `claim` (e.g. `email`) instead of
    /// by the user id in `sub`; `sub` itself keeps the default.
    #[must_use]
    pub fn identifying_by(mut self, claim: Option<&str>) -> Self {
        self.user_claim =
            claim.map(str::trim).filter(|c| !c.is_empty() && *c != "sub").map(str::to_owned);
        self
    }

    /// The same verifier, bound to the database with this instance id: the tokens it mints
    /// name the database, and a token that names another one is refused (a database deleted
    /// and created again does not revive the old tokens).
    #[must_use]
    pub fn bound_to(mut self, database: String) -> Self {
        self.database = Some(database);
        self
    }

    /// Checks a bearer token and says whom it names, first fetching the identity provider's
    /// key set again when it is stale or lacks the token's key (rotated keys).
    pub async fn verify_fresh(&self, token: &str) -> Result<Identity, Error> {
        if let Keys::Set(set) = &self.keys {
            let kid = jsonwebtoken::decode_header(token).ok().and_then(|header| header.kid);
            if set.wants_refresh(kid.as_deref())
                && let Err(error) = set.refresh().await
            {
                tracing::warn!(%error, "could not refresh the identity provider's keys");
            }
        }
        self.verify(token)
    }

    /// Checks a bearer token with the keys held now and says whom it names.
    pub fn verify(&self, token: &str) -> Result<Identity, Error> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| Error::Unauthenticated(format!("the token is malformed: {e}")))?;
        if let Some(critical) = header.crit.filter(|c| !c.is_empty()) {
            return Err(Error::Unauthenticated(format!(
                "the token requires extensions this server does not know (crit: {})",
                critical.join(", ")
            )));
        }
        let from_set;
        let (decoding, validation) = match &self.keys {
            Keys::Fixed(key) => (key, std::borrow::Cow::Borrowed(&self.validation)),
            Keys::Set(set) => {
                from_set = set.key(header.kid.as_deref()).ok_or_else(|| {
                    Error::Unauthenticated(match &header.kid {
                        Some(kid) => {
                            format!(
                                "the token's key `{kid}` is not in the identity provider's key set"
                            )
                        }
                        None => "the token names no key (`kid`), and the identity provider's \
                                 key set holds several"
                            .into(),
                    })
                })?;
                let mut validation = self.validation.clone();
                validation.algorithms = vec![from_set.algorithm];
                (&from_set.decoding, std::borrow::Cow::Owned(validation))
            }
        };
        let data = decode::<Presented>(token, decoding, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            Error::Unauthenticated(match e.kind() {
                ErrorKind::ExpiredSignature => "the token has expired".into(),
                ErrorKind::ImmatureSignature => "the token is not valid yet (nbf)".into(),
                ErrorKind::InvalidSignature => "the token's signature is not valid".into(),
                ErrorKind::InvalidAlgorithm => {
                    format!("the token is not signed with {:?}", validation.algorithms)
                }
                ErrorKind::InvalidIssuer => format!(
                    "the token's issuer is not {}",
                    self.issuer.as_deref().unwrap_or("the expected one")
                ),
                ErrorKind::InvalidAudience => format!(
                    "the token is not meant for {}",
                    self.audience.as_deref().unwrap_or("this API")
                ),
                ErrorKind::MissingRequiredClaim(claim) => {
                    format!("the token has no `{claim}` claim")
                }
                _ => format!("the token is malformed: {e}"),
            })
        })?;
        let claims = data.claims;
        if let (Some(issued_for), Some(this)) = (&claims.db, &self.database)
            && issued_for != this
        {
            return Err(Error::Unauthenticated(
                "the token was issued for another database (this one was created anew); \
                 get a new token"
                    .into(),
            ));
        }
        let user = match &self.user_claim {
            Some(claim) => {
                let email = claims.other.get(claim).and_then(|v| v.as_str()).ok_or_else(|| {
                    Error::Unauthenticated(format!(
                        "the token has no `{claim}` claim naming the user"
                    ))
                })?;
                Subject::Email(email.trim().to_lowercase())
            }
            None => Subject::Id(claims.sub.as_deref().and_then(|s| s.parse().ok()).ok_or_else(
                || Error::Unauthenticated("the token's subject is not a user id".into()),
            )?),
        };
        Ok(Identity { user, team: claims.team })
    }

    /// Mints a token for `user`, valid for `ttl_seconds`.
    pub fn mint(&self, user: i32, team: Option<i32>, ttl_seconds: u64) -> Result<String, Error> {
        let now = chrono::Utc::now().timestamp().max(0) as u64;
        self.sign(&Claims {
            sub: user.to_string(),
            exp: now + ttl_seconds,
            iat: now,
            team,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            db: self.database.clone(),
        })
    }

    /// Whether this verifier can mint tokens (it holds a shared secret).
    pub fn can_mint(&self) -> bool {
        self.encoding.is_some()
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

/// A bearer token configured on the server and shared with the one party it is for: the
/// platform operator (`--operator-token`) or the metrics scraper (`--metrics-token`); never
/// a team member's JWT. Only its digest is kept.
pub struct SharedToken([u8; 32]);

/// The shortest shared token accepted.
pub const MIN_SHARED_TOKEN: usize = 24;

impl SharedToken {
    /// The credential `token`, if long enough to resist guessing; `what` names it in the
    /// error (`"operator token"`).
    pub fn new(what: &str, token: &str) -> Result<Self, Error> {
        if token.trim().len() < MIN_SHARED_TOKEN {
            return Err(Error::Config(format!(
                "the {what} must be at least {MIN_SHARED_TOKEN} characters"
            )));
        }
        Ok(Self(Self::digest(token.trim())))
    }

    fn digest(token: &str) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        Sha256::digest(token.as_bytes()).into()
    }

    /// Whether `presented` is this token. Digests are compared, so the time taken says
    /// nothing about the token itself.
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn a_shared_token_is_long_and_matched_whole() -> Result<(), Error> {
        let short = SharedToken::new("metrics token", "too-short");
        assert!(matches!(short, Err(Error::Config(m)) if m.contains("metrics token")));
        let token = SharedToken::new("metrics token", "  a-token-of-at-least-24-characters  ")?;
        assert!(token.matches("a-token-of-at-least-24-characters"));
        assert!(!token.matches("a-token-of-at-least-24-character"));
        assert!(!token.matches(""));
        Ok(())
    }

    const SECRET: &[u8] = b"a-secret-of-at-least-16-bytes";

    fn now() -> u64 {
        chrono::Utc::now().timestamp().max(0) as u64
    }

    fn signed(header: &Header, claims: &Value, key: &EncodingKey) -> String {
        encode(header, claims, key).unwrap_or_default()
    }

    fn hs256(claims: Value) -> String {
        signed(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(SECRET))
    }

    fn refusal(auth: &Authenticator, token: &str) -> String {
        match auth.verify(token) {
            Ok(identity) => format!("accepted {identity:?}"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn nbf_ahead_and_unknown_critical_extensions_are_refused() {
        let auth = Authenticator::hs256(SECRET);
        let later = hs256(json!({ "sub": "1", "exp": now() + 7200, "nbf": now() + 3600 }));
        assert!(refusal(&auth, &later).contains("not valid yet"));
        let within_leeway = hs256(json!({ "sub": "1", "exp": now() + 60, "nbf": now() + 5 }));
        assert!(auth.verify(&within_leeway).is_ok());
        let mut header = Header::new(Algorithm::HS256);
        header.crit = Some(vec!["exp-extension".into()]);
        let critical = signed(
            &header,
            &json!({ "sub": "1", "exp": now() + 60 }),
            &EncodingKey::from_secret(SECRET),
        );
        assert!(refusal(&auth, &critical).contains("crit: exp-extension"));
    }

    #[test]
    fn issuer_and_audience_are_checked_when_configured_and_any_audience_passes_otherwise() {
        let claims = |iss: &str, aud: &str| {
            hs256(json!({ "sub": "7", "exp": now() + 60, "iss": iss, "aud": aud }))
        };
        let open = Authenticator::hs256(SECRET);
        assert!(open.verify(&claims("https://idp.example", "anything")).is_ok());
        let strict =
            Authenticator::hs256(SECRET).expecting(Some("https://idp.example"), Some("fieldguard"));
        assert_eq!(
            strict.verify(&claims("https://idp.example", "fieldguard")).ok(),
            Some(Identity { user: Subject::Id(7), team: None })
        );
        assert!(refusal(&strict, &claims("https://evil.example", "fieldguard")).contains("issuer"));
        assert!(refusal(&strict, &claims("https://idp.example", "other")).contains("not meant"));
        let bare = hs256(json!({ "sub": "7", "exp": now() + 60 }));
        assert!(refusal(&strict, &bare).contains("claim"));
        // What the server mints carries what it expects.
        let minted = strict.mint(7, None, 60).unwrap_or_default();
        assert!(strict.verify(&minted).is_ok());
    }

    #[test]
    fn a_configured_user_claim_names_the_user_by_email_in_any_case() {
        let auth = Authenticator::hs256(SECRET).identifying_by(Some("email"));
        let token = hs256(
            json!({ "sub": "idp|123", "exp": now() + 60, "email": " Dana.Developer@ACME.test " }),
        );
        assert_eq!(
            auth.verify(&token).ok().map(|i| i.user),
            Some(Subject::Email("dana.developer@acme.test".into()))
        );
        let without = hs256(json!({ "sub": "idp|123", "exp": now() + 60 }));
        assert!(refusal(&auth, &without).contains("no `email` claim"));
        // By default the subject is the user id, and an identity provider's subject is not.
        assert!(refusal(&Authenticator::hs256(SECRET), &token).contains("not a user id"));
    }

    #[test]
    fn a_token_minted_for_another_database_is_refused() {
        let old = Authenticator::hs256(SECRET).bound_to("first".into());
        let token = old.mint(4, None, 60).unwrap_or_default();
        assert!(old.verify(&token).is_ok());
        let recreated = Authenticator::hs256(SECRET).bound_to("second".into());
        assert!(refusal(&recreated, &token).contains("another database"));
        // A token that names no database (an identity provider's) is not bound.
        assert!(recreated.verify(&hs256(json!({ "sub": "4", "exp": now() + 60 }))).is_ok());
    }

    #[test]
    fn rs256_es256_and_eddsa_keys_choose_their_algorithm() {
        let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/");
        let read = |name: &str| std::fs::read(format!("{fixtures}{name}")).unwrap_or_default();
        let claims = json!({ "sub": "3", "exp": now() + 60 });
        for (kind, algorithm, private) in [
            ("rs256", Algorithm::RS256, EncodingKey::from_rsa_pem(&read("rs256-test-private.pem"))),
            ("es256", Algorithm::ES256, EncodingKey::from_ec_pem(&read("es256-test-private.pem"))),
            ("eddsa", Algorithm::EdDSA, EncodingKey::from_ed_pem(&read("eddsa-test-private.pem"))),
        ] {
            let Ok(private) = private else { panic!("the {kind} private key does not load") };
            let verifier = Authenticator::public_key(&read(&format!("{kind}-test-public.pem")));
            let Ok(verifier) = verifier else { panic!("the {kind} public key does not load") };
            let token = signed(&Header::new(algorithm), &claims, &private);
            assert_eq!(
                verifier.verify(&token).ok().map(|i| i.user),
                Some(Subject::Id(3)),
                "{kind}"
            );
            // A token signed with the shared-secret algorithm is refused by a key verifier.
            assert!(verifier.verify(&hs256(claims.clone())).is_err(), "{kind} took HS256");
        }
        assert!(Authenticator::public_key(b"not a key").is_err());
    }
}
