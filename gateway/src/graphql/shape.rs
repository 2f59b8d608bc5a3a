//! What the schema says each field returns, read once from its SDL: the named type, whether
//! it may be null, and whether it answers a page.
//!
//! The limits ([`crate::http::limits`]) budget a document with it before it runs; after it
//! ran, [`super::nulls`] puts `null` back where a nullable field failed.

use std::collections::HashMap;

use async_graphql::parser::types::{OperationType, TypeKind, TypeSystemDefinition};

/// What one field returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Returns {
    /// The named type, without list or non-null wrappers (`Workflow` for `[Workflow!]!`).
    pub named: String,
    /// Whether the field itself may be `null` (its type does not end with `!`).
    pub nullable: bool,
    /// Whether it answers a page (a `…Connection`).
    pub paged: bool,
}

/// The fields of every object and interface type of a schema.
#[derive(Clone, Debug, Default)]
pub struct Shape {
    fields: HashMap<String, HashMap<String, Returns>>,
    roots: [Option<String>; 3],
}

impl Shape {
    /// The shape of the schema written in `sdl`; an SDL that does not parse has no fields.
    pub fn of(sdl: &str) -> Self {
        let mut shape = Self::default();
        let Ok(schema) = async_graphql::parser::parse_schema(sdl) else { return shape };
        for definition in schema.definitions {
            let ty = match definition {
                TypeSystemDefinition::Type(ty) => ty.node,
                TypeSystemDefinition::Schema(schema) => {
                    let roots = [schema.node.query, schema.node.mutation, schema.node.subscription];
                    shape.roots = roots.map(|root| root.map(|name| name.node.to_string()));
                    continue;
                }
                TypeSystemDefinition::Directive(_) => continue,
            };
            let fields = match &ty.kind {
                TypeKind::Object(object) => &object.fields,
                TypeKind::Interface(interface) => &interface.fields,
                _ => continue,
            };
            let of_type = shape.fields.entry(ty.name.node.to_string()).or_default();
            for field in fields {
                let returns = &field.node.ty.node;
                let written = returns.to_string();
                let named = written.trim_matches(|c| matches!(c, '[' | ']' | '!')).to_owned();
                let paged = named.ends_with("Connection");
                let returns = Returns { named, nullable: returns.nullable, paged };
                of_type.insert(field.node.name.node.to_string(), returns);
            }
        }
        shape
    }

    /// What `field` of type `ty` returns, if the schema has it.
    pub fn field(&self, ty: &str, field: &str) -> Option<&Returns> {
        self.fields.get(ty)?.get(field)
    }

    /// The root type of operations of type `operation` (`Query` unless the schema says
    /// otherwise).
    pub fn root(&self, operation: OperationType) -> &str {
        let (index, default) = match operation {
            OperationType::Query => (0, "Query"),
            OperationType::Mutation => (1, "Mutation"),
            OperationType::Subscription => (2, "Subscription"),
        };
        self.roots[index].as_deref().unwrap_or(default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_say_their_named_type_nullability_and_paging() {
        let shape = Shape::of(
            "schema { query: Root } type Root { team: Team! }
             type Team { name: String workflows(first: Int): WorkflowConnection! }
             type WorkflowConnection { nodes: [Workflow!]! }
             interface Node { id: ID }",
        );
        let returns = |ty, field| shape.field(ty, field).cloned();
        let team = Returns { named: "Team".into(), nullable: false, paged: false };
        assert_eq!(returns("Root", "team"), Some(team));
        assert_eq!(returns("Team", "name").map(|r| r.nullable), Some(true));
        assert_eq!(
            returns("Team", "workflows").map(|r| (r.nullable, r.paged)),
            Some((false, true))
        );
        assert_eq!(
            returns("WorkflowConnection", "nodes").map(|r| r.named),
            Some("Workflow".into())
        );
        assert_eq!(returns("Node", "id").map(|r| r.nullable), Some(true));
        assert_eq!(returns("Team", "nope"), None);
        assert_eq!(shape.root(OperationType::Query), "Root");
        assert_eq!(shape.root(OperationType::Mutation), "Mutation");
    }
}
