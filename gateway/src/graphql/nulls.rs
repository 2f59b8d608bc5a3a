//! A nullable field that fails resolves to `null`, with its error at that path.
//!
//! That is what the GraphQL specification asks, and what domain §6 promises a frontend: a
//! field it may not read is `null` with a `FORBIDDEN` error, the rest of the response intact.
//! async-graphql 7 instead drops the key from its parent object, so this extension catches the
//! error of every nullable field, records it in the request's [`FieldErrors`], and lets the
//! field resolve to `null`. The HTTP layer appends the recorded errors to the response.

use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextResolve, ResolveInfo,
};
use async_graphql::{PathSegment, QueryPathSegment, ServerError, ServerResult, Value};

/// The errors of fields that resolved to `null`, in the order they happened.
#[derive(Clone, Default)]
pub struct FieldErrors(Arc<Mutex<Vec<ServerError>>>);

impl FieldErrors {
    fn push(&self, error: ServerError) {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(error);
    }

    /// Takes the recorded errors.
    pub fn take(&self) -> Vec<ServerError> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }
}

/// Installs the behaviour on a schema.
pub struct NullOnError;

impl ExtensionFactory for NullOnError {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(NullOnErrorExtension)
    }
}

struct NullOnErrorExtension;

#[async_graphql::async_trait::async_trait]
impl Extension for NullOnErrorExtension {
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let nullable = !info.return_type.ends_with('!');
        let path = info.path_node;
        match next.run(ctx, info).await {
            Err(mut error) if nullable => match ctx.data_opt::<FieldErrors>() {
                Some(sink) => {
                    // A field selected directly on an interface-typed field comes back from
                    // async-graphql without its path; every error says where it happened.
                    if error.path.is_empty() {
                        let mut segments: Vec<PathSegment> = std::iter::once(path)
                            .chain(path.parents())
                            .map(|node| match node.segment {
                                QueryPathSegment::Name(name) => PathSegment::Field(name.to_owned()),
                                QueryPathSegment::Index(index) => PathSegment::Index(index),
                            })
                            .collect();
                        segments.reverse();
                        error.path = segments;
                    }
                    sink.push(error);
                    Ok(None)
                }
                None => Err(error),
            },
            other => other,
        }
    }
}
