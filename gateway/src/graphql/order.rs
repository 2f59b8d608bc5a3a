//! Response keys in the order of the selection set, as the GraphQL specification asks.
//!
//! async-graphql 7 resolves the fields of an object concurrently and keeps them in the order
//! they finish, so the same request could answer `{"b":…,"a":…}` one time and `{"a":…,"b":…}`
//! the next. [`in_selection_order`] puts every object of an answer back in the order its
//! fields were selected (fragments in place, a response key at its first selection). It walks
//! the answer one level at a time, so the order of a level is worked out once for every object
//! of a list, and the cost is linear in the size of the answer.

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationDefinition, Selection, SelectionSet,
};
use async_graphql::{Name, Value};

/// How deep fragments may nest inside one level before the walk stops following them
/// (validation has refused cycles already; this only bounds the work). Shared with the walk
/// of [`super::nulls`] and the gathering of [`super::inline`].
pub(crate) const MAX_FRAGMENT_NESTING: usize = 64;

/// The operation of `document` a request with `operation_name` runs, if there is one.
pub fn operation<'d>(
    document: &'d ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<&'d OperationDefinition> {
    match (&document.operations, operation_name) {
        (DocumentOperations::Single(operation), _) => Some(&operation.node),
        (DocumentOperations::Multiple(operations), Some(name)) => {
            operations.get(name).map(|operation| &operation.node)
        }
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
            operations.values().next().map(|operation| &operation.node)
        }
        (DocumentOperations::Multiple(_), None) => None,
    }
}

/// Reorders every object of `data` after the selection sets of `operation`.
pub fn in_selection_order(
    document: &ExecutableDocument,
    operation: &OperationDefinition,
    data: &mut Value,
) {
    reorder(document, &[&operation.selection_set.node], vec![data]);
}

/// One level: every object of `values` (lists flattened) is selected by `sets`.
fn reorder<'d>(
    document: &'d ExecutableDocument,
    sets: &[&'d SelectionSet],
    values: Vec<&mut Value>,
) {
    let mut objects = Vec::new();
    flatten_objects(values, &mut objects);
    if objects.is_empty() {
        return;
    }
    let mut keys: Vec<(&'d str, Vec<&'d SelectionSet>)> = Vec::new();
    for set in sets {
        collect(document, set, &mut keys, 0);
    }
    let position = |name: &Name| keys.iter().position(|(key, _)| *key == name.as_str());
    let mut children: Vec<Vec<&mut Value>> = keys.iter().map(|_| Vec::new()).collect();
    for object in objects {
        // Fields resolved at once arrive in order; only those that waited (relations) are
        // out of place. Anything not selected (there should be nothing) goes to the end.
        let rank = |name: &Name| position(name).unwrap_or(usize::MAX);
        if !object.keys().map(rank).is_sorted() {
            object.sort_by_cached_key(|name, _| rank(name));
        }
        for (name, value) in object.iter_mut() {
            if let Some(index) = position(name) {
                children[index].push(value);
            }
        }
    }
    for ((_, sets), values) in keys.iter().zip(children) {
        if !sets.is_empty() {
            reorder(document, sets, values);
        }
    }
}

type Object = async_graphql::indexmap::IndexMap<Name, Value>;

fn flatten_objects<'v>(values: Vec<&'v mut Value>, into: &mut Vec<&'v mut Object>) {
    for value in values {
        match value {
            Value::Object(object) => into.push(object),
            Value::List(items) => flatten_objects(items.iter_mut().collect(), into),
            _ => {}
        }
    }
}

/// The response keys `set` selects, in order, each with the selection sets below it.
fn collect<'d>(
    document: &'d ExecutableDocument,
    set: &'d SelectionSet,
    keys: &mut Vec<(&'d str, Vec<&'d SelectionSet>)>,
    nesting: usize,
) {
    for selection in &set.items {
        match &selection.node {
            Selection::Field(field) => {
                let key = field.node.response_key().node.as_str();
                let below = &field.node.selection_set.node;
                match keys.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, sets)) => sets.push(below),
                    None => keys.push((key, vec![below])),
                }
            }
            Selection::FragmentSpread(spread) if nesting < MAX_FRAGMENT_NESTING => {
                if let Some(fragment) = document.fragments.get(&spread.node.fragment_name.node) {
                    collect(document, &fragment.node.selection_set.node, keys, nesting + 1);
                }
            }
            Selection::InlineFragment(inline) if nesting < MAX_FRAGMENT_NESTING => {
                collect(document, &inline.node.selection_set.node, keys, nesting + 1);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ordered(query: &str, data: &str) -> Result<String, String> {
        let document = async_graphql::parser::parse_query(query).map_err(|e| e.to_string())?;
        let operation = operation(&document, None).ok_or("no operation")?;
        let json: serde_json::Value = serde_json::from_str(data).map_err(|e| e.to_string())?;
        let mut value = Value::from_json(json).map_err(|e| e.to_string())?;
        in_selection_order(&document, operation, &mut value);
        serde_json::to_string(&value).map_err(|e| e.to_string())
    }

    #[test]
    fn objects_follow_the_selection_through_lists_aliases_and_fragments() -> Result<(), String> {
        let query = "{ team { ...T name } me { email id } }
                     fragment T on Team { workflows { nodes { b: name ... on Workflow { a: id } } } }";
        let data = r#"{"me":{"id":1,"email":"e"},"team":{"name":"n","workflows":{"nodes":[
            {"a":1,"b":"x"},{"a":2,"b":"y"}]}}}"#;
        assert_eq!(
            ordered(query, data)?,
            r#"{"team":{"workflows":{"nodes":[{"b":"x","a":1},{"b":"y","a":2}]},"name":"n"},"me":{"email":"e","id":1}}"#
        );
        Ok(())
    }

    #[test]
    fn a_key_selected_twice_keeps_its_first_place_and_merges_what_is_below() -> Result<(), String> {
        let query = "{ me { email } team { name } me { id email } }";
        let data = r#"{"team":{"name":"n"},"me":{"id":1,"email":"e"}}"#;
        assert_eq!(ordered(query, data)?, r#"{"me":{"email":"e","id":1},"team":{"name":"n"}}"#);
        Ok(())
    }
}
