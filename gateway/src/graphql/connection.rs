//! Cursor connections: the paginated lists of the API.
//!
//! Pagination is forward (`first`, `after`); a cursor is opaque to clients. Connection, edge
//! and page-info fields go through the policy like every other field (the default policy
//! allows them wherever the list itself was allowed).

use async_graphql::{ContainerType, Context, ID, Object, Result};

use super::context::{classify, read};
use super::inline::Inline;
use super::types::*;
use crate::authz::{ClassId, Resource};
use crate::error::Error;
use crate::store::read::{DEFAULT_PAGE, MAX_PAGE, Page, PageArgs};

/// An object listed in connections.
pub trait Node: ContainerType + Clone {
    /// The name of its connection type.
    const CONNECTION: &'static str;
    /// The name of its edge type.
    const EDGE: &'static str;
    /// Its database id, which its cursor encodes.
    fn row_id(&self) -> i32;
    /// The class of its attributes, for the policy.
    fn class(&self) -> ClassId;
}

/// Reads `first` and `after` as page arguments.
pub fn page_args(first: Option<i32>, after: Option<String>) -> Result<PageArgs> {
    let first = match first {
        None => DEFAULT_PAGE,
        Some(n) if n < 0 => {
            return Err(Error::InvalidInput("`first` cannot be negative".into()).to_graphql());
        }
        Some(n) if n as u64 > MAX_PAGE => {
            return Err(Error::InvalidInput(format!(
                "`first` is at most {MAX_PAGE}; page with `after` for more"
            ))
            .to_graphql());
        }
        Some(n) => n as u64,
    };
    let after = match after {
        None => None,
        Some(cursor) => Some(decode_cursor(&cursor).ok_or_else(|| {
            Error::InvalidInput(format!("`{cursor}` is not a cursor of this list")).to_graphql()
        })?),
    };
    Ok(PageArgs { first, after })
}

fn encode_cursor(id: i32) -> String {
    format!("c{id:x}")
}

fn decode_cursor(cursor: &str) -> Option<i32> {
    cursor.strip_prefix('c').and_then(|hex| i32::from_str_radix(hex, 16).ok())
}

/// Pages a list already loaded whole (nested lists, loaded in batches for many parents).
pub fn page_in_memory<M>(rows: Vec<M>, id: fn(&M) -> i32, args: PageArgs) -> Page<M> {
    let total = rows.len() as u64;
    let mut items: Vec<M> = rows
        .into_iter()
        .filter(|row| args.after.is_none_or(|after| id(row) > after))
        .take(args.first as usize + 1)
        .collect();
    let has_next = items.len() as u64 > args.first;
    items.truncate(args.first as usize);
    Page { items, total, has_next }
}

/// A page of a list.
pub struct Connection<T: Node> {
    class: ClassId,
    page: Page<T>,
    after: Option<i32>,
}

impl<T: Node> Connection<T> {
    /// A connection over a page of built nodes.
    pub fn new(ctx: &Context<'_>, page: Page<T>, args: PageArgs) -> Result<Self> {
        let class = classify(ctx, Resource::plain(T::CONNECTION))?;
        Ok(Self { class, page, after: args.after })
    }
}

macro_rules! connections {
    ($($node:ident),+ $(,)?) => {
        $(impl Node for $node {
            const CONNECTION: &'static str = concat!(stringify!($node), "Connection");
            const EDGE: &'static str = concat!(stringify!($node), "Edge");
            fn row_id(&self) -> i32 {
                self.row.id
            }
            fn class(&self) -> ClassId {
                self.class
            }
        })+
    };
}

connections!(
    Membership,
    Invitation,
    SecurityGroup,
    Orchestrator,
    Workflow,
    WorkflowRun,
    BotRunner,
    Process,
    Job,
    Task,
    Form,
    AuditEntry
);

