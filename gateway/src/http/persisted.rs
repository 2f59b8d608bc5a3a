//! Apollo's automatic persisted queries: a client sends only a document's SHA-256 (in
//! `extensions.persistedQuery`); a gateway that does not know it answers
//! `PERSISTED_QUERY_NOT_FOUND`, and the client sends the document with its hash, which is kept
//! for next time. The kept documents are bounded in number and in bytes; the oldest go first.
//!
//! Trusted documents (`--trusted-documents FILE`): the gateway runs only the documents of a
//! list built with the client apps (Apollo's persisted query manifest, or a JSON object of
//! SHA-256 → document as GraphQL Code Generator and Relay write it). A client sends a
//! document's hash (`PERSISTED_QUERY_NOT_IN_LIST` when the list lacks it) or the document
//! itself (`QUERY_NOT_IN_SAFELIST` when it is not on the list); nothing is learned from
//! requests. The platform operator's requests are exempt: their documents are the CLI's.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::sync::locked;

/// How many documents are kept at most.
const MAX_DOCUMENTS: usize = 10_000;
/// How many bytes of documents are kept at most.
const MAX_BYTES: usize = 32 << 20;

/// The documents clients registered by hash, or the trusted documents.
#[derive(Default)]
pub struct PersistedQueries {
    known: Mutex<Known>,
    /// When set, the only documents that run (but the operator's), by hash.
    trusted: Option<HashMap<String, Arc<str>>>,
}

#[derive(Default)]
struct Known {
    by_hash: HashMap<String, Arc<str>>,
    oldest_first: VecDeque<String>,
    bytes: usize,
}

impl PersistedQueries {
    /// Only the documents of `manifest` run: Apollo's persisted query manifest
    /// (`{"format": "apollo-persisted-query-manifest", "operations": [{"id", "body"}, …]}`)
    /// or an object of SHA-256 → document. Each hash must be its document's.
    pub fn trusted(manifest: &str) -> Result<Self, Error> {
        let invalid = |why: String| Error::Config(format!("the trusted documents: {why}"));
        let value: Value =
            serde_json::from_str(manifest).map_err(|e| invalid(format!("not JSON: {e}")))?;
        let pairs: Vec<(String, String)> = match &value {
            Value::Object(object) if object.contains_key("operations") => object["operations"]
                .as_array()
                .ok_or_else(|| invalid("`operations` is not a list".into()))?
                .iter()
                .map(|operation| {
                    let field = |name: &str| operation.get(name).and_then(Value::as_str);
                    match (field("id"), field("body")) {
                        (Some(id), Some(body)) => Ok((id.to_owned(), body.to_owned())),
                        _ => Err(invalid("every operation has an `id` and a `body`".into())),
                    }
                })
                .collect::<Result<_, _>>()?,
            Value::Object(object) => object
                .iter()
                .map(|(hash, body)| match body.as_str() {
                    Some(body) => Ok((hash.clone(), body.to_owned())),
                    None => Err(invalid(format!("the document of {hash} is not a string"))),
                })
                .collect::<Result<_, _>>()?,
            _ => return Err(invalid("neither a manifest nor an object of documents".into())),
        };
        let mut trusted = HashMap::new();
        for (hash, body) in pairs {
            let hash = hash.trim_start_matches("sha256:").to_ascii_lowercase();
            if hex(&Sha256::digest(body.as_bytes())) != hash {
                return Err(invalid(format!("{hash} is not the SHA-256 of its document")));
            }
            trusted.insert(hash, Arc::from(body));
        }
        Ok(Self { known: Mutex::default(), trusted: Some(trusted) })
    }

    /// How many trusted documents there are, when only they run.
    pub fn trusted_count(&self) -> Option<usize> {
        self.trusted.as_ref().map(HashMap::len)
    }

