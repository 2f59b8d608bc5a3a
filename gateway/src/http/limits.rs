//! Limits on what one document may ask, checked before anything runs, with or without
//! credentials: how deep it nests, how many aliases it uses, how many fields it selects once
//! its fragments are spread, and a complexity budget: how many objects its lists could return,
//! page sizes multiplying what is below them (as GitHub's API counts nodes). Each refusal has
//! its own code.
//!
//! The check is linear in the size of the document: brackets are counted before parsing (a
//! document nested far beyond the limit is refused without building it), and each fragment is
//! measured once, so a document of nested fragments costs its length to check, never its
//! expansion.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::parser::types::{
    ExecutableDocument, Field, OperationDefinition, OperationType, Selection, SelectionSet,
};
use serde_json::{Map, Value};

use crate::error::Error;
use crate::graphql::shape::Shape;

/// The page a connection field answers without `first`.
const DEFAULT_PAGE: u64 = 50;
/// The largest page a connection answers (a larger `first` is refused by the field itself).
const MAX_PAGE: u64 = 1000;
/// What an introspection list (`types`, `fields`, …) is assumed to hold, for the budget.
const INTROSPECTION_LIST: u64 = 10;
/// The introspection fields that answer lists.
const INTROSPECTION_LISTS: [&str; 8] = [
    "types",
    "fields",
    "args",
    "inputFields",
    "interfaces",
    "possibleTypes",
    "enumValues",
    "directives",
];

/// The limits, with safe defaults (all configurable from `serve`).
#[derive(Clone, Debug)]
pub struct Limits {
    /// How deeply fields may nest.
    pub max_depth: usize,
    /// How many aliases a document may use (counted through its fragments).
    pub max_aliases: u64,
    /// How many fields a document may select once its fragments are spread.
    pub max_fields: u64,
    /// The complexity budget: how many objects the lists of a document could return, each
    /// page (of `first`, 50 without) multiplying what is below it.
    pub max_complexity: u64,
    /// The largest request body read from a caller with valid credentials.
    pub max_body_bytes: usize,
    /// The largest request body read from a caller without (enough for GraphiQL's
    /// introspection, which is all such a caller may run).
    pub max_anonymous_body_bytes: usize,
    /// How long a caller may take to send the body of a request.
    pub body_read_timeout: Duration,
    /// How long a request may take to be answered once its body is read.
    pub request_timeout: Duration,
    /// What every field returns, and which answer a page.
    shape: Arc<Shape>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_depth: 16,
            max_aliases: 512,
            max_fields: 10_000,
            max_complexity: 500_000,
            max_body_bytes: 1 << 20,
            max_anonymous_body_bytes: 16 << 10,
            body_read_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(30),
            shape: Arc::default(),
        }
    }
}

/// What a selection costs.
#[derive(Clone, Copy, Default)]
struct Measure {
    depth: usize,
    aliases: u64,
    fields: u64,
    nodes: u64,
}

impl Limits {
    /// These limits, knowing the schema's shape: which fields answer a page.
    #[must_use]
    pub fn for_schema(mut self, shape: Arc<Shape>) -> Self {
        self.shape = shape;
        self
    }

    /// The refusal of a body larger than `limit` bytes.
    pub fn body_too_large(limit: usize, anonymous: bool) -> Error {
        let whose = if anonymous { " without valid credentials" } else { "" };
        Error::Limit {
            code: "BODY_TOO_LARGE",
            message: format!("a request body{whose} is at most {limit} bytes"),
        }
    }

    /// The refusal of a body that did not arrive within the body timeout.
    pub fn body_too_slow(&self) -> Error {
        Error::Limit {
            code: "BODY_TIMEOUT",
            message: format!(
                "the request body did not arrive within {}",
                seconds(self.body_read_timeout)
            ),
        }
    }

    /// The refusal of a request that was not answered within the request timeout; whatever
    /// it was writing is rolled back.
    pub fn too_slow(&self) -> Error {
        Error::Limit {
            code: "REQUEST_TIMEOUT",
            message: format!(
                "the request was not answered within {}; nothing it would have written is kept: \
                 ask for less, or try again",
                seconds(self.request_timeout)
            ),
        }
    }

    /// Refuses a document nested far deeper than allowed before it is parsed: its brackets
    /// (outside strings and comments) nest more than twice the depth limit, plus room for
    /// arguments.
    pub fn check_text(&self, query: &str) -> Result<(), Error> {
        let allowed = 2 * self.max_depth + 16;
        let nesting = bracket_nesting(query);
        if nesting > allowed {
            return Err(too_deep(nesting / 2, self.max_depth));
        }
        Ok(())
    }