#[Object(
    concrete(name = "MembershipConnection", params(Membership)),
    concrete(name = "InvitationConnection", params(Invitation)),
    concrete(name = "SecurityGroupConnection", params(SecurityGroup)),
    concrete(name = "OrchestratorConnection", params(Orchestrator)),
    concrete(name = "WorkflowConnection", params(Workflow)),
    concrete(name = "WorkflowRunConnection", params(WorkflowRun)),
    concrete(name = "BotRunnerConnection", params(BotRunner)),
    concrete(name = "ProcessConnection", params(Process)),
    concrete(name = "JobConnection", params(Job)),
    concrete(name = "TaskConnection", params(Task)),
    concrete(name = "FormConnection", params(Form)),
    concrete(name = "AuditEntryConnection", params(AuditEntry))
)]
impl<T: Node + Sync> Connection<T>
where
    Edge<T>: ContainerType,
{
    /// The objects of this page, each with its cursor.
    async fn edges(&self, ctx: &Context<'_>) -> Result<Option<Vec<Inline<Edge<T>>>>> {
        let edge_class = classify(ctx, Resource::plain(T::EDGE))?;
        read(ctx, self.class, || {
            self.page
                .items
                .iter()
                .map(|node| Inline(Edge { class: edge_class, node: node.clone() }))
                .collect()
        })
    }

    /// The objects of this page.
    async fn nodes(&self, ctx: &Context<'_>) -> Result<Option<Vec<Inline<&T>>>> {
        read(ctx, self.class, || self.page.items.iter().map(Inline).collect())
    }

    /// Where this page stands in the list.
    async fn page_info(&self, ctx: &Context<'_>) -> Result<Option<PageInfo>> {
        let class = classify(ctx, Resource::plain("PageInfo"))?;
        read(ctx, self.class, || PageInfo {
            class,
            has_next_page: self.page.has_next,
            has_previous_page: self.after.is_some(),
            start_cursor: self.page.items.first().map(|n| encode_cursor(n.row_id())),
            end_cursor: self.page.items.last().map(|n| encode_cursor(n.row_id())),
        })
    }

    /// How many objects the whole list has, after filtering.
    async fn total_count(&self, ctx: &Context<'_>) -> Result<Option<u64>> {
        read(ctx, self.class, || self.page.total)
    }
}

/// One object of a page, with its cursor.
pub struct Edge<T: Node> {
    class: ClassId,
    node: T,
}

#[Object(
    concrete(name = "MembershipEdge", params(Membership)),
    concrete(name = "InvitationEdge", params(Invitation)),
    concrete(name = "SecurityGroupEdge", params(SecurityGroup)),
    concrete(name = "OrchestratorEdge", params(Orchestrator)),
    concrete(name = "WorkflowEdge", params(Workflow)),
    concrete(name = "WorkflowRunEdge", params(WorkflowRun)),
    concrete(name = "BotRunnerEdge", params(BotRunner)),
    concrete(name = "ProcessEdge", params(Process)),
    concrete(name = "JobEdge", params(Job)),
    concrete(name = "TaskEdge", params(Task)),
    concrete(name = "FormEdge", params(Form)),
    concrete(name = "AuditEntryEdge", params(AuditEntry))
)]
impl<T: Node + Sync> Edge<T> {
    /// Where to continue the list after this object.
    async fn cursor(&self, ctx: &Context<'_>) -> Result<Option<ID>> {
        read(ctx, self.class, || ID(encode_cursor(self.node.row_id())))
    }

    /// The object.
    async fn node(&self, ctx: &Context<'_>) -> Result<Option<Inline<&T>>> {
        read(ctx, self.class, || Inline(&self.node))
    }
}

/// Where a page stands in its list.
pub struct PageInfo {
    class: ClassId,
    has_next_page: bool,
    has_previous_page: bool,
    start_cursor: Option<String>,
    end_cursor: Option<String>,
}

#[Object]
impl PageInfo {
    /// Whether objects follow this page.
    async fn has_next_page(&self, ctx: &Context<'_>) -> Result<Option<bool>> {
        read(ctx, self.class, || self.has_next_page)
    }

    /// Whether objects precede this page.
    async fn has_previous_page(&self, ctx: &Context<'_>) -> Result<Option<bool>> {
        read(ctx, self.class, || self.has_previous_page)
    }

    /// The cursor of the first object of the page.
    async fn start_cursor(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        Ok(read(ctx, self.class, || self.start_cursor.clone())?.flatten())
    }

    /// The cursor of the last object of the page; pass it as `after` for the next page.
    async fn end_cursor(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        Ok(read(ctx, self.class, || self.end_cursor.clone())?.flatten())
    }
}
