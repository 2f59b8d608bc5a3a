//! Secrets are write-only (domain §4): an RDP password and a registration token, once set,
//! appear in no response, no log line, no audit entry and nowhere in the stored data; the
//! password is stored sealed (it opens with the server's key) and the token as its hash.

use fieldguard::store::entity::{bot_runner, registration_token};
use fieldguard::store::secrets::token_hash;
use super::TestServer;
use fieldguard_e2e::ensure;
use sea_orm::EntityTrait;

use super::management::ACME;

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle.as_bytes())
}

#[tokio::test]
async fn rdp_passwords_and_registration_tokens_never_come_back() -> anyhow::Result<()> {
    let logs = crate::logs::captured()?;

    let server = TestServer::start().await?;
    let password = "Pa55-never-shown-7c1e90";
    let mut replies = Vec::new();

    let reply = server
        .query(
            "dana.developer@acme.test",
            &format!(
                r#"mutation {{ setRdpCredentials(botRunnerId: "BotRunner:3", username: "svc-shared", password: "{password}") {{ rdpCredentialsSet rdpUsername }} }}"#
            ),
        )
        .await?;
    ensure(
        reply.data(&["setRdpCredentials", "rdpCredentialsSet"]) == true
            && reply.data(&["setRdpCredentials", "rdpUsername"]) == "svc-shared",
        "Dana sets the RDP credentials of a runner of her group",
        &reply,
    )?;
    replies.push(reply.body.to_string());

    let reply = server
        .query(
            "oli.orchadmin@acme.test",
            r#"mutation { createRegistrationToken(botRunnerId: "BotRunner:3") { token registrationToken { id used expiresAt } } }"#,
        )
        .await?;
    let token =
        reply.data(&["createRegistrationToken", "token"]).as_str().unwrap_or_default().to_owned();
    ensure(
        token.starts_with("fgrt_") && token.len() > 40,
        "Oli creates a token, shown once",
        &reply,
    )?;

    // Everything a member can read afterwards, including the audit log and its details.
    for who in ACME {
        let reply = server
            .query(
                who,
                r#"{ team { botRunners { nodes { machineName rdpCredentialsSet rdpUsername
                      registrationTokens { id createdAt expiresAt used } } }
                    auditLog { nodes { action target targetId details } } } }"#,
            )
            .await?;
        replies.push(reply.body.to_string());
    }
    let replies = replies.join("\n");
    anyhow::ensure!(
        replies.contains("bot_runner.rdp_configured"),
        "the audit log records the change"
    );
    anyhow::ensure!(replies.contains("svc-shared"), "the user name is readable");
    anyhow::ensure!(!replies.contains(password), "a response holds the password");
    anyhow::ensure!(!replies.contains(&token), "a response after its creation holds the token");

    let logs = logs.text();
    anyhow::ensure!(logs.contains("request"), "nothing was logged: {logs}");
    anyhow::ensure!(!logs.contains(password), "the logs hold the password");
    anyhow::ensure!(!logs.contains(&token), "the logs hold the token");

    let stored = server.stored_bytes().await?;
    anyhow::ensure!(!contains(&stored, password), "the stored data holds the password");
    anyhow::ensure!(!contains(&stored, &token), "the stored data holds the token");

    // Stored sealed (it opens with the server's key) and hashed.
    let runner = bot_runner::Entity::find_by_id(3).one(&server.state.db).await?;
    let sealed = runner.and_then(|r| r.rdp_secret).unwrap_or_default();
    anyhow::ensure!(
        server.state.sealer.open(&sealed).as_deref() == Some(password),
        "the stored password is not the sealed password"
    );
    let tokens = registration_token::Entity::find().all(&server.state.db).await?;
    anyhow::ensure!(
        tokens.iter().any(|t| t.token_hash == token_hash(&token)),
        "the token is not stored as its hash"
    );
    Ok(())
}
