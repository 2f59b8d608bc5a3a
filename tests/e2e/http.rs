//! The HTTP edge: authentication, malformed requests, health, GraphiQL.

use fieldguard::http::auth::{Authenticator, Claims};
use super::TestServer;
use fieldguard_e2e::ensure;

fn chrono_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[tokio::test]
async fn missing_malformed_and_wrongly_signed_tokens_get_401() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let body = r#"{"query":"{ me { email } }"}"#;
    let other_secret = Authenticator::hs256(b"some-other-secret-entirely").mint(1, None, 60)?;
    let now = chrono_now();
    let expired = Authenticator::hs256(fieldguard_e2e::SECRET.as_bytes()).sign(&Claims {
        sub: "1".into(),
        exp: now - 60,
        iat: now - 120,
        team: None,
        iss: None,
        aud: None,
        db: None,
    })?;
    let cases = [
        None,
        Some("Basic abc".to_owned()),
        Some("Bearer not.a.jwt".to_owned()),
        Some(format!("Bearer {other_secret}")),
        Some(format!("Bearer {expired}")),
    ];
    for authorization in &cases {
        let headers: Vec<(&str, &str)> =
            authorization.iter().map(|v| ("authorization", v.as_str())).collect();
        let reply = server.post(&headers, body).await?;
        ensure(reply.status == 401, &format!("401 for {authorization:?}"), &reply)?;
        ensure(reply.body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", "code", &reply)?;
        ensure(reply.body["data"].is_null(), "no data", &reply)?;
    }
    Ok(())
}

#[tokio::test]
async fn a_team_the_user_is_not_in_is_refused() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let reply = server.query_in("olivia.owner@acme.test", 2, "{ me { email } }").await?;
    ensure(reply.status == 401, "not a member of Globex", &reply)?;
    let reply = server
        .query_in("casey.consultant@both.test", 2, "{ team { name } myTeams { name acting } }")
        .await?;
    ensure(reply.data(&["team", "name"]) == "Globex Services", "casey acts in Globex", &reply)?;
    ensure(
        reply.data(&["myTeams"]).as_array().map(Vec::len) == Some(2),
        "casey has two teams",
        &reply,
    )
}

/// A document that does not parse or validate is the caller's error, `INVALID_INPUT`, and is
/// never executed (no `data`): 400 for a client of the GraphQL-over-HTTP media type, 200 for
/// one that asks for `application/json` (as the specification has it). A body that is not a
/// GraphQL request at all is 400 for both.
#[tokio::test]
async fn malformed_graphql_is_invalid_input_and_never_executed() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let token = format!("Bearer {}", server.token("olivia.owner@acme.test")?);
    for (accept, status) in [("application/graphql-response+json", 400), ("application/json", 200)]
    {
        for body in [r#"{"query":"{ me { email "}"#, r#"{"query":"{ me { nope } }"}"#] {
            let reply = server.post(&[("authorization", &token), ("accept", accept)], body).await?;
            ensure(
                reply.status == status && reply.body.get("data").is_none(),
                &format!("{status} without data for {body} accepting {accept}"),
                &reply,
            )?;
            ensure(reply.first_code().as_deref() == Some("INVALID_INPUT"), "code", &reply)?;
        }
        for body in [r#"{"query":"#, "not json"] {
            let reply = server.post(&[("authorization", &token), ("accept", accept)], body).await?;
            ensure(reply.status == 400, &format!("400 for {body}"), &reply)?;
            ensure(reply.first_code().as_deref() == Some("INVALID_INPUT"), "code", &reply)?;
        }
    }
    Ok(())
}

#[tokio::test]
async fn unknown_ids_are_null_without_error() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let reply = server
        .query(
            "olivia.owner@acme.test",
            r#"{ workflow(id: "99999") { name } other: process(id: "not-an-id") { name } }"#,
        )
        .await?;
    ensure(reply.status == 200 && reply.errors().is_empty(), "no errors", &reply)?;
    ensure(reply.data(&["workflow"]).is_null() && reply.data(&["other"]).is_null(), "nulls", &reply)
}

