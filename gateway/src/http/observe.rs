//! Every request, observed: its id, its trace context, its span, its metrics.
//!
//! * `X-Request-Id`: taken from the request when it is a sensible id (1 to 128 visible ASCII
//!   characters), generated otherwise; echoed on the answer, and on every log line written
//!   while the request is served.
//! * `traceparent` (W3C Trace Context): a valid one puts its trace id and parent span id on
//!   the request's log lines, so they join the caller's trace.
//! * Each answer is counted by route, GraphQL operation type and status, and timed
//!   ([`crate::metrics`]); a server error is logged as a warning, every answer at debug.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use async_graphql::parser::types::OperationType;
use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument as _;

/// The header carrying the request id.
pub const REQUEST_ID: &str = "x-request-id";

/// The type of the GraphQL operation a request ran, once the handler knows it; a handler
/// finds it in the request's extensions.
#[derive(Clone, Default)]
pub struct Operation(Arc<OnceLock<&'static str>>);

impl Operation {
    /// Records the operation's type.
    pub fn set(&self, ty: OperationType) {
        let _ = self.0.set(match ty {
            OperationType::Query => "query",
            OperationType::Mutation => "mutation",
            OperationType::Subscription => "subscription",
        });
    }

    fn get(&self) -> &'static str {
        self.0.get().copied().unwrap_or("")
    }
}

/// The middleware: see the module's documentation.
pub async fn observe(mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .filter(|id| is_sensible_id(id))
        .map_or_else(generated_id, str::to_owned);
    let (trace_id, parent_id) = request
        .headers()
        .get("traceparent")
        .and_then(|value| value.to_str().ok())
        .and_then(trace_context)
        .unzip();
    let route = route(request.uri().path());
    let span = tracing::info_span!(
        "request",
        id = %id,
        method = %request.method(),
        path = request.uri().path(),
        trace_id = trace_id.as_deref(),
        parent_id = parent_id.as_deref(),
    );
    let operation = Operation::default();
    request.extensions_mut().insert(operation.clone());
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status();
    let took = started.elapsed();
    crate::metrics::request(route, operation.get(), status.as_u16(), took);
    let _entered = span.enter();
    if status.is_server_error() {
        tracing::warn!(status = status.as_u16(), took_ms = took.as_millis() as u64, "answered");
    } else {
        tracing::debug!(status = status.as_u16(), took_ms = took.as_millis() as u64, "answered");
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

/// The route a path belongs to, from a fixed set (a metric label cannot grow with the paths
/// callers invent).
fn route(path: &str) -> &'static str {
    match path {
        "/graphql" => "graphql",
        "/graphql/ws" => "graphql_ws",
        "/healthz" => "healthz",
        "/readyz" => "readyz",
        "/metrics" => "metrics",
        _ if path.starts_with("/graphiql/") => "graphiql",
        _ => "other",
    }
}

fn is_sensible_id(id: &str) -> bool {
    (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic())
}

/// A new request id: 128 random bits as 32 hex digits.
fn generated_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// The trace id and parent span id of a W3C `traceparent` header
/// (`00-<32 hex>-<16 hex>-<2 hex>`), if it is valid: lowercase hex, neither id all zeros.
fn trace_context(header: &str) -> Option<(String, String)> {
    let mut parts = header.trim().split('-');
    let (version, trace, parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, len: usize| {
        s.len() == len && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let valid = hex(version, 2)
        && version != "ff"
        && (version != "00" || parts.next().is_none())
        && hex(trace, 32)
        && hex(parent, 16)
        && hex(flags, 2)
        && trace.bytes().any(|b| b != b'0')
        && parent.bytes().any(|b| b != b'0');
    valid.then(|| (trace.to_owned(), parent.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_traceparent_is_read_only_when_valid() {
        let valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(
            trace_context(valid),
            Some(("4bf92f3577b34da6a3ce929d0e0e4736".into(), "00f067aa0ba902b7".into()))
        );
        for invalid in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        ] {
            assert_eq!(trace_context(invalid), None, "{invalid}");
        }
    }

    #[test]
    fn a_request_id_is_kept_only_when_sensible() {
        assert!(is_sensible_id("7f3c-2a"));
        assert!(!is_sensible_id(""));
        assert!(!is_sensible_id("two words"));
        assert!(!is_sensible_id("line\nbreak"));
        assert!(!is_sensible_id(&"x".repeat(129)));
        assert_eq!(generated_id().len(), 32);
    }
}
