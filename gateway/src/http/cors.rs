//! Cross-origin requests: which browser origins may call the API (`--cors-origin`, none by
//! default). A preflight from an allowed origin is answered for the methods and headers the
//! API uses; any other origin gets no CORS headers, so the browser keeps the answer from it.
//! Credentials travel in the `Authorization` header, never in cookies, so none are allowed.

use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::error::Error;

/// The origins allowed to call the API from a browser.
#[derive(Clone, Debug, Default)]
pub enum Origins {
    /// None: no CORS headers at all (the default).
    #[default]
    None,
    /// Every origin (`*`).
    Any,
    /// These origins, exactly.
    Listed(Vec<HeaderValue>),
}

impl Origins {
    /// The origins given as `--cors-origin` values: `*`, or origins such as
    /// `https://app.example.com` or `http://localhost:3000` (scheme, host, optional port).
    pub fn parse(given: &[String]) -> Result<Self, Error> {
        let given: Vec<&str> = given.iter().map(|o| o.trim()).filter(|o| !o.is_empty()).collect();
        if given.is_empty() {
            return Ok(Self::None);
        }
        if given.contains(&"*") {
            return Ok(Self::Any);
        }
        let mut listed = Vec::new();
        for origin in given {
            let origin = origin.trim_end_matches('/');
            let valid = origin.split_once("://").is_some_and(|(scheme, rest)| {
                matches!(scheme, "http" | "https")
                    && !rest.is_empty()
                    && !rest.contains(['/', '?', '#', '@'])
            });
            let value = HeaderValue::from_str(origin).ok().filter(|_| valid).ok_or_else(|| {
                Error::Config(format!(
                    "--cors-origin {origin:?} is not an origin: give `*` or a scheme, host and \
                     optional port, e.g. https://app.example.com or http://localhost:3000"
                ))
            })?;
            listed.push(value);
        }
        Ok(Self::Listed(listed))
    }

    /// The layer answering preflights and marking answers for these origins, if any.
    pub fn layer(&self) -> Option<CorsLayer> {
        let allow = match self {
            Self::None => return None,
            Self::Any => AllowOrigin::any(),
            Self::Listed(origins) => AllowOrigin::list(origins.iter().cloned()),
        };
        Some(
            CorsLayer::new()
                .allow_origin(allow)
                .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
                .allow_headers([
                    header::AUTHORIZATION,
                    header::CONTENT_TYPE,
                    header::ACCEPT,
                    HeaderName::from_static(super::auth::TEAM_HEADER),
                    HeaderName::from_static("x-request-id"),
                    HeaderName::from_static("traceparent"),
                    HeaderName::from_static("apollographql-client-name"),
                    HeaderName::from_static("apollographql-client-version"),
                    HeaderName::from_static("apollo-require-preflight"),
                ])
                .expose_headers([HeaderName::from_static("x-request-id")])
                .max_age(Duration::from_secs(600)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_checked_when_given() {
        let parse = |given: &[&str]| {
            Origins::parse(&given.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        };
        assert!(matches!(parse(&[]), Ok(Origins::None)));
        assert!(matches!(parse(&["*"]), Ok(Origins::Any)));
        assert!(matches!(
            parse(&["https://app.example.com", "http://localhost:3000/"]),
            Ok(Origins::Listed(listed)) if listed.len() == 2 && listed[1] == "http://localhost:3000"
        ));
        for bad in ["app.example.com", "ftp://x", "https://x/path", "https://"] {
            assert!(matches!(parse(&[bad]), Err(Error::Config(_))), "{bad}");
        }
    }
}