    /// The document a request runs: the one it sends (kept under its hash, when it names one,
    /// after checking that the hash is the document's), or the one kept under its hash. With
    /// trusted documents, only those (but for the platform `operator`).
    pub fn resolve(
        &self,
        query: Option<String>,
        extensions: Option<&Map<String, Value>>,
        operator: bool,
    ) -> Result<String, Error> {
        let hash = match extensions.and_then(|e| e.get("persistedQuery")) {
            None | Some(Value::Null) => None,
            Some(persisted) => Some(requested_hash(persisted)?),
        };
        if let Some(trusted) = self.trusted.as_ref().filter(|_| !operator) {
            return match (query, hash) {
                (None, Some(hash)) => {
                    trusted.get(&hash).map(|body| body.to_string()).ok_or_else(|| {
                        Error::NotTrusted {
                            code: "PERSISTED_QUERY_NOT_IN_LIST",
                            message: format!("no trusted document has the hash {hash}"),
                        }
                    })
                }
                (Some(query), _)
                    if trusted.contains_key(&hex(&Sha256::digest(query.as_bytes()))) =>
                {
                    Ok(query)
                }
                (Some(_), _) => Err(Error::NotTrusted {
                    code: "QUERY_NOT_IN_SAFELIST",
                    message: "this gateway runs only its trusted documents, and this is not one \
                              of them"
                        .into(),
                }),
                (None, None) => Err(Error::InvalidInput(
                    "a GraphQL request has a `query` (or a persisted query's hash)".into(),
                )),
            };
        }
        match (query, hash) {
            (Some(query), None) => Ok(query),
            (None, None) => Err(Error::InvalidInput(
                "a GraphQL request has a `query` (or a persisted query's hash)".into(),
            )),
            (None, Some(hash)) => self.get(&hash).ok_or(Error::PersistedQueryNotFound),
            (Some(query), Some(hash)) => {
                if hex(&Sha256::digest(query.as_bytes())) != hash {
                    return Err(Error::InvalidInput(
                        "extensions.persistedQuery.sha256Hash is not the SHA-256 of the query"
                            .into(),
                    ));
                }
                self.keep(hash, &query);
                Ok(query)
            }
        }
    }

    fn get(&self, hash: &str) -> Option<String> {
        let known = locked(&self.known);
        known.by_hash.get(hash).map(|query| query.to_string())
    }

    fn keep(&self, hash: String, query: &str) {
        if query.len() > MAX_BYTES {
            return;
        }
        let mut known = locked(&self.known);
        if known.by_hash.contains_key(&hash) {
            return;
        }
        while known.by_hash.len() >= MAX_DOCUMENTS || known.bytes + query.len() > MAX_BYTES {
            let Some(oldest) = known.oldest_first.pop_front() else { break };
            if let Some(gone) = known.by_hash.remove(&oldest) {
                known.bytes -= gone.len();
            }
        }
        known.bytes += query.len();
        known.oldest_first.push_back(hash.clone());
        known.by_hash.insert(hash, Arc::from(query));
    }
}

