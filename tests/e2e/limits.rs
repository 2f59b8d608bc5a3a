//! Abuse limits: every abusive document seen against the gateway — too deep, too many
//! aliases, a fragment bomb, nested introspection, an oversized body — is refused before it
//! runs, with its own code, with a token and without one, while a normal client keeps getting
//! its answers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use fieldguard_e2e::{OWNER, ensure};
use serde_json::json;

use crate::TestServer;

/// `{ team { name orchestrators { nodes { … } } } }`-style nesting, `levels` deep.
fn nested(levels: usize) -> String {
    let mut document = String::from("{ me { email } team { name ");
    for _ in 0..levels {
        document.push_str("securityGroups { nodes { orchestrator { securityGroups { nodes { name ");
    }
    document.push_str(&"} } } } } ".repeat(levels));
    document.push_str("} }");
    document
}

/// The abusive documents, each with the code that refuses it.
fn abusive() -> Vec<(&'static str, String, &'static str)> {
    let nested_pages = || {
        "{ team { workflows(first: 1000) { nodes { securityGroup { workflows(first: 1000) { nodes { name } } } } } } }".to_owned()
    };
    let aliases = (0..5000)
        .map(|i| format!("w{i}: workflows(first: 1000) {{ nodes {{ name }} }}"))
        .collect::<Vec<_>>()
        .join(" ");
    let mut bomb = String::from("query { __typename ...F0 } ");
    for i in 0..21 {
        bomb.push_str(&format!("fragment F{i} on Query {{ ...F{} ...F{} }} ", i + 1, i + 1));
    }
    bomb.push_str("fragment F21 on Query { __typename }");
    let mut schema_bomb = String::from("{ __schema { ...S0 } } ");
    for i in 0..20 {
        schema_bomb.push_str(&format!(
            "fragment S{i} on __Schema {{ types {{ name }} ...S{} ...S{} }} ",
            i + 1,
            i + 1
        ));
    }
    schema_bomb.push_str("fragment S20 on __Schema { queryType { name } }");
    let node = r#"{ __type(name: "Node") { possibleTypes { fields { type { possibleTypes { fields { type { possibleTypes { fields { type { possibleTypes { fields { type { name } } } } } } } } } } } } } }"#;
    vec![
        ("depth 32", nested(8), "QUERY_TOO_DEEP"),
        (
            "5,000 aliases of a page of 1,000",
            format!("{{ team {{ {aliases} }} }}"),
            "TOO_MANY_ALIASES",
        ),
        ("a fragment bomb of 2^21 expansions", bomb, "TOO_MANY_FIELDS"),
        ("nested fragments inside __schema", schema_bomb, "TOO_MANY_FIELDS"),
        ("pages of 1,000 in pages of 1,000", nested_pages(), "QUERY_TOO_COMPLEX"),
        ("nested __type(name: \"Node\")", node.to_owned(), "QUERY_TOO_COMPLEX"),
        ("100,000 nested brackets", "{ a ".repeat(100_000), "QUERY_TOO_DEEP"),
    ]
}