    /// Refuses `operation` of `document` if it goes past a limit.
    pub fn check(
        &self,
        document: &ExecutableDocument,
        operation: &OperationDefinition,
        variables: Option<&Map<String, Value>>,
    ) -> Result<(), Error> {
        let mut walk = Walk { limits: self, document, variables, fragments: HashMap::new() };
        let root = match operation.ty {
            OperationType::Query => "Query",
            OperationType::Mutation => "Mutation",
            OperationType::Subscription => "Subscription",
        };
        let measure = walk.set(&operation.selection_set.node, Some(root));
        if measure.depth > self.max_depth {
            return Err(too_deep(measure.depth, self.max_depth));
        }
        if measure.aliases > self.max_aliases {
            return Err(Error::Limit {
                code: "TOO_MANY_ALIASES",
                message: format!(
                    "the document uses {} aliases; at most {} are allowed",
                    measure.aliases, self.max_aliases
                ),
            });
        }
        if measure.fields > self.max_fields {
            return Err(Error::Limit {
                code: "TOO_MANY_FIELDS",
                message: format!(
                    "the document selects {} fields once its fragments are spread; at most {} \
                     are allowed",
                    measure.fields, self.max_fields
                ),
            });
        }
        if measure.nodes > self.max_complexity {
            return Err(Error::Limit {
                code: "QUERY_TOO_COMPLEX",
                message: format!(
                    "the document could return {} objects from its lists (a page multiplies what \
                     is below it; a list without `first` is a page of {DEFAULT_PAGE}); the \
                     budget is {}: ask for smaller pages",
                    measure.nodes, self.max_complexity
                ),
            });
        }
        Ok(())
    }
}

/// A duration as a person reads it: `30 s`, `250 ms`.
fn seconds(duration: Duration) -> String {
    if duration.subsec_millis() == 0 {
        format!("{} s", duration.as_secs())
    } else {
        format!("{} ms", duration.as_millis())
    }
}

fn too_deep(depth: usize, max: usize) -> Error {
    Error::Limit {
        code: "QUERY_TOO_DEEP",
        message: format!("the document nests {depth} levels of fields; at most {max} are allowed"),
    }
}

