//! GraphQL over HTTP as standard clients speak it: the media type of the answer follows
//! `Accept`, a POST is JSON or refused, queries go over GET (urql's default) and mutations do
//! not, Apollo's automatic persisted queries work, and the keys of an answer follow the
//! selection, every time.

use fieldguard_e2e::{OWNER, ensure};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::TestServer;

/// A raw request: method, headers, body; answers status, content type and body text.
async fn send(
    server: &TestServer,
    method: reqwest::Method,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> anyhow::Result<(u16, String, String, reqwest::header::HeaderMap)> {
    let mut request =
        reqwest::Client::new().request(method, format!("{}{path_and_query}", server.url));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.body(body.to_owned());
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let content_type =
        headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    Ok((status, content_type, response.text().await?, headers))
}

fn url_encoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn the_answer_has_the_media_type_the_client_accepts() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let bearer = format!("Bearer {}", server.token(OWNER)?);
    let body = r#"{"query":"{ me { email } }"}"#;
    for (accept, expected) in [
        (None, "application/json"),
        (Some("*/*"), "application/json"),
        (Some("application/json"), "application/json"),
        (Some("application/graphql-response+json"), "application/graphql-response+json"),
        (
            Some("application/graphql-response+json, application/json;q=0.9"),
            "application/graphql-response+json",
        ),
    ] {
        let mut headers =
            vec![("authorization", bearer.as_str()), ("content-type", "application/json")];
        headers.extend(accept.map(|a| ("accept", a)));
        let (status, content_type, text, _) =
            send(&server, reqwest::Method::POST, "/graphql", &headers, Some(body)).await?;
        anyhow::ensure!(
            status == 200 && content_type.starts_with(expected) && text.contains(OWNER),
            "Accept {accept:?}: {status} {content_type} {text}"
        );
    }
    let headers = [
        ("authorization", bearer.as_str()),
        ("content-type", "application/json"),
        ("accept", "text/csv"),
    ];
    let (status, _, _, _) =
        send(&server, reqwest::Method::POST, "/graphql", &headers, Some(body)).await?;
    anyhow::ensure!(status == 406, "an Accept of neither JSON type: {status}");
    Ok(())
}

#[tokio::test]
async fn a_post_that_is_not_json_is_refused_with_415_before_it_runs() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let bearer = format!("Bearer {}", server.token(OWNER)?);
    let mutation = r#"{"query":"mutation { updateTeam(input: {name: \"Renamed\"}) { name } }"}"#;
    for content_type in [None, Some("text/plain"), Some("application/x-www-form-urlencoded")] {
        let mut headers = vec![("authorization", bearer.as_str())];
        headers.extend(content_type.map(|t| ("content-type", t)));
        let (status, _, text, _) =
            send(&server, reqwest::Method::POST, "/graphql", &headers, Some(mutation)).await?;
        let body: Value = serde_json::from_str(&text)?;
        anyhow::ensure!(
            status == 415 && body["errors"][0]["extensions"]["code"] == "INVALID_INPUT",
            "content type {content_type:?}: {status} {text}"
        );
    }
    let reply = server.query(OWNER, "{ team { name } }").await?;
    ensure(reply.data(&["team", "name"]) != "Renamed", "nothing ran", &reply)
}

