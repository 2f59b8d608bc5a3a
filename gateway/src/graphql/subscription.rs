//! The subscription root: team events over WebSocket (`graphql-transport-ws` at
//! `/graphql/ws`, authenticated at `connection_init` with the same bearer token as HTTP).
//!
//! Each subscriber receives the events of the team it acts in that its policy lets it read
//! (a `TeamEvent` is a resource with the security groups of what it concerns, related to the
//! subscriber when it is about them). An event that removes, suspends or changes the access
//! of the subscriber ends their subscription: a new one starts from their new rights.

use async_graphql::futures_util::Stream;
use async_graphql::{Context, ID, Object, Result, Subscription as SubscriptionRoot};
use chrono::{DateTime, Utc};
use tokio::sync::broadcast::error::RecvError;

use super::context::{classify, permit, read, request};
use super::node::global_id;
use crate::authz::{ClassId, Relation, Resource};
use crate::events::{TeamEvent, TeamEventKind};
use crate::store::entity::PortalRole;

/// The subscription root.
#[derive(Default)]
pub struct Subscription;

#[SubscriptionRoot]
impl Subscription {
    /// Changes of the team's members, roles, products, ownership and security-group
    /// memberships, as they are committed.
    async fn team_events(&self, ctx: &Context<'_>) -> Result<impl Stream<Item = TeamEventNode>> {
        let root = classify(ctx, Resource::plain("Subscription"))?;
        permit(ctx, root)?;
        let data = request(ctx)?;
        let guard = data.guard.clone();
        let receiver = data.bus.subscribe();
        Ok(async_graphql::futures_util::stream::unfold(
            (receiver, guard),
            |(mut receiver, guard)| async move {
                let (team, me) = (guard.principal().team, guard.principal().user);
                loop {
                    let event = match receiver.recv().await {
                        Ok(event) => event,
                        Err(RecvError::Lagged(missed)) => {
                            tracing::warn!(
                                missed,
                                user = me,
                                "a subscriber fell behind; ending it"
                            );
                            return None;
                        }
                        Err(RecvError::Closed) => return None,
                    };
                    if event.team_id != team {
                        continue;
                    }
                    if ends_subscription(&event, me) {
                        return None;
                    }
                    let about_me = event.user_ids.contains(&me);
                    let resource = Resource::grouped("TeamEvent", event.security_groups.clone())
                        .related(Relation::NONE.with(Relation::IS_PRINCIPAL, about_me));
                    let class = guard.classify(resource);
                    if guard.permit(class, "kind").is_ok() {
                        return Some((TeamEventNode { event, class }, (receiver, guard)));
                    }
                }
            },
        ))
    }
}

/// Whether `event` removes `user` from its team or changes what they may see there, so that
/// their subscription must end.
fn ends_subscription(event: &TeamEvent, user: i32) -> bool {
    matches!(
        event.kind,
        TeamEventKind::MemberRemoved
            | TeamEventKind::MemberSuspended
            | TeamEventKind::MemberRoleChanged
            | TeamEventKind::MemberAccessChanged
            | TeamEventKind::OwnershipTransferred
            | TeamEventKind::SecurityGroupMembersAdded
            | TeamEventKind::SecurityGroupMembersRemoved
    ) && event.user_ids.contains(&user)
}

/// One team event, as a subscriber sees it.
pub struct TeamEventNode {
    event: TeamEvent,
    class: ClassId,
}

#[Object(name = "TeamEvent")]
impl TeamEventNode {
    /// What happened.
    async fn kind(&self, ctx: &Context<'_>) -> Result<Option<TeamEventKind>> {
        read(ctx, self.class, || self.event.kind)
    }
    /// When it was committed.
    async fn at(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>> {
        read(ctx, self.class, || self.event.at)
    }
    /// Who did it (a `User` id).
    async fn actor_id(&self, ctx: &Context<'_>) -> Result<Option<ID>> {
        read(ctx, self.class, || global_id("User", self.event.actor_id))
    }
    /// The membership concerned, if any (it may no longer exist).
    async fn membership_id(&self, ctx: &Context<'_>) -> Result<Option<ID>> {
        Ok(read(ctx, self.class, || {
            self.event.membership_id.map(|id| global_id("Membership", id))
        })?
        .flatten())
    }
    /// The users concerned.
    async fn user_ids(&self, ctx: &Context<'_>) -> Result<Option<Vec<ID>>> {
        read(ctx, self.class, || {
            self.event.user_ids.iter().map(|id| global_id("User", *id)).collect()
        })
    }
    /// The email address concerned (of an invitation or a member), if any.
    async fn email(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        Ok(read(ctx, self.class, || self.event.email.as_deref())?.flatten())
    }
    /// The portal role given, if the event gives one.
    async fn portal_role(&self, ctx: &Context<'_>) -> Result<Option<PortalRole>> {
        Ok(read(ctx, self.class, || self.event.portal_role)?.flatten())
    }
    /// The security group concerned, if any.
    async fn security_group_id(&self, ctx: &Context<'_>) -> Result<Option<ID>> {
        Ok(read(ctx, self.class, || {
            self.event.security_group_id.map(|id| global_id("SecurityGroup", id))
        })?
        .flatten())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: TeamEventKind, users: &[i32]) -> TeamEvent {
        TeamEvent {
            team_id: 1,
            kind,
            at: Utc::now(),
            actor_id: 1,
            membership_id: None,
            user_ids: users.to_vec(),
            email: None,
            portal_role: None,
            security_group_id: None,
            security_groups: Vec::new(),
        }
    }

    #[test]
    fn a_change_of_the_subscribers_own_access_ends_their_subscription() {
        for kind in [
            TeamEventKind::MemberSuspended,
            TeamEventKind::MemberRemoved,
            TeamEventKind::MemberRoleChanged,
            TeamEventKind::MemberAccessChanged,
            TeamEventKind::OwnershipTransferred,
            TeamEventKind::SecurityGroupMembersAdded,
            TeamEventKind::SecurityGroupMembersRemoved,
        ] {
            assert!(ends_subscription(&event(kind, &[7]), 7), "{kind:?} about me");
            assert!(!ends_subscription(&event(kind, &[8]), 7), "{kind:?} about someone else");
        }
        for kind in [
            TeamEventKind::MemberInvited,
            TeamEventKind::MemberJoined,
            TeamEventKind::MemberReactivated,
        ] {
            assert!(!ends_subscription(&event(kind, &[7]), 7), "{kind:?}");
        }
    }
}
