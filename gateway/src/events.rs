//! Team events: what changed in a team's membership and security groups, published to the
//! subscribers of `teamEvents` once the change is committed.
//!
//! The bus is in-process (a broadcast channel): every subscriber sees every event and keeps
//! those of its own team that its policy lets it read. A subscriber too slow to keep up loses
//! the oldest events, and is told so by the stream ending (its client reconnects and refetches).

use chrono::{DateTime, Utc};
use tokio::sync::broadcast;

use crate::store::entity::PortalRole;

/// How many events wait for a slow subscriber before the oldest are dropped.
const BACKLOG: usize = 1024;

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, async_graphql::Enum)]
pub enum TeamEventKind {
    /// Someone was invited (or imported).
    MemberInvited,
    /// An invitation was accepted: a new member.
    MemberJoined,
    /// A member's portal role changed.
    MemberRoleChanged,
    /// A member's products, product roles or audit-log flag changed.
    MemberAccessChanged,
    /// A member was suspended: their requests to the team are refused.
    MemberSuspended,
    /// A suspended member was reactivated.
    MemberReactivated,
    /// A member left the team.
    MemberRemoved,
    /// The team has a new owner.
    OwnershipTransferred,
    /// Users joined a security group.
    SecurityGroupMembersAdded,
    /// Users left a security group.
    SecurityGroupMembersRemoved,
}

/// One event, as published.
#[derive(Clone, Debug)]
pub struct TeamEvent {
    /// The team it happened in.
    pub team_id: i32,
    /// What happened.
    pub kind: TeamEventKind,
    /// When it was committed.
    pub at: DateTime<Utc>,
    /// Who did it.
    pub actor_id: i32,
    /// The membership concerned, if any.
    pub membership_id: Option<i32>,
    /// The users concerned (the member, or the users added to or removed from a group).
    pub user_ids: Vec<i32>,
    /// The email concerned (of an invitation), if any.
    pub email: Option<String>,
    /// The portal role given, if the event gives one.
    pub portal_role: Option<PortalRole>,
    /// The security group concerned, if any.
    pub security_group_id: Option<i32>,
    /// The security groups of what it concerns: who may read it can depend on them.
    pub security_groups: Vec<i32>,
}

/// Where events are published, and subscribed to.
#[derive(Clone)]
pub struct EventBus {
    sender: broadcast::Sender<TeamEvent>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self { sender: broadcast::channel(BACKLOG).0 }
    }
}

impl EventBus {
    /// Publishes events (nobody listening is fine).
    pub fn publish(&self, events: impl IntoIterator<Item = TeamEvent>) {
        for event in events {
            let _ = self.sender.send(event);
        }
    }

    /// Every event published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<TeamEvent> {
        self.sender.subscribe()
    }
}