#[tokio::test]
async fn queries_go_over_get_and_mutations_do_not() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let bearer = format!("Bearer {}", server.token(OWNER)?);
    let auth = [("authorization", bearer.as_str())];
    let query = url_encoded(
        "query Me($n: Int) { me { email } team { workflows(first: $n) { totalCount } } }",
    );
    let variables = url_encoded(r#"{"n":1}"#);
    let (status, content_type, text, _) = send(
        &server,
        reqwest::Method::GET,
        &format!("/graphql?query={query}&operationName=Me&variables={variables}"),
        &auth,
        None,
    )
    .await?;
    let body: Value = serde_json::from_str(&text)?;
    anyhow::ensure!(
        status == 200
            && content_type.starts_with("application/json")
            && body["data"]["me"]["email"] == OWNER,
        "a query over GET: {status} {text}"
    );
    let mutation = url_encoded(r#"mutation { updateTeam(input: {name: "Renamed"}) { name } }"#);
    let (status, _, text, headers) =
        send(&server, reqwest::Method::GET, &format!("/graphql?query={mutation}"), &auth, None)
            .await?;
    anyhow::ensure!(
        status == 405 && headers.get("allow").is_some_and(|v| v == "POST"),
        "a mutation over GET: {status} {text}"
    );
    let reply = server.query(OWNER, "{ team { name } }").await?;
    ensure(reply.data(&["team", "name"]) != "Renamed", "the mutation did not run", &reply)?;
    let (status, content_type, page, _) = send(
        &server,
        reqwest::Method::GET,
        "/graphql",
        &[("accept", "text/html,application/xhtml+xml,*/*;q=0.8")],
        None,
    )
    .await?;
    anyhow::ensure!(
        status == 200 && content_type.starts_with("text/html") && page.contains("graphiql"),
        "a browser still gets GraphiQL: {status} {content_type}"
    );
    Ok(())
}

#[tokio::test]
async fn apollo_automatic_persisted_queries_work() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let bearer = format!("Bearer {}", server.token(OWNER)?);
    let auth = [("authorization", bearer.as_str())];
    let query = "{ me { email } }";
    let hash: String =
        Sha256::digest(query.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    let extensions = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
    // The link's first try: the hash alone.
    let reply = server.post(&auth, &json!({ "extensions": extensions }).to_string()).await?;
    ensure(
        reply.status == 200 && reply.first_code().as_deref() == Some("PERSISTED_QUERY_NOT_FOUND"),
        "an unknown hash",
        &reply,
    )?;
    // Its retry: the document with its hash; then the hash alone is enough, also over GET.
    let reply = server
        .post(&auth, &json!({ "query": query, "extensions": extensions }).to_string())
        .await?;
    ensure(reply.data(&["me", "email"]) == OWNER, "the document with its hash", &reply)?;
    let reply = server.post(&auth, &json!({ "extensions": extensions }).to_string()).await?;
    ensure(reply.data(&["me", "email"]) == OWNER, "the hash alone", &reply)?;
    let (status, _, text, _) = send(
        &server,
        reqwest::Method::GET,
        &format!("/graphql?extensions={}", url_encoded(&extensions.to_string())),
        &auth,
        None,
    )
    .await?;
    anyhow::ensure!(status == 200 && text.contains(OWNER), "the hash over GET: {status} {text}");
    let wrong = json!({ "persistedQuery": { "version": 1, "sha256Hash": "0".repeat(64) } });
    let reply =
        server.post(&auth, &json!({ "query": query, "extensions": wrong }).to_string()).await?;
    ensure(
        reply.status == 400 && reply.first_code().as_deref() == Some("INVALID_INPUT"),
        "a hash that is not the document's",
        &reply,
    )
}

/// The keys of every object in the answer's text, in order.
fn keys_in_order(value: &Value, into: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                into.push(key.clone());
                keys_in_order(value, into);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| keys_in_order(item, into)),
        _ => {}
    }
}

#[tokio::test]
async fn answer_keys_follow_the_selection_every_time() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let bearer = format!("Bearer {}", server.token(OWNER)?);
    let query = "{ team { workflows { nodes { securityGroup { name } name versions { number } id } } name members { totalCount } } me { id email } }";
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..30 {
        let (_, _, text, _) = send(
            &server,
            reqwest::Method::POST,
            "/graphql",
            &[("authorization", &bearer), ("content-type", "application/json")],
            Some(&json!({ "query": query }).to_string()),
        )
        .await?;
        // serde_json keeps the order of the text (`preserve_order`, see Cargo.toml); the
        // positions in the text are checked too.
        let body: Value = serde_json::from_str(&text)?;
        let mut keys = Vec::new();
        keys_in_order(&body["data"], &mut keys);
        let first_workflow =
            keys.iter().skip_while(|k| *k != "nodes").take(6).cloned().collect::<Vec<_>>();
        anyhow::ensure!(
            first_workflow == ["nodes", "securityGroup", "name", "name", "versions", "number"],
            "keys out of the selection's order: {text}"
        );
        anyhow::ensure!(
            text.find("\"team\"") < text.find("\"me\"")
                && text.find("\"workflows\"") < text.find("\"members\""),
            "keys out of the selection's order: {text}"
        );
        seen.insert(keys);
    }
    anyhow::ensure!(seen.len() == 1, "{} different key orders in 30 answers", seen.len());
    Ok(())
}