/// The hash of `extensions.persistedQuery`: version 1, a SHA-256 in hexadecimal.
fn requested_hash(persisted: &Value) -> Result<String, Error> {
    let invalid = |what: &str| Error::InvalidInput(format!("extensions.persistedQuery: {what}"));
    if persisted.get("version").and_then(Value::as_u64) != Some(1) {
        return Err(invalid("only version 1 is supported"));
    }
    let hash = persisted
        .get("sha256Hash")
        .and_then(Value::as_str)
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| invalid("sha256Hash is a SHA-256 in hexadecimal"))?;
    Ok(hash.to_ascii_lowercase())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn extensions(hash: &str) -> Map<String, Value> {
        let value = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn a_hash_is_unknown_until_its_document_is_sent_with_it() {
        let queries = PersistedQueries::default();
        let query = "{ me { email } }";
        let hash = hex(&Sha256::digest(query.as_bytes()));
        let ext = extensions(&hash);
        assert!(matches!(
            queries.resolve(None, Some(&ext), false),
            Err(Error::PersistedQueryNotFound)
        ));
        assert_eq!(
            queries.resolve(Some(query.into()), Some(&ext), false).ok().as_deref(),
            Some(query)
        );
        assert_eq!(queries.resolve(None, Some(&ext), false).ok().as_deref(), Some(query));
    }

    #[test]
    fn a_wrong_hash_or_version_is_invalid_input() {
        let queries = PersistedQueries::default();
        let wrong = extensions(&"0".repeat(64));
        let result = queries.resolve(Some("{ a }".into()), Some(&wrong), false);
        assert!(matches!(result, Err(Error::InvalidInput(_))));
        assert!(matches!(
            queries.resolve(None, Some(&wrong), false),
            Err(Error::PersistedQueryNotFound)
        ));
        let old = json!({ "persistedQuery": { "version": 2, "sha256Hash": "0".repeat(64) } });
        let result = queries.resolve(None, old.as_object(), false);
        assert!(matches!(result, Err(Error::InvalidInput(_))));
        assert!(matches!(queries.resolve(None, None, false), Err(Error::InvalidInput(_))));
    }

    #[test]
    fn with_trusted_documents_only_they_run_whichever_way_they_are_sent() {
        let listed = "{ me { email } }";
        let hash = hex(&Sha256::digest(listed.as_bytes()));
        let apollo = json!({ "format": "apollo-persisted-query-manifest", "version": 1,
            "operations": [{ "id": hash, "name": "Me", "type": "query", "body": listed }] });
        let codegen = json!({ format!("sha256:{hash}"): listed });
        for manifest in [apollo, codegen] {
            let Ok(queries) = PersistedQueries::trusted(&manifest.to_string()) else {
                panic!("{manifest} was refused");
            };
            assert_eq!(queries.trusted_count(), Some(1));
            let by_hash = queries.resolve(None, Some(&extensions(&hash)), false);
            assert_eq!(by_hash.ok().as_deref(), Some(listed));
            assert_eq!(
                queries.resolve(Some(listed.into()), None, false).ok().as_deref(),
                Some(listed)
            );
            let code = |result: Result<String, Error>| result.err().map(|e| e.code());
            let other = "{ team { name } }";
            let other_hash = hex(&Sha256::digest(other.as_bytes()));
            assert_eq!(
                code(queries.resolve(Some(other.into()), None, false)),
                Some("QUERY_NOT_IN_SAFELIST")
            );
            // Sending a document with its hash does not put it on the list.
            let registered =
                queries.resolve(Some(other.into()), Some(&extensions(&other_hash)), false);
            assert_eq!(code(registered), Some("QUERY_NOT_IN_SAFELIST"));
            assert_eq!(
                code(queries.resolve(None, Some(&extensions(&other_hash)), false)),
                Some("PERSISTED_QUERY_NOT_IN_LIST")
            );
            // The operator's own documents run.
            assert_eq!(
                queries.resolve(Some(other.into()), None, true).ok().as_deref(),
                Some(other)
            );
        }
        let lying = json!({ "0".repeat(64): "{ me { email } }" });
        assert!(PersistedQueries::trusted(&lying.to_string()).is_err());
        assert!(PersistedQueries::trusted("[]").is_err());
    }

    #[test]
    fn the_oldest_documents_go_first() {
        let queries = PersistedQueries::default();
        for n in 0..MAX_DOCUMENTS + 5 {
            let query = format!("{{ a{n} }}");
            let hash = hex(&Sha256::digest(query.as_bytes()));
            let _ = queries.resolve(Some(query), Some(&extensions(&hash)), false);
        }
        let first = hex(&Sha256::digest(b"{ a0 }"));
        assert!(queries.get(&first).is_none());
        let last = hex(&Sha256::digest(format!("{{ a{} }}", MAX_DOCUMENTS + 4).as_bytes()));
        assert!(queries.get(&last).is_some());
    }
}
