//! Who may come in: status and membership are checked on every request (a change made in the
//! database by hand, outside any gateway, applies within two seconds, as one made through
//! another gateway does); RS256 tokens verify against a configured public key.

use fieldguard::authz::LoadedPolicy;
use fieldguard::http::auth::Authenticator;
use super::TestServer;
use fieldguard_e2e::ensure;
use sea_orm::ConnectionTrait;

const ME: &str = "{ me { email } }";

/// The first answer to `query` as `who` whose status is `status`, asked until two seconds
/// have passed.
async fn once_answered(
    server: &TestServer,
    who: &str,
    query: &str,
    status: u16,
) -> anyhow::Result<fieldguard_e2e::Reply> {
    let started = std::time::Instant::now();
    loop {
        let reply = server.query(who, query).await?;
        if reply.status == status || started.elapsed() > std::time::Duration::from_secs(2) {
            return Ok(reply);
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_user_locked_in_the_database_is_refused_within_two_seconds() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let reply = server.query("dana.developer@acme.test", ME).await?;
    ensure(reply.status == 200, "before", &reply)?;
    server
        .state
        .db
        .execute_unprepared(
            "UPDATE users SET status = 'LOCKED' WHERE email = 'dana.developer@acme.test'",
        )
        .await?;
    let reply = once_answered(&server, "dana.developer@acme.test", ME, 401).await?;
    ensure(reply.status == 401, "locked", &reply)?;
    ensure(
        reply.body["errors"][0]["message"].as_str().is_some_and(|m| m.contains("locked")),
        "says why",
        &reply,
    )
}

#[tokio::test]
async fn a_member_removed_in_the_database_is_refused_within_two_seconds_and_the_team_leaves_their_list()
-> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let casey = "casey.consultant@both.test";
    let reply = server.query(casey, "{ myTeams { name } }").await?;
    ensure(reply.data(&["myTeams"]).as_array().map(Vec::len) == Some(2), "two teams", &reply)?;
    server
        .state
        .db
        .execute_unprepared(
            "DELETE FROM memberships WHERE team_id = 1 AND user_id = (SELECT id FROM users WHERE email = 'casey.consultant@both.test')",
        )
        .await?;
    // Casey's token names Acme: refused there.
    let reply = once_answered(&server, casey, ME, 401).await?;
    ensure(reply.status == 401, "refused in the team they left", &reply)?;
    // Still a member of Globex, where Acme is gone from their list.
    let reply = server.query_in(casey, 2, "{ myTeams { name } }").await?;
    ensure(reply.data(&["myTeams"]).as_array().map(Vec::len) == Some(1), "one team left", &reply)?;
    ensure(reply.data(&["myTeams", "0", "name"]) == "Globex Services", "Globex", &reply)
}

#[tokio::test]
async fn rs256_tokens_verify_against_the_configured_public_key() -> anyhow::Result<()> {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let public = std::fs::read(fixtures.join("rs256-test-public.pem"))?;
    let private = std::fs::read(fixtures.join("rs256-test-private.pem"))?;
    let server = TestServer::start().await?;
    let rs256 = TestServer::beside_with_auth(
        &server,
        LoadedPolicy::builtin()?,
        Authenticator::rs256(&public)?,
    )
    .await?;

    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
    let claims = serde_json::json!({ "sub": "1", "exp": now + 600, "iat": now });
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(&private)?;
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        &key,
    )?;
    let body = r#"{"query":"{ me { email } }"}"#;
    let reply = rs256.post(&[("authorization", &format!("Bearer {token}"))], body).await?;
    ensure(reply.data(&["me", "email"]) == "olivia.owner@acme.test", "RS256 accepted", &reply)?;

    // An HS256 token is not accepted by an RS256 gateway, whatever it says.
    let hs256 = server.token("olivia.owner@acme.test")?;
    let reply = rs256.post(&[("authorization", &format!("Bearer {hs256}"))], body).await?;
    ensure(reply.status == 401, "HS256 refused by an RS256 gateway", &reply)
}
