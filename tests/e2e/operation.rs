//! What an operator sees of a running gateway: `/metrics`, and request ids and trace context
//! on the answers and on every log line of a request.

use fieldguard_e2e::{OWNER, with_fixture};
use serde_json::json;

use crate::TestServer;

/// The value of the sample of `metrics` named `name` whose labels include every one of
/// `labels` (`key="value"`), if there is one.
fn sample(metrics: &str, name: &str, labels: &[&str]) -> Option<f64> {
    metrics.lines().filter(|line| !line.starts_with('#')).find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
        (metric == name && labels.iter().all(|label| rest.contains(label)))
            .then(|| value.parse().ok())
            .flatten()
    })
}

async fn scrape(server: &TestServer) -> anyhow::Result<String> {
    let (status, content_type, body) = server.get("/metrics").await?;
    anyhow::ensure!(status == 200, "/metrics answered {status}");
    anyhow::ensure!(content_type.starts_with("application/openmetrics-text"), "{content_type}");
    anyhow::ensure!(body.trim_end().ends_with("# EOF"), "the exposition is not complete");
    Ok(body)
}

/// With a metrics token configured, `/metrics` answers its bearer only: no credentials, a
/// wrong token, a team member's token and the operator's are all refused with
/// `UNAUTHENTICATED`.
#[tokio::test]
async fn with_a_metrics_token_only_its_bearer_reads_the_metrics() -> anyhow::Result<()> {
    use fieldguard::http::auth::SharedToken;
    let metrics = "a-metrics-token-of-32-characters!!";
    let operator = "an-operator-token-of-32-characters!!";
    let server = TestServer::configured(|state| {
        state
            .with_metrics_token(SharedToken::new("metrics token", metrics).ok())
            .with_operator(SharedToken::new("operator token", operator).ok())
    })
    .await?;
    let member = format!("Bearer {}", server.token(OWNER)?);
    let operator = format!("Bearer {operator}");
    let refused = [
        vec![],
        vec![("authorization", "Bearer a-wrong-token-of-32-characters!!!!")],
        vec![("authorization", member.as_str())],
        vec![("authorization", operator.as_str())],
    ];
    for headers in &refused {
        let (status, _, body) = server.get_with("/metrics", headers).await?;
        anyhow::ensure!(status == 401, "{headers:?}: /metrics answered {status}: {body}");
        let body: serde_json::Value = serde_json::from_str(&body)?;
        anyhow::ensure!(body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", "{body}");
        anyhow::ensure!(!body.to_string().contains("fieldguard_"), "metrics leaked: {body}");
    }
    let bearer = format!("Bearer {metrics}");
    let (status, content_type, body) =
        server.get_with("/metrics", &[("authorization", &bearer)]).await?;
    anyhow::ensure!(status == 200, "/metrics answered its bearer {status}: {body}");
    anyhow::ensure!(content_type.starts_with("application/openmetrics-text"), "{content_type}");
    anyhow::ensure!(body.contains("fieldguard_http_requests_total"), "no metrics: {body}");
    Ok(())
}

#[tokio::test]
async fn metrics_count_requests_decisions_policy_calls_and_show_the_version_and_the_pool()
-> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let before = scrape(&server).await?;
    let queries = |m: &str| {
        sample(
            m,
            "fieldguard_http_requests_total",
            &[r#"route="graphql""#, r#"operation="query""#, r#"status="200""#],
        )
        .unwrap_or(0.0)
    };
    for _ in 0..3 {
        server.query(OWNER, "{ team { name workflows { nodes { name } } } }").await?;
    }
    let reply = server.query("dana.developer@acme.test", "{ team { billingPlan } }").await?;
    anyhow::ensure!(reply.error_code_at("team.billingPlan").as_deref() == Some("FORBIDDEN"));
    let after = scrape(&server).await?;

    anyhow::ensure!(queries(&after) >= queries(&before) + 4.0, "queries were not counted");
    let latency = sample(
        &after,
        "fieldguard_http_request_duration_seconds_count",
        &[r#"route="graphql""#, r#"operation="query""#],
    );
    anyhow::ensure!(latency.is_some_and(|n| n >= 4.0), "no request latency: {latency:?}");
    for (labels, what) in [
        (
            [r#"kind="field""#, r#"type="Team""#, r#"name="name""#, r#"outcome="allow""#],
            "Team.name allowed",
        ),
        (
            [r#"kind="field""#, r#"type="Team""#, r#"name="billingPlan""#, r#"outcome="deny""#],
            "Team.billingPlan denied",
        ),
        (
            [r#"kind="visibility""#, r#"type="Workflow""#, r#"name="""#, r#"outcome="all""#],
            "every workflow visible",
        ),
    ] {
        let count = sample(&after, "fieldguard_policy_decisions_total", &labels);
        anyhow::ensure!(count.is_some_and(|n| n >= 1.0), "{what}: {count:?}");
    }
    let calls =
        sample(&after, "fieldguard_policy_call_duration_seconds_count", &[r#"call="decide""#]);
    anyhow::ensure!(calls.is_some_and(|n| n >= 1.0), "no policy call timed: {calls:?}");
    let hash = &server.state.policy.current().info.hash;
    let active = sample(&after, "fieldguard_policy_active", &[&format!(r#"hash="{hash}""#)]);
    anyhow::ensure!(active == Some(1.0), "the version in force is not shown: {active:?}");
    let pool = sample(&after, "fieldguard_db_pool_max_connections", &[]);
    anyhow::ensure!(pool.is_some_and(|n| n >= 1.0), "no database pool: {pool:?}");
    let open = sample(&after, "fieldguard_http_connections_open", &[]);
    anyhow::ensure!(open.is_some_and(|n| n >= 1.0), "no open connection counted: {open:?}");
    Ok(())
}

#[tokio::test]
async fn a_policy_that_traps_or_times_out_is_counted_by_kind() -> anyhow::Result<()> {
    for (behaviour, kind) in [("trap", "trap"), ("spin", "timeout")] {
        let server = with_fixture(behaviour).await?;
        let label = format!(r#"kind="{kind}""#);
        let count = |m: &str| sample(m, "fieldguard_policy_failures_total", &[&label]);
        let before = count(&scrape(&server).await?).unwrap_or(0.0);
        server.query(OWNER, "{ me { email } }").await?;
        let after = count(&scrape(&server).await?).unwrap_or(0.0);
        anyhow::ensure!(after > before, "{behaviour}: {kind} not counted ({before} → {after})");
    }
    Ok(())
}

#[tokio::test]
async fn a_request_id_is_taken_or_made_echoed_and_on_every_log_line_with_the_trace_id()
-> anyhow::Result<()> {
    let logs = crate::logs::captured()?;
    let server = TestServer::start().await?;
    let token = server.token("dana.developer@acme.test")?.to_owned();
    let client = reqwest::Client::new();
    let post = |id: Option<&str>, traceparent: Option<&str>| {
        let mut request = client
            .post(format!("{}/graphql", server.url))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(json!({ "query": "{ team { billingPlan } }" }).to_string());
        if let Some(id) = id {
            request = request.header("x-request-id", id);
        }
        if let Some(traceparent) = traceparent {
            request = request.header("traceparent", traceparent);
        }
        request.send()
    };
    let echoed = |response: &reqwest::Response| {
        response.headers().get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned)
    };

    let id = format!("e2e-{}", std::process::id());
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let response = post(Some(&id), Some(&format!("00-{trace}-00f067aa0ba902b7-01"))).await?;
    anyhow::ensure!(echoed(&response).as_deref() == Some(id.as_str()), "the id is not echoed");
    response.text().await?;
    let text = logs.text();
    let denied: Vec<&str> = text.lines().filter(|line| line.contains("read denied")).collect();
    anyhow::ensure!(
        denied.iter().any(|line| line.contains(&id) && line.contains(trace)),
        "no log line of the request carries its id and trace id: {denied:#?}"
    );

    // Without an id, or with one that is not sensible, the gateway makes one.
    for given in [None, Some("two words")] {
        let response = post(given, None).await?;
        let made = echoed(&response).unwrap_or_default();
        anyhow::ensure!(
            made.len() == 32 && made.bytes().all(|b| b.is_ascii_hexdigit()),
            "{given:?}: the made id is `{made}`"
        );
    }
    Ok(())
}
