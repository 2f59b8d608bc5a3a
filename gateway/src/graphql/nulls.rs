//! A nullable field that fails resolves to `null`, with its error at that path.
//!
//! That is what the GraphQL specification asks, and what domain §6 promises a frontend: a
//! field it may not read is `null` with a `FORBIDDEN` error, the rest of the response intact.
//! async-graphql 7 instead leaves the key of a failed field out of its parent object. Two
//! things put the `null` back, without an extension (any extension makes async-graphql do
//! more work for every field of every object):
//!
//! * a field the policy denies through [`super::context::read`] records its error, with its
//!   path, in the request's [`FieldErrors`], and resolves to `null`;
//! * after execution, [`restore`] puts `null` under the key of every other field that failed,
//!   where the schema ([`Shape`]) declares it nullable. A non-null field stays out, as
//!   async-graphql leaves it.

use std::sync::{Arc, Mutex};

use async_graphql::parser::types::{
    ExecutableDocument, Field, OperationDefinition, Selection, SelectionSet,
};
use async_graphql::{Name, PathSegment, QueryPathSegment, ServerError, Value};

use super::order::MAX_FRAGMENT_NESTING;
use super::shape::{Returns, Shape};
use crate::sync::locked;

/// The errors of fields that resolved to `null`, in the order they happened.
#[derive(Clone, Default)]
pub struct FieldErrors(Arc<Mutex<Vec<ServerError>>>);

impl FieldErrors {
    /// Records the error of a field that resolves to `null`.
    pub(crate) fn record(&self, error: ServerError) {
        locked(&self.0).push(error);
    }

    /// Takes the recorded errors.
    pub fn take(&self) -> Vec<ServerError> {
        std::mem::take(&mut *locked(&self.0))
    }
}

/// The path of the field being resolved, as an error carries it.
pub(crate) fn path(ctx: &async_graphql::Context<'_>) -> Vec<PathSegment> {
    let Some(node) = ctx.path_node.as_ref() else { return Vec::new() };
    let mut segments: Vec<PathSegment> = std::iter::once(node)
        .chain(node.parents())
        .map(|node| match node.segment {
            QueryPathSegment::Name(name) => PathSegment::Field(name.to_owned()),
            QueryPathSegment::Index(index) => PathSegment::Index(index),
        })
        .collect();
    segments.reverse();
    segments
}

/// Puts `null` under the key of every field of `response` that failed and may be null.
pub fn restore(
    shape: &Shape,
    document: &ExecutableDocument,
    operation: &OperationDefinition,
    response: &mut async_graphql::Response,
) {
    for error in &response.errors {
        let nullable = returns_at(shape, document, operation, &error.path)
            .is_some_and(|returns| returns.nullable);
        if nullable {
            put_null(&mut response.data, &error.path);
        }
    }
}

/// What the field at `path` returns: its response keys followed through the operation's
/// selections (aliases and fragments included), each field looked up on its parent's type.
fn returns_at<'a>(
    shape: &'a Shape,
    document: &'a ExecutableDocument,
    operation: &'a OperationDefinition,
    path: &[PathSegment],
) -> Option<&'a Returns> {
    let mut sets = vec![(&operation.selection_set.node, shape.root(operation.ty))];
    let mut returns = None;
    for segment in path {
        let PathSegment::Field(key) = segment else { continue };
        let mut found = Vec::new();
        for (set, ty) in &sets {
            select(document, set, ty, key, &mut found, 0);
        }
        let (field, ty) = found.first()?;
        let field_returns = shape.field(ty, field.name.node.as_str())?;
        let below = field_returns.named.as_str();
        sets = found.iter().map(|(field, _)| (&field.selection_set.node, below)).collect();
        returns = Some(field_returns);
    }
    returns
}

/// The fields of `set` (on type `ty`) answered under `key`, each with the type it is
/// selected on (a fragment's type condition, or `ty`).
fn select<'a>(
    document: &'a ExecutableDocument,
    set: &'a SelectionSet,
    ty: &'a str,
    key: &str,
    found: &mut Vec<(&'a Field, &'a str)>,
    nesting: usize,
) {
    for selection in &set.items {
        match &selection.node {
            Selection::Field(field) if field.node.response_key().node == key => {
                found.push((&field.node, ty));
            }
            Selection::InlineFragment(inline) if nesting < MAX_FRAGMENT_NESTING => {
                let on =
                    inline.node.type_condition.as_ref().map_or(ty, |c| c.node.on.node.as_str());
                select(document, &inline.node.selection_set.node, on, key, found, nesting + 1);
            }
            Selection::FragmentSpread(spread) if nesting < MAX_FRAGMENT_NESTING => {
                if let Some(fragment) = document.fragments.get(&spread.node.fragment_name.node) {
                    let on = fragment.node.type_condition.node.on.node.as_str();
                    let set = &fragment.node.selection_set.node;
                    select(document, set, on, key, found, nesting + 1);
                }
            }
            _ => {}
        }
    }
}