/// The deepest nesting of `{`, `(` and `[` in a document, outside strings and comments.
fn bracket_nesting(query: &str) -> usize {
    let bytes = query.as_bytes();
    let (mut depth, mut deepest, mut i) = (0usize, 0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 2;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' | b'(' | b'[' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b')' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    deepest
}

struct Walk<'a> {
    limits: &'a Limits,
    document: &'a ExecutableDocument,
    variables: Option<&'a Map<String, Value>>,
    /// Fragments measured so far; `None` while one is being measured (a cycle, which
    /// validation refuses, counts nothing here).
    fragments: HashMap<&'a str, Option<Measure>>,
}

impl<'a> Walk<'a> {
    /// A selection set on `ty` (`None`: a type the schema does not list, e.g. introspection's).
    fn set(&mut self, set: &'a SelectionSet, ty: Option<&'a str>) -> Measure {
        let mut total = Measure::default();
        for selection in &set.items {
            let part = match &selection.node {
                Selection::Field(field) => self.field(&field.node, ty),
                Selection::FragmentSpread(spread) => self.fragment(&spread.node.fragment_name.node),
                Selection::InlineFragment(inline) => {
                    let on = inline.node.type_condition.as_ref().map(|c| c.node.on.node.as_str());
                    self.set(&inline.node.selection_set.node, on.or(ty))
                }
            };
            total.depth = total.depth.max(part.depth);
            total.aliases = total.aliases.saturating_add(part.aliases);
            total.fields = total.fields.saturating_add(part.fields);
            total.nodes = total.nodes.saturating_add(part.nodes);
        }
        total
    }

    fn field(&mut self, field: &'a Field, ty: Option<&'a str>) -> Measure {
        let known = ty.and_then(|ty| self.limits.shape.field(ty, field.name.node.as_str()));
        let below =
            self.set(&field.selection_set.node, known.map(|returns| returns.named.as_str()));
        let page = self.page(field, known.is_some_and(|returns| returns.paged));
        Measure {
            depth: below.depth + 1,
            aliases: below.aliases.saturating_add(u64::from(field.alias.is_some())),
            fields: below.fields.saturating_add(1),
            nodes: page.unwrap_or(1).saturating_mul(below.nodes).saturating_add(page.unwrap_or(0)),
        }
    }

    fn fragment(&mut self, name: &'a str) -> Measure {
        if let Some(known) = self.fragments.get(name) {
            return known.unwrap_or_default();
        }
        let Some(fragment) = self.document.fragments.get(name) else {
            return Measure::default();
        };
        self.fragments.insert(name, None);
        let on = fragment.node.type_condition.node.on.node.as_str();
        let measure = self.set(&fragment.node.selection_set.node, Some(on));
        self.fragments.insert(name, Some(measure));
        measure
    }

    /// How many objects `field` answers, if it answers a list: its page size (`paged`: the
    /// schema says it answers a page).
    fn page(&self, field: &Field, paged: bool) -> Option<u64> {
        let name = field.name.node.as_str();
        let first = field.get_argument("first").map(|value| {
            let value = value.node.clone().into_const_with(|variable| {
                let given = self.variables.and_then(|v| v.get(variable.as_str())).cloned();
                given.and_then(|json| async_graphql::Value::from_json(json).ok()).ok_or(())
            });
            match value {
                Ok(async_graphql::Value::Number(n)) => n.as_u64(),
                _ => None,
            }
        });
        match first {
            Some(Some(n)) => Some(n.clamp(1, MAX_PAGE)),
            Some(None) => Some(DEFAULT_PAGE),
            None if paged => Some(DEFAULT_PAGE),
            None if INTROSPECTION_LISTS.contains(&name) => Some(INTROSPECTION_LIST),
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(limits: &Limits, query: &str) -> Result<(), String> {
        limits.check_text(query).map_err(|e| e.code().to_owned())?;
        let document = async_graphql::parser::parse_query(query).map_err(|e| e.to_string())?;
        let operation = crate::graphql::order::operation(&document, None).ok_or("no operation")?;
        limits.check(&document, operation, None).map_err(|e| e.code().to_owned())
    }

    fn limits() -> Limits {
        Limits::default()
            .for_schema(Arc::new(Shape::of("type Query { team: Team } type Team { workflows(first: Int): WorkflowConnection! name: String } type WorkflowConnection { nodes: [Workflow!]! } type Workflow { name: String team: Team }")))
    }

    #[test]
    fn depth_is_counted_through_fragments_and_refused_before_parsing_when_far_over() {
        let limits = limits();
        let nested = |n: usize| format!("{}{}", "{ team ".repeat(n), "}".repeat(n));
        assert_eq!(check(&limits, &format!("{{ team {} }}", "{ name }")), Ok(()));
        assert_eq!(check(&limits, &nested(16)), Ok(()));
        assert_eq!(check(&limits, &nested(17)).err().as_deref(), Some("QUERY_TOO_DEEP"));
        let deep_fragment = format!("{{ ...F }} fragment F on Query {}", nested(17));
        assert_eq!(check(&limits, &deep_fragment).err().as_deref(), Some("QUERY_TOO_DEEP"));
        // A hundred thousand levels are refused by counting brackets, never parsed.
        let huge = "{ a ".repeat(100_000);
        assert_eq!(limits.check_text(&huge).err().map(|e| e.code()), Some("QUERY_TOO_DEEP"));
        // Brackets in strings and comments do not count.
        let quoted =
            format!("{{ team(x: \"{}\") {{ name }} }} # {}", "{".repeat(100), "[".repeat(100));
        assert!(limits.check_text(&quoted).is_ok());
    }

    #[test]
    fn aliases_are_counted_through_fragments() {
        let limits = limits();
        let aliases =
            |n: usize| (0..n).map(|i| format!("a{i}: name")).collect::<Vec<_>>().join(" ");
        assert_eq!(check(&limits, &format!("{{ team {{ {} }} }}", aliases(512))), Ok(()));
        let over = format!("{{ team {{ {} }} }}", aliases(513));
        assert_eq!(check(&limits, &over).err().as_deref(), Some("TOO_MANY_ALIASES"));
        let spread =
            format!("{{ team {{ ...A ...A }} }} fragment A on Team {{ {} }}", aliases(300));
        assert_eq!(check(&limits, &spread).err().as_deref(), Some("TOO_MANY_ALIASES"));
    }

    #[test]
    fn page_sizes_multiply_and_a_fragment_bomb_costs_its_length_to_check() {
        let limits = limits();
        let page = "{ team { workflows(first: 1000) { nodes { name team { name } } } } }";
        assert_eq!(check(&limits, page), Ok(()));
        let nested = "{ team { workflows(first: 1000) { nodes { team { workflows(first: 1000) { nodes { name } } } } } } }";
        assert_eq!(check(&limits, nested).err().as_deref(), Some("QUERY_TOO_COMPLEX"));
        // Without `first` a connection is a page of 50: 50 × 50 × 50 × 50 is over the budget.
        let defaults = "{ team { workflows { nodes { team { workflows { nodes { team { workflows { nodes { team { workflows { nodes { name } } } } } } } } } } } } }";
        assert_eq!(check(&limits, defaults).err().as_deref(), Some("QUERY_TOO_COMPLEX"));
        // Each fragment spreads the one below twice: 2^40 fields, measured in 40 steps.
        let mut bomb = String::from("{ team { ...F0 } } ");
        for i in 0..40 {
            bomb.push_str(&format!("fragment F{i} on Team {{ ...F{} ...F{} }} ", i + 1, i + 1));
        }
        bomb.push_str("fragment F40 on Team { name }");
        assert_eq!(check(&limits, &bomb).err().as_deref(), Some("TOO_MANY_FIELDS"));
    }

    #[test]
    fn the_introspection_query_of_graphiql_fits_and_a_nested_introspection_does_not() {
        let limits = limits();
        // graphql-js's `getIntrospectionQuery()`, which GraphiQL and most clients send.
        let standard = include_str!("limits_introspection.graphql");
        assert_eq!(check(&limits, standard), Ok(()));
        let nested = r#"{ __type(name: "Node") { possibleTypes { fields { type { possibleTypes { fields { type { possibleTypes { fields { type { possibleTypes { fields { name } } } } } } } } } } } } }"#;
        assert_eq!(check(&limits, nested).err().as_deref(), Some("QUERY_TOO_COMPLEX"));
    }
}
