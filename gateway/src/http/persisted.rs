//! Apollo's automatic persisted queries: a client sends only a document's SHA-256 (in
//! `extensions.persistedQuery`); a gateway that does not know it answers
//! `PERSISTED_QUERY_NOT_FOUND`, and the client sends the document with its hash, which is kept
//! for next time. The kept documents are bounded in number and in bytes; the oldest go first.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::error::Error;

/// How many documents are kept at most.
const MAX_DOCUMENTS: usize = 10_000;
/// How many bytes of documents are kept at most.
const MAX_BYTES: usize = 32 << 20;

/// The documents clients registered by hash.
#[derive(Default)]
pub struct PersistedQueries {
    known: Mutex<Known>,
}

#[derive(Default)]
struct Known {
    by_hash: HashMap<String, Arc<str>>,
    oldest_first: VecDeque<String>,
    bytes: usize,
}

impl PersistedQueries {
    /// The document a request runs: the one it sends (kept under its hash, when it names one,
    /// after checking that the hash is the document's), or the one kept under its hash.
    pub fn resolve(
        &self,
        query: Option<String>,
        extensions: Option<&Map<String, Value>>,
    ) -> Result<String, Error> {
        let hash = match extensions.and_then(|e| e.get("persistedQuery")) {
            None | Some(Value::Null) => None,
            Some(persisted) => Some(requested_hash(persisted)?),
        };
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
        let known = self.known.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        known.by_hash.get(hash).map(|query| query.to_string())
    }

    fn keep(&self, hash: String, query: &str) {
        if query.len() > MAX_BYTES {
            return;
        }
        let mut known = self.known.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
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
        assert!(matches!(queries.resolve(None, Some(&ext)), Err(Error::PersistedQueryNotFound)));
        assert_eq!(queries.resolve(Some(query.into()), Some(&ext)).ok().as_deref(), Some(query));
        assert_eq!(queries.resolve(None, Some(&ext)).ok().as_deref(), Some(query));
    }

    #[test]
    fn a_wrong_hash_or_version_is_invalid_input() {
        let queries = PersistedQueries::default();
        let wrong = extensions(&"0".repeat(64));
        let result = queries.resolve(Some("{ a }".into()), Some(&wrong));
        assert!(matches!(result, Err(Error::InvalidInput(_))));
        assert!(matches!(queries.resolve(None, Some(&wrong)), Err(Error::PersistedQueryNotFound)));
        let old = json!({ "persistedQuery": { "version": 2, "sha256Hash": "0".repeat(64) } });
        let result = queries.resolve(None, old.as_object());
        assert!(matches!(result, Err(Error::InvalidInput(_))));
        assert!(matches!(queries.resolve(None, None), Err(Error::InvalidInput(_))));
    }

    #[test]
    fn the_oldest_documents_go_first() {
        let queries = PersistedQueries::default();
        for n in 0..MAX_DOCUMENTS + 5 {
            let query = format!("{{ a{n} }}");
            let hash = hex(&Sha256::digest(query.as_bytes()));
            let _ = queries.resolve(Some(query), Some(&extensions(&hash)));
        }
        let first = hex(&Sha256::digest(b"{ a0 }"));
        assert!(queries.get(&first).is_none());
        let last = hex(&Sha256::digest(format!("{{ a{} }}", MAX_DOCUMENTS + 4).as_bytes()));
        assert!(queries.get(&last).is_some());
    }
}
