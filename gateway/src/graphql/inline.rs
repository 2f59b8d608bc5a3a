//! Objects whose fields are resolved inline, in the object's own future.
//!
//! async-graphql resolves an object by boxing a future for each selected field and driving
//! them in a set (or one after another, for a serial object), then growing a map of the
//! answers. A list of 1,000 workflows with ten fields each is 10,000 boxes and 1,000 sets,
//! though most fields are ready at once: a memoized decision and a column.
//!
//! [`Inline`] wraps an object type and resolves it differently. Its fields are gathered from
//! the selection (fragments in place) and started together in one allocation (`join_all`
//! keeps up to 30 futures in one slice); each is polled where it stands, and is polled again
//! only while it waits for a relation batch. The answer map is sized once and filled in
//! selection order. Because every field of an object starts at
//! once, the relations of every object of a page are asked for in the same round: a page's
//! four relation fields are one round of batches, not four.
//!
//! The schema does not change: an `Inline<T>` is the type `T` to clients and introspection.

use std::borrow::Cow;

use async_graphql::futures_util::future::{BoxFuture, join_all};
use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{Field, Selection, SelectionSet};
use async_graphql::registry::Registry;
use async_graphql::{
    ContainerType, Context, ContextSelectionSet, Name, OutputType, Positioned, ServerError,
    ServerResult, Value,
};

use super::order::MAX_FRAGMENT_NESTING;

/// An object resolved inline: all its fields started together, without a box per field.
#[derive(Clone, Debug)]
pub struct Inline<T>(pub T);

impl<T> Inline<T> {
    /// Every object of a list, wrapped (in place: the list is not copied).
    pub fn all(objects: Vec<T>) -> Vec<Self> {
        objects.into_iter().map(Inline).collect()
    }
}

impl<T: ContainerType> OutputType for Inline<T> {
    fn type_name() -> Cow<'static, str> {
        T::type_name()
    }

    fn qualified_type_name() -> String {
        T::qualified_type_name()
    }

    fn introspection_type_name(&self) -> Cow<'static, str> {
        self.0.introspection_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        T::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        // Boxed, one box per object: an object type can reach itself through its relations
        // (a job's `retryOf`), and the future of a recursive type has to be named to exist.
        let resolving: BoxFuture<'_, ServerResult<Value>> = Box::pin(resolve(ctx, &self.0));
        resolving.await
    }
}

/// A field of the selection, with its response key.
enum Selected<'a> {
    /// `__typename`, answered from the object's type.
    Typename(Name),
    /// A field the object resolves.
    Field(Name, Context<'a>),
}

/// Resolves `root`'s selected fields together and answers them in selection order.
async fn resolve<T: ContainerType>(ctx: &ContextSelectionSet<'_>, root: &T) -> ServerResult<Value> {
    let mut selected = Vec::with_capacity(ctx.item.node.items.len());
    gather(ctx, &ctx.item.node, root, &mut selected, 0)?;

    let answers = join_all(selected.iter().map(|field| async move {
        match field {
            Selected::Typename(_) => {
                Ok(Some(Value::String(root.introspection_type_name().into_owned())))
            }
            Selected::Field(_, ctx_field) => root.resolve_field(ctx_field).await,
        }
    }))
    .await;

    let mut object = IndexMap::with_capacity(selected.len());
    for (field, answer) in selected.into_iter().zip(answers) {
        let key = match field {
            Selected::Typename(key) | Selected::Field(key, _) => key,
        };
        match answer {
            Ok(value) => merge(&mut object, key, value.unwrap_or_default()),
            Err(error) => ctx.add_error(error),
        }
    }
    Ok(if object.is_empty() { Value::Null } else { Value::Object(object) })
}

/// Adds the fields of `set` that apply to `root` to `selected`, following fragments.
fn gather<'a, T: ContainerType>(
    ctx: &'a ContextSelectionSet<'a>,
    set: &'a SelectionSet,
    root: &T,
    selected: &mut Vec<Selected<'a>>,
    nesting: usize,
) -> ServerResult<()> {
    for selection in &set.items {
        let (condition, inner) = match &selection.node {
            Selection::Field(field) => {
                let key = field.node.response_key().node.clone();
                selected.push(if field.node.name.node == "__typename" {
                    Selected::Typename(key)
                } else {
                    Selected::Field(key, ctx.with_field(field))
                });
                continue;
            }
            Selection::FragmentSpread(spread) => {
                let name = &spread.node.fragment_name.node;
                let Some(fragment) = ctx.query_env.fragments.get(name) else {
                    return Err(ServerError::new(
                        format!("Unknown fragment \"{name}\"."),
                        Some(spread.pos),
                    ));
                };
                (Some(&fragment.node.type_condition), &fragment.node.selection_set)
            }
            Selection::InlineFragment(fragment) => {
                (fragment.node.type_condition.as_ref(), &fragment.node.selection_set)
            }
        };
        if nesting >= MAX_FRAGMENT_NESTING {
            return Err(ServerError::new("fragments nest too deeply", Some(selection.pos)));
        }
        let applies = condition.is_none_or(|condition| {
            let condition = condition.node.on.node.as_str();
            let own = root.introspection_type_name();
            own == condition
                || ctx
                    .schema_env
                    .registry
                    .implements
                    .get(own.as_ref())
                    .is_some_and(|interfaces| interfaces.contains(condition))
        });
        if applies {
            gather(ctx, &inner.node, root, selected, nesting + 1)?;
        }
    }
    Ok(())
}