#[tokio::test]
async fn health_and_graphiql_are_served() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (status, _, body) = server.get("/healthz").await?;
    anyhow::ensure!(
        status == 200 && body.contains("\"ok\"") && body.contains("sha256:"),
        "healthz: {body}"
    );
    let (status, content_type, page) = server.get_accepting("/graphql", "text/html").await?;
    anyhow::ensure!(
        status == 200
            && content_type.starts_with("text/html")
            && page.contains("/graphiql/graphiql.js")
    );
    for asset in ["react.js", "react-dom.js", "graphiql.js", "graphiql.css"] {
        let (status, _, body) = server.get(&format!("/graphiql/{asset}")).await?;
        anyhow::ensure!(status == 200, "{asset}: {status}");
        anyhow::ensure!(
            !body.contains("FIELDGUARD_GRAPHIQL_MISSING"),
            "{asset} was not bundled (is npm installed?)"
        );
        anyhow::ensure!(body.len() > 10_000, "{asset} is only {} bytes", body.len());
    }
    let (status, _, _) = server.get("/graphiql/nothing.js").await?;
    anyhow::ensure!(status == 404);
    Ok(())
}

#[tokio::test]
async fn the_schema_can_be_introspected_without_a_token_but_no_data_can_be_read()
-> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let reply = server.post(&[], r#"{"query":"{ __schema { queryType { name } } }"}"#).await?;
    ensure(
        reply.status == 200 && reply.data(&["__schema", "queryType", "name"]) == "Query",
        "introspection",
        &reply,
    )?;
    let reply = server
        .post(
            &[("authorization", "Bearer <paste a token>")],
            r#"{"query":"query { __type(name: \"Workflow\") { name } }"}"#,
        )
        .await?;
    ensure(
        reply.status == 200 && reply.data(&["__type", "name"]) == "Workflow",
        "with a placeholder token",
        &reply,
    )?;
    for body in [
        r#"{"query":"{ __schema { queryType { name } } team { name } }"}"#,
        r#"{"query":"{ ...F } fragment F on Query { team { name } }"}"#,
        r#"{"query":"query A { __typename } query B { me { email } }","operationName":"B"}"#,
    ] {
        let reply = server.post(&[], body).await?;
        ensure(reply.status == 401, &format!("401 for {body}"), &reply)?;
    }
    Ok(())
}

#[tokio::test]
async fn when_the_database_goes_away_requests_fail_cleanly_and_the_server_keeps_serving()
-> anyhow::Result<()> {
    let server = TestServer::start().await?;
    server.state.db.clone().close().await?;
    let reply = server.query("olivia.owner@acme.test", "{ me { email } }").await?;
    ensure(reply.status == 503, "service unavailable", &reply)?;
    ensure(reply.body["errors"][0]["extensions"]["code"] == "INTERNAL", "coded", &reply)?;
    let message = reply.body["errors"][0]["message"].as_str().unwrap_or_default();
    ensure(!message.contains("pool") && !message.contains("sqlite"), "no internals leak", &reply)?;
    let (status, _, _) = server.get("/healthz").await?;
    anyhow::ensure!(status == 200, "the server stopped serving");
    Ok(())
}

/// A page larger than the maximum, and an `Int` out of range, are the caller's input errors:
/// `INVALID_INPUT` with a message, never silently cut nor `INTERNAL`.
#[tokio::test]
async fn page_sizes_out_of_range_are_invalid_input() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let owner = fieldguard_e2e::OWNER;
    for (first, says) in
        [("1000000", "`first` is at most 1000"), ("2147483648", "Int"), ("-1", "negative")]
    {
        let reply = server
            .query(owner, &format!("{{ team {{ workflows(first: {first}) {{ totalCount }} }} }}"))
            .await?;
        let message = reply.errors().first().and_then(|e| e["message"].as_str().map(str::to_owned));
        ensure(
            reply.first_code().as_deref() == Some("INVALID_INPUT")
                && message.is_some_and(|m| m.contains(says)),
            &format!("first: {first}"),
            &reply,
        )?;
    }
    let reply = server.query(owner, "{ team { workflows(first: 1000) { totalCount } } }").await?;
    ensure(reply.errors().is_empty(), "first: 1000 is the largest page", &reply)
}