/// Sets the key at the end of `path` to `null` in `data`, if its parent object is there and
/// lacks it (a root field that failed alone leaves `data` itself `null`).
fn put_null(data: &mut Value, path: &[PathSegment]) {
    let Some((PathSegment::Field(key), parents)) = path.split_last() else { return };
    if parents.is_empty() && matches!(data, Value::Null) {
        *data = Value::Object(Default::default());
    }
    let mut value = data;
    for segment in parents {
        let next = match (segment, value) {
            (PathSegment::Field(name), Value::Object(object)) => object.get_mut(name.as_str()),
            (PathSegment::Index(index), Value::List(items)) => items.get_mut(*index),
            _ => None,
        };
        let Some(next) = next else { return };
        value = next;
    }
    if let Value::Object(object) = value
        && !object.contains_key(key.as_str())
    {
        object.insert(Name::new(key), Value::Null);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SDL: &str = "type Query { team: Team node: Node me: User! }
        type Team { name: String workflows: [Workflow!]! }
        type Workflow { name: String runs: Int! }
        type User { email: String }
        interface Node { id: ID }";

    /// The answer to `query` whose data was `data` and whose fields at `failed` failed.
    fn restored(query: &str, data: &str, failed: &[&[PathSegment]]) -> Result<String, String> {
        let document = async_graphql::parser::parse_query(query).map_err(|e| e.to_string())?;
        let operation = super::super::order::operation(&document, None).ok_or("no operation")?;
        let json: serde_json::Value = serde_json::from_str(data).map_err(|e| e.to_string())?;
        let mut response =
            async_graphql::Response::new(Value::from_json(json).map_err(|e| e.to_string())?);
        for path in failed {
            let mut error = ServerError::new("denied", None);
            error.path = path.to_vec();
            response.errors.push(error);
        }
        restore(&Shape::of(SDL), &document, operation, &mut response);
        serde_json::to_string(&response.data).map_err(|e| e.to_string())
    }

    fn field(name: &str) -> PathSegment {
        PathSegment::Field(name.into())
    }

    #[test]
    fn a_failed_nullable_field_is_null_through_lists_aliases_and_fragments() -> Result<(), String> {
        let query = "{ team { ...T } } fragment T on Team { flows: workflows { title: name } }";
        let data = r#"{"team":{"flows":[{"title":"a"},{}]}}"#;
        let path = [field("team"), field("flows"), PathSegment::Index(1), field("title")];
        let expected = r#"{"team":{"flows":[{"title":"a"},{"title":null}]}}"#;
        assert_eq!(restored(query, data, &[&path])?, expected);
        Ok(())
    }

    #[test]
    fn a_failed_non_null_field_stays_out() -> Result<(), String> {
        let query = "{ team { workflows { runs } } }";
        let data = r#"{"team":{"workflows":[{}]}}"#;
        let path = [field("team"), field("workflows"), PathSegment::Index(0), field("runs")];
        assert_eq!(restored(query, data, &[&path])?, data);
        assert_eq!(restored("{ me { email } }", "null", &[&[field("me")]])?, "null");
        Ok(())
    }

    #[test]
    fn a_failed_root_field_is_null_beside_the_others() -> Result<(), String> {
        assert_eq!(restored("{ team { name } }", "null", &[&[field("team")]])?, r#"{"team":null}"#);
        let query = "{ node { ... on Node { id } } }";
        let failed: &[PathSegment] = &[field("node"), field("id")];
        assert_eq!(restored(query, r#"{"node":{}}"#, &[failed])?, r#"{"node":{"id":null}}"#);
        Ok(())
    }

    #[test]
    fn errors_without_a_path_or_a_field_in_the_schema_change_nothing() -> Result<(), String> {
        let data = r#"{"team":{}}"#;
        assert_eq!(restored("{ team { name } }", data, &[&[]])?, data);
        let unknown: &[PathSegment] = &[field("team"), field("nope")];
        assert_eq!(restored("{ team { nope } }", data, &[unknown])?, data);
        Ok(())
    }
}