#[tokio::test]
async fn every_abusive_request_is_refused_with_its_code_while_a_normal_client_is_served()
-> anyhow::Result<()> {
    let server = Arc::new(TestServer::start().await?);
    let bearer = format!("Bearer {}", server.token(OWNER)?);

    // The normal client: one small query after another, all through the abuse.
    let stop = Arc::new(AtomicBool::new(false));
    let normal = {
        let (server, stop) = (server.clone(), stop.clone());
        tokio::spawn(async move {
            let mut answered = 0usize;
            let mut slowest = Duration::ZERO;
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                let reply = server.query(OWNER, "{ me { email } }").await?;
                slowest = slowest.max(started.elapsed());
                ensure(reply.data(&["me", "email"]) == OWNER, "a normal answer", &reply)?;
                answered += 1;
            }
            anyhow::Ok((answered, slowest))
        })
    };

    for (what, document, code) in abusive() {
        let body = json!({ "query": document }).to_string();
        for credentials in [Some(bearer.as_str()), None] {
            let headers: Vec<(&str, &str)> =
                credentials.map(|c| ("authorization", c)).into_iter().collect();
            let reply = server.post(&headers, &body).await?;
            let with = if credentials.is_some() { "with a token" } else { "without a token" };
            // Without a token, a body over the anonymous limit is refused before it is read.
            let expected = if credentials.is_none() && body.len() > 16 << 10 {
                "BODY_TOO_LARGE"
            } else {
                code
            };
            ensure(
                reply.first_code().as_deref() == Some(expected)
                    && (reply.status == 400 || reply.status == 413)
                    && reply.body.get("data").is_none(),
                &format!("{what} {with}: {expected}"),
                &reply,
            )?;
        }
    }
    // Ten megabytes of one field repeated, with a token: over the body limit, never read.
    let huge = json!({ "query": format!("{{ team {{ {} }} }}", "name ".repeat(2_000_000)) });
    let reply = server.post(&[("authorization", &bearer)], &huge.to_string()).await?;
    ensure(
        reply.status == 413 && reply.first_code().as_deref() == Some("BODY_TOO_LARGE"),
        "a 10 MB document",
        &reply,
    )?;
    // What is within the limits still runs: the bench's page, and GraphiQL's introspection.
    let page = "{ team { workflows(first: 1000) { nodes { id name currentVersion schedule webhookEnabled loggingEnabled securityGroup { name } versions { number } outputVariables { name } } } } }";
    let reply = server.query(OWNER, page).await?;
    ensure(reply.errors().is_empty(), "a page of 1,000 within the budget", &reply)?;
    let introspection = include_str!("../../gateway/src/http/limits_introspection.graphql");
    let reply = server.post(&[], &json!({ "query": introspection }).to_string()).await?;
    ensure(
        reply.errors().is_empty() && reply.data(&["__schema", "queryType", "name"]) == "Query",
        "GraphiQL's introspection without a token",
        &reply,
    )?;

    stop.store(true, Ordering::Relaxed);
    let (answered, slowest) = normal.await??;
    anyhow::ensure!(answered > 0, "the normal client got no answer");
    // Generous: refusals cost microseconds; this only catches a server that stalled.
    anyhow::ensure!(slowest < Duration::from_secs(2), "a normal answer took {slowest:?}");
    Ok(())
}

/// Reads from `stream` until the server closes it (or `within` passes): whether it closed,
/// and what it sent first.
async fn closed_by_server(
    stream: &mut tokio::net::TcpStream,
    within: Duration,
) -> anyhow::Result<(bool, String)> {
    use tokio::io::AsyncReadExt;
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    let read_all = async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return true,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    };
    let closed = tokio::time::timeout(within, read_all).await.unwrap_or(false);
    Ok((closed, String::from_utf8_lossy(&received).into_owned()))
}

/// A server whose connection and request bounds are tight enough to reach in a test.
async fn tightly_bounded(
    header_read_timeout: Duration,
    max_connections: usize,
) -> anyhow::Result<TestServer> {
    let mut limits = fieldguard::http::limits::Limits::default();
    limits.body_read_timeout = Duration::from_millis(300);
    limits.request_timeout = Duration::from_millis(1);
    let connections = fieldguard::http::connections::ConnectionLimits {
        header_read_timeout,
        max_connections,
        drain_timeout: Duration::from_secs(5),
    };
    TestServer::configured(|state| state.with_limits(limits).with_connections(connections)).await
}

