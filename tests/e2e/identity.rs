//! Tokens verified with an identity provider's JSON Web Key Set, served over HTTP by a local
//! stand-in for the provider that rotates its keys.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fieldguard::authz::LoadedPolicy;
use fieldguard::http::auth::Authenticator;
use fieldguard::http::jwks::KeySet;
use fieldguard_e2e::ensure;
use jsonwebtoken::{Algorithm, EncodingKey, Header};

use crate::TestServer;

/// The stand-in provider: serves whichever key set it holds now, and counts the fetches.
struct Provider {
    set: Mutex<String>,
    fetches: AtomicUsize,
}

async fn serve_provider(provider: Arc<Provider>) -> anyhow::Result<String> {
    use axum::routing::get;
    let app = axum::Router::new().route(
        "/.well-known/jwks.json",
        get(move || {
            let provider = provider.clone();
            async move {
                provider.fetches.fetch_add(1, Ordering::Relaxed);
                provider.set.lock().map(|set| set.clone()).unwrap_or_default()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(format!("http://{address}/.well-known/jwks.json"))
}

fn fixture(name: &str) -> anyhow::Result<Vec<u8>> {
    Ok(std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name))?)
}

/// A token for user 1 (the demo team's owner), signed with `key` and naming `kid`.
fn token(algorithm: Algorithm, kid: &str, key: &EncodingKey) -> anyhow::Result<String> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
    let mut header = Header::new(algorithm);
    header.kid = Some(kid.to_owned());
    let claims = serde_json::json!({ "sub": "1", "exp": now + 600, "iat": now });
    Ok(jsonwebtoken::encode(&header, &claims, key)?)
}

#[tokio::test]
async fn keys_come_from_the_providers_set_and_a_rotated_key_is_fetched_when_first_seen()
-> anyhow::Result<()> {
    let provider = Arc::new(Provider {
        set: Mutex::new(String::from_utf8(fixture("jwks-rs256.json")?)?),
        fetches: AtomicUsize::new(0),
    });
    let url = serve_provider(provider.clone()).await?;
    let server = TestServer::start().await?;
    let interval = Duration::from_millis(500);
    let keys = KeySet::new(&url).refreshing_at_most_every(interval);
    let idp = server.beside_with_auth(LoadedPolicy::builtin()?, Authenticator::jwks(keys)).await?;
    let rs256 = EncodingKey::from_rsa_pem(&fixture("rs256-test-private.pem")?)?;
    let es256 = EncodingKey::from_ec_pem(&fixture("es256-test-private.pem")?)?;
    let body = r#"{"query":"{ me { email } }"}"#;
    let ask = |token: String| {
        let idp = &idp;
        async move { idp.post(&[("authorization", &format!("Bearer {token}"))], body).await }
    };

    let reply = ask(token(Algorithm::RS256, "rs256-test", &rs256)?).await?;
    ensure(reply.data(&["me", "email"]) == "olivia.owner@acme.test", "the RS256 key", &reply)?;
    let reply = ask(token(Algorithm::RS256, "rs256-test", &rs256)?).await?;
    ensure(reply.status == 200, "the RS256 key again", &reply)?;
    anyhow::ensure!(provider.fetches.load(Ordering::Relaxed) == 1, "the set was not kept");

    // Keys the set does not hold are refused; asking for them again and again fetches the
    // set at most once per refresh interval.
    let before = provider.fetches.load(Ordering::Relaxed);
    let started = std::time::Instant::now();
    for attempt in 0..20 {
        let reply = ask(token(Algorithm::RS256, &format!("made-up-{attempt}"), &rs256)?).await?;
        ensure(reply.status == 401, "an unknown key", &reply)?;
    }
    let fetched = provider.fetches.load(Ordering::Relaxed) - before;
    let allowed = 1 + (started.elapsed().as_millis() / interval.as_millis()) as usize;
    anyhow::ensure!(
        fetched <= allowed,
        "20 unknown keys in {:?} fetched the set {fetched} times",
        started.elapsed()
    );

    // The provider rotates to an ES256 key: the first token signed with it fetches the set
    // again, and the retired key is refused from then on.
    *provider.set.lock().map_err(|_| anyhow::anyhow!("poisoned"))? =
        String::from_utf8(fixture("jwks-es256.json")?)?;
    tokio::time::sleep(interval).await;
    let reply = ask(token(Algorithm::ES256, "es256-test", &es256)?).await?;
    ensure(reply.data(&["me", "email"]) == "olivia.owner@acme.test", "the rotated key", &reply)?;
    let reply = ask(token(Algorithm::RS256, "rs256-test", &rs256)?).await?;
    ensure(
        reply.status == 401 && reply.first_code().as_deref() == Some("UNAUTHENTICATED"),
        "the retired key",
        &reply,
    )?;
    // A token naming the set's key but signed with another algorithm and key is refused.
    let forged = token(Algorithm::RS256, "es256-test", &rs256)?;
    let reply = ask(forged).await?;
    ensure(reply.status == 401, "an RS256 token naming the ES256 key", &reply)
}