/// Readiness answers for the database and for draining; liveness stays as it was.
#[tokio::test]
async fn readyz_is_ready_until_draining() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (status, _, body) = server.get("/readyz").await?;
    let ready: serde_json::Value = serde_json::from_str(&body)?;
    anyhow::ensure!(
        status == 200 && ready["ready"] == true && ready["database"] == true,
        "{status} {body}"
    );
    server.state.draining.store(true, std::sync::atomic::Ordering::Relaxed);
    let (status, _, body) = server.get("/readyz").await?;
    let ready: serde_json::Value = serde_json::from_str(&body)?;
    anyhow::ensure!(status == 503 && ready["draining"] == true, "{status} {body}");
    let (status, _, _) = server.get("/healthz").await?;
    anyhow::ensure!(status == 200, "liveness changed while draining");
    Ok(())
}

/// Without a token, an introspection document that does not validate is refused like any
/// other: never executed, and every error has a code.
#[tokio::test]
async fn an_invalid_anonymous_document_has_codes() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let reply = server
        .post(
            &[("accept", "application/graphql-response+json")],
            r#"{"query":"{ __schema { noSuchField } }"}"#,
        )
        .await?;
    let errors = reply.errors();
    ensure(
        reply.status == 400
            && reply.body.get("data").is_none()
            && !errors.is_empty()
            && errors.iter().all(|e| e["extensions"]["code"] == "INVALID_INPUT"),
        "an invalid anonymous document",
        &reply,
    )
}

#[tokio::test]
async fn a_forbidden_error_names_the_policy_version_and_never_its_reason() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let hash = server.state.policy.current().info.hash.clone();
    let reply = server.query("dana.developer@acme.test", "{ team { name billingPlan } }").await?;
    ensure(
        reply.error_code_at("team.billingPlan").as_deref() == Some("FORBIDDEN"),
        "refused",
        &reply,
    )?;
    let error = &reply.errors()[0];
    ensure(
        error["extensions"]["policy"] == hash.as_str(),
        "the error names the policy version",
        &reply,
    )?;
    let text = reply.body.to_string();
    ensure(!text.contains("roles do not allow"), "the policy's reason stays in the log", &reply)?;
    ensure(reply.data(&["team", "name"]).is_string(), "the rest of the answer is there", &reply)?;
    Ok(())
}

/// A token from an identity provider: its issuer and audience are checked, its `nbf` too, and
/// the user is found by the configured claim (an email, in any case).
#[tokio::test]
async fn an_identity_providers_token_is_checked_and_names_the_user_by_email() -> anyhow::Result<()>
{
    use jsonwebtoken::{EncodingKey, Header, encode};
    let server = TestServer::start().await?;
    let verifier = Authenticator::hs256(fieldguard_e2e::SECRET.as_bytes())
        .expecting(Some("https://idp.example"), Some("fieldguard"))
        .identifying_by(Some("email"));
    let idp = server.beside_with_auth(fieldguard::authz::LoadedPolicy::builtin()?, verifier).await?;
    let now = chrono_now();
    let token = |claims: serde_json::Value| {
        encode(
            &Header::default(),
            &claims,
            &EncodingKey::from_secret(fieldguard_e2e::SECRET.as_bytes()),
        )
    };
    let good = serde_json::json!({ "sub": "idp|42", "email": "Dana.Developer@ACME.test",
        "iss": "https://idp.example", "aud": "fieldguard", "exp": now + 300 });
    let bearer = format!("Bearer {}", token(good.clone())?);
    let body = r#"{"query":"{ me { email } }"}"#;
    let reply = idp.post(&[("authorization", &bearer)], body).await?;
    ensure(reply.data(&["me", "email"]) == "dana.developer@acme.test", "found by email", &reply)?;
    for (what, change) in [
        ("another audience", ("aud", serde_json::json!("someone-else"))),
        ("another issuer", ("iss", serde_json::json!("https://evil.example"))),
        ("valid only in an hour", ("nbf", serde_json::json!(now + 3600))),
        ("an unknown email", ("email", serde_json::json!("nobody@acme.test"))),
    ] {
        let mut claims = good.clone();
        claims[change.0] = change.1;
        let bearer = format!("Bearer {}", token(claims)?);
        let reply = idp.post(&[("authorization", &bearer)], body).await?;
        ensure(
            reply.status == 401 && reply.first_code().as_deref() == Some("UNAUTHENTICATED"),
            what,
            &reply,
        )?;
    }
    Ok(())
}