/// The objects of a list (resolved together, see `graphql::inline`) answer exactly as the
/// same object asked for on its own (resolved by async-graphql): fragments, type conditions,
/// aliases, `__typename`, a key selected twice, and relations below.
#[tokio::test]
async fn an_object_answers_the_same_in_a_list_as_on_its_own() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let fragment = "fragment W on Workflow { __typename ... on Node { id } label: name \
                    securityGroup { __typename name } ...V orchestrator { ... on Orchestrator \
                    { name } } name } fragment V on Workflow { versions { number publishedBy \
                    { email } } label: name }";
    let listed = server
        .query(OWNER, &format!("{{ team {{ workflows {{ nodes {{ ...W }} edges {{ node {{ ...W }} }} }} }} }} {fragment}"))
        .await?;
    ensure(listed.errors().is_empty(), "the list answers without errors", &listed)?;
    let nodes =
        listed.data(&["team", "workflows", "nodes"]).as_array().cloned().unwrap_or_default();
    let edges =
        listed.data(&["team", "workflows", "edges"]).as_array().cloned().unwrap_or_default();
    ensure(nodes.len() >= 2 && nodes.len() == edges.len(), "workflows listed", &listed)?;
    for (node, edge) in nodes.iter().zip(&edges) {
        let id = node["id"].as_str().unwrap_or_default();
        let alone = server
            .query(OWNER, &format!("{{ workflow(id: \"{id}\") {{ ...W }} }} {fragment}"))
            .await?;
        ensure(alone.errors().is_empty(), "the workflow answers without errors", &alone)?;
        let alone = serde_json::to_string(alone.data(&["workflow"]))?;
        anyhow::ensure!(serde_json::to_string(node)? == alone, "{node} differs from {alone}");
        anyhow::ensure!(
            serde_json::to_string(&edge["node"])? == alone,
            "{edge} differs from {alone}"
        );
    }
    let keys: Vec<&String> = nodes[0].as_object().map(|o| o.keys().collect()).unwrap_or_default();
    anyhow::ensure!(
        keys == ["__typename", "id", "label", "securityGroup", "versions", "orchestrator", "name"],
        "keys out of the selection's order: {keys:?}"
    );
    Ok(())
}

/// Installs the audit's locked npm packages once per test process, beside the build.
fn audit_tool() -> anyhow::Result<std::path::PathBuf> {
    static INSTALLED: std::sync::OnceLock<Result<std::path::PathBuf, String>> =
        std::sync::OnceLock::new();
    let installed = INSTALLED.get_or_init(|| {
        let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("audit");
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("graphql-http-audit");
        let install = || -> anyhow::Result<()> {
            std::fs::create_dir_all(&dir)?;
            for file in ["package.json", "package-lock.json", "audit.mjs"] {
                std::fs::copy(source.join(file), dir.join(file))?;
            }
            let output = std::process::Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&dir)
                .output()?;
            anyhow::ensure!(
                output.status.success(),
                "npm ci failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            Ok(())
        };
        install().map(|()| dir.clone()).map_err(|e| {
            format!("the GraphQL-over-HTTP audit needs npm and node (Debian: nodejs npm): {e:#}")
        })
    });
    installed.clone().map_err(anyhow::Error::msg)
}

/// graphql-http's own audit of the GraphQL-over-HTTP specification finds nothing to warn
/// about, with a token and without one.
#[tokio::test]
async fn the_graphql_over_http_audit_passes_without_a_warning() -> anyhow::Result<()> {
    let tool = audit_tool()?;
    let server = TestServer::start().await?;
    let url = format!("{}/graphql", server.url);
    for token in [None, Some(server.token(OWNER)?.to_owned())] {
        let mut command = std::process::Command::new("node");
        command.arg(tool.join("audit.mjs")).arg(&url).args(token.iter());
        // On the blocking pool: the server answers the audit on this test's runtime.
        let output = tokio::task::spawn_blocking(move || command.output()).await??;
        anyhow::ensure!(
            output.status.success(),
            "the audit did not run: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let results: Vec<Value> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(serde_json::from_str)
            .collect::<Result<_, _>>()?;
        let failed: Vec<String> = results
            .iter()
            .filter(|r| r["status"] != "ok")
            .map(|r| format!("{} {}: {} ({})", r["status"], r["id"], r["name"], r["reason"]))
            .collect();
        let with = if token.is_some() { "with a token" } else { "without a token" };
        anyhow::ensure!(results.len() > 40, "{with}: only {} audits ran", results.len());
        anyhow::ensure!(failed.is_empty(), "{with}:\n{}", failed.join("\n"));
    }
    Ok(())
}

/// A browser app on an allowed origin passes its preflight and reads the answer; another
/// origin, or any origin on a gateway that allows none (the default), gets no CORS headers.
#[tokio::test]
async fn configured_origins_may_call_the_api_from_a_browser() -> anyhow::Result<()> {
    use fieldguard::http::cors::Origins;
    let allowed = "https://app.example.com";
    let origins = Origins::parse(&[allowed.to_owned()])?;
    let server = TestServer::configured(|state| state.with_cors(origins)).await?;
    let default = TestServer::start().await?;
    let preflight = |origin: &'static str| {
        [
            ("origin", origin),
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", "authorization, content-type, x-fieldguard-team"),
        ]
    };
    let (status, _, _, headers) =
        send(&server, reqwest::Method::OPTIONS, "/graphql", &preflight(allowed), None).await?;
    let allows = |headers: &reqwest::header::HeaderMap, name: &str| {
        headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_ascii_lowercase()
    };
    anyhow::ensure!(
        status == 200
            && allows(&headers, "access-control-allow-origin") == allowed
            && allows(&headers, "access-control-allow-methods").contains("post")
            && allows(&headers, "access-control-allow-headers").contains("authorization"),
        "the preflight of an allowed origin: {status} {headers:?}"
    );
    let bearer = format!("Bearer {}", server.token(OWNER)?);
    let (status, _, text, headers) = send(
        &server,
        reqwest::Method::POST,
        "/graphql",
        &[("origin", allowed), ("authorization", &bearer), ("content-type", "application/json")],
        Some(r#"{"query":"{ me { email } }"}"#),
    )
    .await?;
    anyhow::ensure!(
        status == 200
            && text.contains(OWNER)
            && allows(&headers, "access-control-allow-origin") == allowed,
        "the request of an allowed origin: {status} {headers:?}"
    );
    for (gateway, origin) in [(&server, "https://evil.example"), (&default, allowed)] {
        let (_, _, _, headers) =
            send(gateway, reqwest::Method::OPTIONS, "/graphql", &preflight(origin), None).await?;
        anyhow::ensure!(
            headers.get("access-control-allow-origin").is_none(),
            "{origin} is not allowed: {headers:?}"
        );
    }
    Ok(())
}

/// Readiness notices a SQLite file deleted while serving (the open connection would keep
/// answering from it), while liveness stays up.
#[tokio::test]
async fn readiness_notices_a_deleted_database_file() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (status, _, _) = server.get("/readyz").await?;
    anyhow::ensure!(status == 200, "ready at first: {status}");
    std::fs::remove_file(server.data_dir().join("test.db"))?;
    let (status, _, body) = server.get("/readyz").await?;
    let ready: Value = serde_json::from_str(&body)?;
    anyhow::ensure!(status == 503 && ready["database"] == false, "{status} {body}");
    let (status, _, _) = server.get("/healthz").await?;
    anyhow::ensure!(status == 200, "liveness is unchanged: {status}");
    Ok(())
}

