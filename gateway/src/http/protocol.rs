//! GraphQL over HTTP, as the GraphQL-over-HTTP specification has it: a request read from a
//! POST body or a GET query string, the media type of the answer chosen from `Accept`, and the
//! status and body each outcome gets. What the request then does is the routes' business.

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

use crate::error::Error;

/// `application/graphql-response+json`, the specification's media type.
pub const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

/// The media type of an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Media {
    /// `application/graphql-response+json`: a request that was never executed (it did not
    /// parse or validate, or its variables did not coerce) is a 4xx with no `data`.
    GraphqlResponse,
    /// `application/json`, for the clients that predate the specification: every well-formed
    /// request is a 200, whatever its errors.
    Json,
}

impl Media {
    /// The media type to answer a request with this `Accept` header; `None` when the caller
    /// accepts neither (406). Without the header, or with `*/*`, the answer is
    /// `application/json`; listed with the same weight, the specification's type wins.
    pub fn negotiate(accept: Option<&str>) -> Option<Self> {
        let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
            return Some(Self::Json);
        };
        let (graphql, graphql_named) = quality(accept, GRAPHQL_RESPONSE);
        let (json, _) = quality(accept, "application/json");
        if graphql <= 0.0 && json <= 0.0 {
            None
        } else if graphql > json || (graphql == json && graphql_named) {
            Some(Self::GraphqlResponse)
        } else {
            Some(Self::Json)
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Self::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
            Self::Json => "application/json; charset=utf-8",
        }
    }
}

/// Whether a GET with this `Accept` header comes from a browser asking for a page: `text/html`
/// named, and weighed at least as much as either JSON type.
pub fn wants_html(accept: Option<&str>) -> bool {
    let Some(accept) = accept else { return false };
    let (html, named) = quality(accept, "text/html");
    named
        && html > 0.0
        && html >= quality(accept, GRAPHQL_RESPONSE).0
        && html >= quality(accept, "application/json").0
}

/// The weight `accept` gives `media` (0 when it does not accept it), and whether it names it
/// rather than matching it by a wildcard. The most specific range decides.
fn quality(accept: &str, media: &str) -> (f32, bool) {
    let family = media.split('/').next().unwrap_or_default();
    let mut best: Option<(u8, f32)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let name = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let specificity = if name == media {
            3
        } else if name.strip_suffix("/*") == Some(family) {
            2
        } else if name == "*/*" {
            1
        } else {
            continue;
        };
        let weight = parts
            .filter_map(|p| p.trim().strip_prefix("q=").or_else(|| p.trim().strip_prefix("Q=")))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0)
            .clamp(0.0, 1.0);
        if best.is_none_or(|(s, _)| specificity > s) {
            best = Some((specificity, weight));
        }
    }
    best.map_or((0.0, false), |(specificity, weight)| (weight, specificity == 3))
}

/// A request refused before it reached GraphQL: its status and the error to show.
#[derive(Debug)]
pub struct Refused {
    /// The HTTP status.
    pub status: StatusCode,
    /// What was wrong, as an error with a code.
    pub error: Error,
}

impl Refused {
    fn bad(message: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, error: Error::InvalidInput(message.into()) }
    }
}

/// The parameters of a GraphQL request, from a POST body or a GET query string.
#[derive(Debug, Default)]
pub struct Params {
    /// The document; absent when a persisted query is asked for by hash.
    pub query: Option<String>,
    /// The operation to run, for a document with several.
    pub operation_name: Option<String>,
    /// The variables: a JSON object, or absent.
    pub variables: Option<serde_json::Map<String, Value>>,
    /// The request's extensions (`persistedQuery`), a JSON object, or absent.
    pub extensions: Option<serde_json::Map<String, Value>>,
}