/// Inserts a field's answer; a response key selected twice merges its objects, as
/// async-graphql does.
fn merge(object: &mut IndexMap<Name, Value>, key: Name, value: Value) {
    let Some(previous) = object.get_mut(&key) else {
        object.insert(key, value);
        return;
    };
    match (previous, value) {
        (Value::Object(previous), Value::Object(value)) => {
            for (key, value) in value {
                merge(previous, key, value);
            }
        }
        (Value::List(previous), Value::List(value)) => {
            for (previous, value) in previous.iter_mut().zip(value) {
                if let (Value::Object(previous), Value::Object(value)) = (previous, value) {
                    for (key, value) in value {
                        merge(previous, key, value);
                    }
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_graphql::{EmptyMutation, EmptySubscription, Interface, Object, Schema};

    use super::*;

    /// Counts the fields of one object that have started, shared by its fields.
    #[derive(Clone, Default)]
    struct Item {
        id: i32,
        started: Arc<AtomicUsize>,
    }

    impl Item {
        /// Waits until both waiting fields of this object have started: it only returns if
        /// the object's fields run together.
        async fn meet(&self) -> i32 {
            self.started.fetch_add(1, Ordering::SeqCst);
            std::future::poll_fn(|cx| {
                if self.started.load(Ordering::SeqCst) >= 2 {
                    std::task::Poll::Ready(())
                } else {
                    cx.waker().wake_by_ref();
                    std::task::Poll::Pending
                }
            })
            .await;
            self.id
        }
    }

    #[Object]
    impl Item {
        async fn id(&self) -> i32 {
            self.id
        }
        async fn name(&self) -> String {
            format!("item {}", self.id)
        }
        async fn left(&self) -> i32 {
            self.meet().await
        }
        async fn right(&self) -> i32 {
            self.meet().await
        }
        async fn broken(&self) -> async_graphql::Result<i32> {
            Err("broken on purpose".into())
        }
        async fn next(&self) -> Inline<Item> {
            Inline(Item { id: self.id + 1, started: Arc::default() })
        }
    }

    #[derive(Interface)]
    #[graphql(field(name = "id", ty = "i32"))]
    #[allow(dead_code)]
    enum Numbered {
        Item(Item),
    }

    struct Query;

    #[Object]
    impl Query {
        async fn items(&self) -> Vec<Inline<Item>> {
            (1..=2).map(|id| Inline(Item { id, started: Arc::default() })).collect()
        }
        async fn plain(&self) -> Vec<Item> {
            (1..=2).map(|id| Item { id, started: Arc::default() }).collect()
        }
        async fn numbered(&self) -> Option<Numbered> {
            None
        }
    }

    async fn run(query: &str) -> async_graphql::Response {
        Schema::build(Query, EmptyMutation, EmptySubscription).finish().execute(query).await
    }

    async fn json(query: &str) -> String {
        let response = run(query).await;
        assert!(response.errors.is_empty(), "{:?}", response.errors);
        serde_json::to_string(&response.data).unwrap_or_default()
    }

    #[tokio::test]
    async fn the_fields_of_an_object_start_together() {
        let answer = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            json("{ items { left right } }"),
        )
        .await;
        assert_eq!(
            answer.ok().as_deref(),
            Some(r#"{"items":[{"left":1,"right":1},{"left":2,"right":2}]}"#)
        );
    }

    #[tokio::test]
    async fn fragments_typename_and_aliases_answer_as_async_graphql_does() {
        let selection = "__typename ...F ... on Numbered { id } ... on Item { a: name } \
                         a: name next { id n: name next { __typename id } }";
        let fragment = "fragment F on Item { name id }";
        let inline = json(&format!("{{ items {{ {selection} }} }} {fragment}")).await;
        let plain = json(&format!("{{ items: plain {{ {selection} }} }} {fragment}")).await;
        assert_eq!(inline, plain);
        assert!(inline.starts_with(
            r#"{"items":[{"__typename":"Item","name":"item 1","id":1,"a":"item 1","next":{"id":2,"n":"item 2","next":{"__typename":"Item","id":3}}}"#
        ));
    }

    #[tokio::test]
    async fn a_failing_field_is_reported_at_its_path_and_the_others_answer() {
        let response = run("{ items: items { id broken } }").await;
        let paths: Vec<String> = response.errors.iter().map(|e| format!("{:?}", e.path)).collect();
        assert_eq!(paths.len(), 2, "{paths:?}");
        assert!(paths[0].contains("Index(0)") && paths[0].contains("broken"), "{paths:?}");
        let plain = run("{ items: plain { id broken } }").await;
        assert_eq!(response.errors, plain.errors);
        assert_eq!(response.data, plain.data);
    }
}