#[tokio::test]
async fn idle_connections_and_slow_headers_are_closed_after_the_header_timeout()
-> anyhow::Result<()> {
    use tokio::io::AsyncWriteExt;
    let server = tightly_bounded(Duration::from_millis(500), 100).await?;
    let address = server.url.trim_start_matches("http://").to_owned();

    // A connection that says nothing.
    let mut idle = tokio::net::TcpStream::connect(&address).await?;
    let (closed, _) = closed_by_server(&mut idle, Duration::from_secs(5)).await?;
    anyhow::ensure!(closed, "an idle connection was still open after 5 s");

    // A connection trickling its request head, a byte every 100 ms.
    let mut slow = tokio::net::TcpStream::connect(&address).await?;
    let head =
        b"GET /healthz HTTP/1.1\r\nHost: fieldguard\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    let started = Instant::now();
    for byte in head {
        if slow.write_all(&[*byte]).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (closed, sent) = closed_by_server(&mut slow, Duration::from_secs(5)).await?;
    anyhow::ensure!(closed, "a slow request head kept its connection open");
    anyhow::ensure!(!sent.contains("200 OK"), "a slow request head was answered: {sent}");
    anyhow::ensure!(
        started.elapsed() < Duration::from_secs(12),
        "closed only after the whole head"
    );

    // A connection kept alive after its answer is closed once idle for the timeout too.
    let mut kept = tokio::net::TcpStream::connect(&address).await?;
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: fieldguard\r\n\r\n").await?;
    let (closed, sent) = closed_by_server(&mut kept, Duration::from_secs(5)).await?;
    anyhow::ensure!(sent.starts_with("HTTP/1.1 200"), "the first request was answered: {sent}");
    anyhow::ensure!(closed, "a kept-alive idle connection was still open after 5 s");

    let (status, _, _) = server.get("/healthz").await?;
    anyhow::ensure!(status == 200, "health after the slow clients");
    Ok(())
}

#[tokio::test]
async fn past_the_connection_limit_the_oldest_idle_connections_make_room() -> anyhow::Result<()> {
    let server = tightly_bounded(Duration::from_secs(60), 20).await?;
    let address = server.url.trim_start_matches("http://").to_owned();
    let mut idle = Vec::new();
    for _ in 0..60 {
        idle.push(tokio::net::TcpStream::connect(&address).await?);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Sixty idle connections against a limit of twenty (and a header timeout of a minute):
    // the server still answers, at once.
    for _ in 0..5 {
        let started = Instant::now();
        let (status, _, _) = server.get("/healthz").await?;
        anyhow::ensure!(status == 200, "health past the connection limit");
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(2),
            "health took {:?}",
            started.elapsed()
        );
    }
    let mut closed = Vec::new();
    for stream in &mut idle {
        closed.push(closed_by_server(stream, Duration::from_millis(50)).await?.0);
    }
    let count = closed.iter().filter(|closed| **closed).count();
    anyhow::ensure!(count >= 40, "only {count} of 60 idle connections were closed");
    anyhow::ensure!(
        closed.first() == Some(&true) && closed.last() == Some(&false),
        "the oldest idle connections are closed first: {closed:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_body_that_does_not_arrive_and_a_request_past_its_deadline_are_refused_with_their_codes()
-> anyhow::Result<()> {
    use tokio::io::AsyncWriteExt;
    let server = tightly_bounded(Duration::from_secs(10), 100).await?;
    let address = server.url.trim_start_matches("http://").to_owned();
    let token = server.token(OWNER)?.to_owned();

    // Headers promise 100 bytes; 10 come.
    let mut slow = tokio::net::TcpStream::connect(&address).await?;
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: fieldguard\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"query\":"
    );
    slow.write_all(head.as_bytes()).await?;
    let (_, sent) = closed_by_server(&mut slow, Duration::from_secs(5)).await?;
    anyhow::ensure!(sent.starts_with("HTTP/1.1 408"), "a body that never came: {sent}");
    anyhow::ensure!(sent.contains("\"BODY_TIMEOUT\""), "a body that never came: {sent}");

    // A page of 1,000 workflows cannot be answered within a millisecond.
    let page = "{ team { workflows(first: 1000) { nodes { id name versions { number } } } } }";
    let reply = server.query(OWNER, page).await?;
    ensure(
        reply.status == 504 && reply.first_code().as_deref() == Some("REQUEST_TIMEOUT"),
        "a request past its deadline",
        &reply,
    )?;
    let (status, _, _) = server.get("/healthz").await?;
    anyhow::ensure!(status == 200, "health after the timeouts");
    Ok(())
}