impl Params {
    /// The parameters of a POST: a JSON object, sent as `application/json` (415 otherwise).
    pub fn from_body(headers: &HeaderMap, body: &[u8]) -> Result<Self, Refused> {
        let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
        let is_json = content_type.is_some_and(|value| {
            let mut parts = value.split(';');
            let media = parts.next().unwrap_or_default().trim();
            let utf8 = parts.all(|p| match p.trim().split_once('=') {
                Some((name, charset)) if name.trim().eq_ignore_ascii_case("charset") => {
                    charset.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
                }
                _ => true,
            });
            media.eq_ignore_ascii_case("application/json") && utf8
        });
        if !is_json {
            return Err(Refused {
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                error: Error::InvalidInput(format!(
                    "a GraphQL POST is sent as `Content-Type: application/json`, not {}",
                    content_type.map_or("without a content type".to_owned(), |t| format!("`{t}`"))
                )),
            });
        }
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| Refused::bad(format!("the body is not JSON: {e}")))?;
        let Value::Object(mut fields) = value else {
            return Err(Refused::bad(
                "the body is a JSON object with `query` (batches are not supported)",
            ));
        };
        Ok(Self {
            query: string(fields.remove("query"), "query")?,
            operation_name: string(fields.remove("operationName"), "operationName")?,
            variables: object(fields.remove("variables"), "variables")?,
            extensions: object(fields.remove("extensions"), "extensions")?,
        })
    }

    /// The parameters of a GET: `query`, `operationName`, and `variables` and `extensions` as
    /// JSON text.
    pub fn from_query_string(query_string: &str) -> Result<Self, Refused> {
        let mut params = Self::default();
        for (name, value) in url_pairs(query_string)? {
            let json = |what: &str| {
                serde_json::from_str::<Value>(&value)
                    .map_err(|e| Refused::bad(format!("`{what}` is not JSON: {e}")))
            };
            match name.as_str() {
                "query" => params.query = Some(value),
                "operationName" => params.operation_name = Some(value).filter(|v| !v.is_empty()),
                "variables" => params.variables = object(Some(json("variables")?), "variables")?,
                "extensions" => {
                    params.extensions = object(Some(json("extensions")?), "extensions")?;
                }
                _ => {}
            }
        }
        Ok(params)
    }
}

/// The `name=value` pairs of a query string, decoded.
fn url_pairs(query_string: &str) -> Result<Vec<(String, String)>, Refused> {
    let uri: axum::http::Uri = format!("/?{query_string}")
        .parse()
        .map_err(|_| Refused::bad("the query string is not valid"))?;
    axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&uri)
        .map(|query| query.0)
        .map_err(|e| Refused::bad(format!("the query string is not valid: {e}")))
}

fn string(value: Option<Value>, name: &str) -> Result<Option<String>, Refused> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Refused::bad(format!("`{name}` is a string"))),
    }
}

fn object(
    value: Option<Value>,
    name: &str,
) -> Result<Option<serde_json::Map<String, Value>>, Refused> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map)),
        Some(_) => Err(Refused::bad(format!("`{name}` is a JSON object"))),
    }
}

/// The body of an answer, in the specification's order; `data` only when the request was
/// executed.
#[derive(Serialize)]
struct Body<'a> {
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    errors: &'a [async_graphql::ServerError],
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a async_graphql::Value>,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    extensions: &'a std::collections::BTreeMap<String, async_graphql::Value>,
}

/// Whether a response comes from a request that was never executed: it has errors, no data,
/// and no error has a path (a root field that fails has one, and leaves `data` null).
pub fn never_executed(response: &async_graphql::Response) -> bool {
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|error| error.path.is_empty())
}

/// The HTTP answer to a request that reached GraphQL, framed for `media`.
pub fn respond(media: Media, response: &async_graphql::Response) -> Response {
    let executed = !never_executed(response);
    let status =
        if executed || media == Media::Json { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    let body = Body {
        errors: &response.errors,
        data: executed.then_some(&response.data),
        extensions: &response.extensions,
    };
    framed(status, media, &body)
}

/// The HTTP answer to a request refused before GraphQL: one error, no `data`.
pub fn refuse(media: Media, status: StatusCode, error: &Error) -> Response {
    let mut shown = async_graphql::ServerError::new(error.public_message(), None);
    shown.extensions = error.to_graphql().extensions;
    let errors = [shown];
    let extensions = std::collections::BTreeMap::new();
    let body = Body { errors: &errors, data: None, extensions: &extensions };
    let mut response = framed(status, media, &body);
    if status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
    }
    response
}