/// With trusted documents, a client runs a listed document by its hash or as text; anything
/// else is refused with its own code, and nothing a client sends is learned. The platform
/// operator's requests are exempt.
#[tokio::test]
async fn with_trusted_documents_only_the_listed_ones_run() -> anyhow::Result<()> {
    use fieldguard::http::auth::SharedToken;
    use fieldguard::http::persisted::PersistedQueries;
    let listed = "query Me { me { email } }";
    let hash = format!("{:x}", Sha256::digest(listed.as_bytes()));
    let manifest = json!({ "format": "apollo-persisted-query-manifest", "version": 1,
        "operations": [{ "id": hash, "name": "Me", "type": "query", "body": listed }] });
    let trusted = PersistedQueries::trusted(&manifest.to_string())?;
    let operator = "an-operator-token-of-32-characters!!";
    let server = TestServer::configured(|state| {
        state
            .with_trusted_documents(trusted)
            .with_operator(SharedToken::new("operator token", operator).ok())
    })
    .await?;
    let bearer = format!("Bearer {}", server.token(OWNER)?);
    let auth = [("authorization", bearer.as_str())];
    let by_hash = |hash: &str| json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": hash } } });

    let reply = server.post(&auth, &by_hash(&hash).to_string()).await?;
    ensure(reply.data(&["me", "email"]) == OWNER, "the listed document by its hash", &reply)?;
    let reply = server.post(&auth, &json!({ "query": listed }).to_string()).await?;
    ensure(reply.data(&["me", "email"]) == OWNER, "the listed document as text", &reply)?;

    let other = "{ team { name } }";
    let other_hash = format!("{:x}", Sha256::digest(other.as_bytes()));
    let mut registering = by_hash(&other_hash);
    registering["query"] = json!(other);
    for (what, body, code) in [
        ("another document", json!({ "query": other }), "QUERY_NOT_IN_SAFELIST"),
        ("another document with its hash", registering, "QUERY_NOT_IN_SAFELIST"),
        ("then its hash alone", by_hash(&other_hash), "PERSISTED_QUERY_NOT_IN_LIST"),
        (
            "introspection",
            json!({ "query": "{ __schema { queryType { name } } }" }),
            "QUERY_NOT_IN_SAFELIST",
        ),
    ] {
        let reply = server.post(&auth, &body.to_string()).await?;
        ensure(
            reply.first_code().as_deref() == Some(code) && reply.body.get("data").is_none(),
            what,
            &reply,
        )?;
    }
    let reply = server
        .post(
            &[("authorization", &format!("Bearer {operator}"))],
            &json!({ "query": "{ policyVersions { hash } }" }).to_string(),
        )
        .await?;
    ensure(reply.errors().is_empty(), "the operator's own documents", &reply)
}