fn framed(status: StatusCode, media: Media, body: &Body<'_>) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => {
            (status, [(header::CONTENT_TYPE, media.content_type())], bytes).into_response()
        }
        Err(error) => {
            tracing::error!(%error, "an answer could not be written as JSON");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_follows_the_specification_and_the_weights() {
        use Media::*;
        for (accept, answer) in [
            (None, Some(Json)),
            (Some("*/*"), Some(Json)),
            (Some("application/json"), Some(Json)),
            (Some(GRAPHQL_RESPONSE), Some(GraphqlResponse)),
            (Some("application/graphql-response+json, application/json"), Some(GraphqlResponse)),
            (Some("application/json, application/graphql-response+json"), Some(GraphqlResponse)),
            (Some("application/graphql-response+json;q=0.5, application/json"), Some(Json)),
            (Some("application/graphql-response+json, */*;q=0.9"), Some(GraphqlResponse)),
            (Some("application/*"), Some(Json)),
            (Some("text/html"), None),
            (Some("application/json;q=0"), None),
            (Some("text/html,application/xhtml+xml,*/*;q=0.8"), Some(Json)),
        ] {
            assert_eq!(Media::negotiate(accept), answer, "Accept: {accept:?}");
        }
    }

    #[test]
    fn a_browser_asks_for_a_page_and_a_client_does_not() {
        assert!(wants_html(Some("text/html,application/xhtml+xml,*/*;q=0.8")));
        assert!(!wants_html(Some("application/json")));
        assert!(!wants_html(Some("*/*")));
        assert!(!wants_html(None));
        assert!(!wants_html(Some("application/graphql-response+json, text/html;q=0.5")));
    }

    fn headers(content_type: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Ok(value) = content_type.parse() {
            headers.insert(header::CONTENT_TYPE, value);
        }
        headers
    }

    #[test]
    fn a_post_is_json_or_refused_with_415() {
        let body = br#"{"query":"{ me { email } }","variables":null}"#;
        for ok in ["application/json", "application/json; charset=utf-8", "Application/JSON"] {
            let params = Params::from_body(&headers(ok), body);
            assert!(params.is_ok_and(|p| p.query.as_deref() == Some("{ me { email } }")), "{ok}");
        }
        for refused in ["", "text/plain", "application/json; charset=latin1", "application/xml"] {
            let refused = Params::from_body(&headers(refused), body).err();
            assert_eq!(refused.map(|r| r.status), Some(StatusCode::UNSUPPORTED_MEDIA_TYPE));
        }
    }

    #[test]
    fn malformed_parameters_are_400_naming_what_is_wrong() {
        for (body, says) in [
            (r#"{"query":"#, "not JSON"),
            (r#"[{"query":"{ a }"}]"#, "batches"),
            (r#"{"query":1}"#, "`query` is a string"),
            (r#"{"query":"{ a }","variables":"x"}"#, "`variables` is a JSON object"),
            (r#"{"query":"{ a }","extensions":[]}"#, "`extensions` is a JSON object"),
            (r#"{"query":"{ a }","operationName":false}"#, "`operationName` is a string"),
        ] {
            let refused = Params::from_body(&headers("application/json"), body.as_bytes()).err();
            assert!(
                refused.is_some_and(|r| r.status == StatusCode::BAD_REQUEST
                    && r.error.public_message().contains(says)),
                "{body}"
            );
        }
    }

    #[test]
    fn a_get_reads_its_parameters_from_the_query_string() -> Result<(), String> {
        let params = Params::from_query_string(
            "query=query%20Q(%24n%3A%20Int)%20%7B%20a%20%7D&operationName=Q&variables=%7B%22n%22%3A1%7D",
        )
        .map_err(|r| format!("{r:?}"))?;
        assert_eq!(params.query.as_deref(), Some("query Q($n: Int) { a }"));
        assert_eq!(params.operation_name.as_deref(), Some("Q"));
        assert_eq!(params.variables.and_then(|v| v.get("n").cloned()), Some(Value::from(1)));
        let refused = Params::from_query_string("query=%7Ba%7D&variables=%7Bnot").err();
        assert_eq!(refused.map(|r| r.status), Some(StatusCode::BAD_REQUEST));
        Ok(())
    }
}
