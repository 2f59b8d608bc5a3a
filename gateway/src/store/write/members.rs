//! Members and invitations: invite (one by one or from a CSV file), accept, revoke; change a
//! member's role, product access and flags, or copy them from another member; suspend,
//! reactivate, remove; transfer ownership.
//!
//! Invariants held here whatever policy is loaded (domain §2): exactly one owner per team
//! (with the partial unique index behind it); OWNER is granted only by transfer; nobody
//! changes their own role; the owner is never removed or suspended; email addresses are
//! valid and compared case-insensitively.

use std::collections::{HashMap, HashSet};

use chrono::{Duration, Utc};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveEnum, ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QuerySelect, Set,
};
use serde_json::json;

use super::{Audit, Write, target_id, team_groups};
use crate::authz::{Action, Relation, Resource};
use crate::error::Error;
use crate::events::TeamEventKind;
use crate::store::entity::*;
use crate::store::read::portal_role as policy_role;

/// How long an invitation stays open.
pub const INVITATION_DAYS: i64 = 14;
/// The most addresses one `inviteMembers` call takes.
pub const MAX_INVITES: usize = 500;
/// The most rows one import takes.
pub const MAX_IMPORT_ROWS: usize = 10_000;

/// What an invitation offers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Terms {
    /// The portal role.
    pub portal_role: PortalRole,
    /// The products enabled.
    pub products: Vec<Product>,
    /// The Orchestrator role, where Orchestrator is enabled.
    pub orchestrator_role: Option<OrchestratorRole>,
    /// The Process Hub role, where Process Hub is enabled.
    pub process_hub_role: Option<ProcessHubRole>,
}

/// Why one address or row did not go through, while the others did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemError {
    /// A stable code, as at the GraphQL edge (`INVALID_INPUT`, `CONFLICT`, `FORBIDDEN`).
    pub code: &'static str,
    /// What a person can act on.
    pub message: String,
}

impl ItemError {
    fn invalid(message: impl Into<String>) -> Self {
        Self { code: "INVALID_INPUT", message: message.into() }
    }
    fn conflict(message: impl Into<String>) -> Self {
        Self { code: "CONFLICT", message: message.into() }
    }
}

/// The outcome for one address (or one row of an import).
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The line of the file, for imports.
    pub line: Option<u64>,
    /// The address, normalised where it could be read.
    pub email: Option<String>,
    /// The invitation sent, or why not.
    pub result: Result<invitation::Model, ItemError>,
}

/// One address or row to invite, as read.
#[derive(Debug)]
pub struct Offer {
    /// The line of the file, for imports.
    pub line: Option<u64>,
    /// The address as given, or why the row could not be read.
    pub item: Result<(String, Terms), (Option<String>, ItemError)>,
}

/// Splits addresses given as a list whose entries may hold several, separated by commas.
pub fn split_addresses(emails: &[String]) -> Vec<String> {
    emails
        .iter()
        .flat_map(|entry| entry.split(','))
        .map(str::trim)
        .filter(|address| !address.is_empty())
        .map(str::to_owned)
        .collect()
}

/// An address, lower-cased, if it is a valid one.
pub fn normalise_email(raw: &str) -> Result<String, ItemError> {
    let email = raw.trim().to_lowercase();
    let valid = email_address::EmailAddress::parse_with_options(
        &email,
        email_address::Options::default().without_display_text(),
    )
    .is_ok()
        && email.rsplit_once('@').is_some_and(|(_, domain)| domain.contains('.'));
    if valid {
        Ok(email)
    } else {
        Err(ItemError::invalid(format!("`{raw}` is not a valid email address")))
    }
}

/// Invites every address once, each with the same terms.
pub async fn invite(
    w: &mut Write<'_>,
    emails: &[String],
    terms: Terms,
) -> Result<Vec<Outcome>, Error> {
    let addresses = split_addresses(emails);
    if addresses.is_empty() {
        return Err(Error::InvalidInput("give at least one email address".into()));
    }
    if addresses.len() > MAX_INVITES {
        return Err(Error::Limit {
            code: "TOO_MANY_INVITATIONS",
            message: format!(
                "{} addresses at once; one call invites at most {MAX_INVITES} (importMembers takes up to {MAX_IMPORT_ROWS})",
                addresses.len()
            ),
        });
    }
    // One role for every address: refused, it refuses the whole call.
    w.authorize(
        Resource::plain("Team"),
        Action::named("invite-members").giving(policy_role(terms.portal_role)),
        &format!("invite members as {}", terms.portal_role.to_value()),
    )?;
    let offers = addresses
        .into_iter()
        .map(|email| Offer { line: None, item: Ok((email, terms.clone())) })
        .collect();
    offer(w, "invite-members", "invite members", offers).await
}

/// Sends the invitations of `offers`: each one that is valid, new and allowed goes through,
/// the others say why not.
pub async fn offer(
    w: &mut Write<'_>,
    action: &'static str,
    words: &str,
    offers: Vec<Offer>,
) -> Result<Vec<Outcome>, Error> {
    let team = Resource::plain("Team");
    w.authorize(team.clone(), Action::named(action), words)?;
    // The policy decides each role offered, in one call.
    let mut roles: Vec<PortalRole> = offers
        .iter()
        .filter_map(|o| o.item.as_ref().ok().map(|(_, terms)| terms.portal_role))
        .collect();
    roles.sort_by_key(|role| role.to_value());
    roles.dedup();
    let asked: Vec<(Resource, Action)> = roles
        .iter()
        .map(|role| (team.clone(), Action::named(action).giving(policy_role(*role))))
        .collect();
    let allowed: HashMap<PortalRole, bool> =
        roles.iter().copied().zip(w.guard().may_perform(&asked)).collect();

    // Read each offer; keep the valid ones.
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(offers.len());
    let mut valid: Vec<(usize, Terms)> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    for Offer { line, item } in offers {
        let checked = item.and_then(|(raw, terms)| {
            let email = normalise_email(&raw).map_err(|e| (Some(raw.trim().to_owned()), e))?;
            let fail = |error| Err((Some(email.clone()), error));
            if !seen.insert(email.clone()) {
                return fail(ItemError::invalid(format!("{email} is listed more than once")));
            }
            if let Err(error) = check_terms(&terms) {
                return fail(error);
            }
            if !allowed.get(&terms.portal_role).copied().unwrap_or(false) {
                return fail(ItemError {
                    code: "FORBIDDEN",
                    message: format!(
                        "you are not allowed to invite members as {}",
                        terms.portal_role.to_value()
                    ),
                });
            }
            Ok((email, terms))
        });
        match checked {
            Ok((email, terms)) => {
                valid.push((outcomes.len(), terms));
                outcomes.push(Outcome {
                    line,
                    email: Some(email),
                    result: Err(ItemError::invalid("not sent")),
                });
            }
            Err((email, error)) => outcomes.push(Outcome { line, email, result: Err(error) }),
        }
    }

    // Members and open invitations, in chunks of addresses.
    let emails: Vec<String> =
        valid.iter().filter_map(|(index, _)| outcomes[*index].email.clone()).collect();
    let (members, pending) = existing(w, &emails).await?;
    let now = Utc::now();
    let expires_at = now + Duration::days(INVITATION_DAYS);
    let mut audits = Vec::new();
    for (index, terms) in valid {
        let Some(email) = outcomes[index].email.clone() else { continue };
        if members.contains(&email) {
            outcomes[index].result =
                Err(ItemError::conflict(format!("{email} is already a member of this team")));
            continue;
        }
        if let Some(since) = pending.get(&email) {
            outcomes[index].result = Err(ItemError::conflict(format!(
                "{email} is already invited (pending since {})",
                since.format("%Y-%m-%d")
            )));
            continue;
        }
        let invitation = invitation::ActiveModel {
            team_id: Set(w.team()),
            email: Set(email.clone()),
            portal_role: Set(terms.portal_role),
            products: Set(Product::list_text(&terms.products)),
            orchestrator_role: Set(terms.orchestrator_role),
            process_hub_role: Set(terms.process_hub_role),
            invited_by: Set(w.actor()),
            status: Set(InvitationStatus::Pending),
            created_at: Set(now),
            expires_at: Set(expires_at),
            ..Default::default()
        }
        .insert(w.db())
        .await
        .map_err(|e| {
            super::conflict_on_unique(e, || format!("{email} was invited at the same moment"))
        })?;
        audits.push(Audit {
            action: "member.invited",
            target: email.clone(),
            target_id: target_id("Invitation", invitation.id),
            security_groups: Vec::new(),
            details: json!({
                "portalRole": terms.portal_role.to_value(),
                "products": names(&terms.products),
                "orchestratorRole": terms.orchestrator_role.map(|r| r.to_value()),
                "processHubRole": terms.process_hub_role.map(|r| r.to_value()),
                "via": action,
            }),
        });
        let mut event = w.event(TeamEventKind::MemberInvited);
        event.email = Some(email);
        event.portal_role = Some(terms.portal_role);
        w.publish(event);
        outcomes[index].result = Ok(invitation);
    }
    w.audit_many(audits).await?;
    Ok(outcomes)
}

/// The addresses among `emails` that are members of the team, and those with an open
/// invitation (with when it was sent). Lapsed invitations are revoked on the way, so that a
/// new one can be sent.
async fn existing(
    w: &Write<'_>,
    emails: &[String],
) -> Result<(HashSet<String>, HashMap<String, chrono::DateTime<Utc>>), Error> {
    let mut members = HashSet::new();
    let mut pending = HashMap::new();
    let now = Utc::now();
    for chunk in emails.chunks(500) {
        let found: Vec<String> = user::Entity::find()
            .select_only()
            .column(user::Column::Email)
            .filter(user::Column::Email.is_in(chunk.to_vec()))
            .filter(
                user::Column::Id.in_subquery(
                    Query::select()
                        .column(membership::Column::UserId)
                        .from(membership::Entity)
                        .and_where(membership::Column::TeamId.eq(w.team()))
                        .to_owned(),
                ),
            )
            .into_tuple()
            .all(w.db())
            .await?;
        members.extend(found);
        let open = invitation::Entity::find()
            .filter(invitation::Column::TeamId.eq(w.team()))
            .filter(invitation::Column::Status.eq(InvitationStatus::Pending))
            .filter(invitation::Column::Email.is_in(chunk.to_vec()))
            .all(w.db())
            .await?;
        let (lapsed, open): (Vec<_>, Vec<_>) = open.into_iter().partition(|i| i.expires_at <= now);
        if !lapsed.is_empty() {
            invitation::Entity::update_many()
                .col_expr(
                    invitation::Column::Status,
                    Expr::value(InvitationStatus::Revoked.to_value()),
                )
                .filter(invitation::Column::Id.is_in(lapsed.iter().map(|i| i.id)))
                .exec(w.db())
                .await?;
        }
        pending.extend(open.into_iter().map(|i| (i.email, i.created_at)));
    }
    Ok((members, pending))
}

/// The rules of an offer's terms that hold whatever policy is loaded.
fn check_terms(terms: &Terms) -> Result<(), ItemError> {
    if terms.portal_role == PortalRole::Owner {
        return Err(ItemError::invalid(
            "nobody is invited as OWNER: the owner hands the team over with transferOwnership",
        ));
    }
    product_roles_fit(
        terms.portal_role,
        &terms.products,
        terms.orchestrator_role,
        terms.process_hub_role,
    )
    .map_err(ItemError::invalid)
}

/// A product role needs its product (OWNER and ADMIN have every product).
fn product_roles_fit(
    role: PortalRole,
    products: &[Product],
    orchestrator_role: Option<OrchestratorRole>,
    process_hub_role: Option<ProcessHubRole>,
) -> Result<(), String> {
    let all = matches!(role, PortalRole::Owner | PortalRole::Admin);
    if orchestrator_role.is_some() && !all && !products.contains(&Product::Orchestrator) {
        return Err("an Orchestrator role needs the ORCHESTRATOR product".into());
    }
    if process_hub_role.is_some() && !all && !products.contains(&Product::ProcessHub) {
        return Err("a Process Hub role needs the PROCESS_HUB product".into());
    }
    Ok(())
}

/// Withdraws an open invitation.
pub async fn revoke_invitation(w: &Write<'_>, id: i32) -> Result<invitation::Model, Error> {
    let invitation = w.visible::<invitation::Entity>(id).await?;
    w.authorize(
        Resource::plain("Invitation"),
        Action::named("revoke-invitation"),
        &format!("revoke the invitation of {}", invitation.email),
    )?;
    if invitation.status != InvitationStatus::Pending {
        return Err(Error::Conflict(format!(
            "the invitation of {} is {} and can no longer be revoked",
            invitation.email,
            invitation.status.to_value().to_lowercase()
        )));
    }
    let mut row = invitation.into_active_model();
    row.status = Set(InvitationStatus::Revoked);
    let invitation = row.update(w.db()).await?;
    w.audit(Audit {
        action: "invitation.revoked",
        target: invitation.email.clone(),
        target_id: target_id("Invitation", invitation.id),
        security_groups: Vec::new(),
        details: json!({ "status": { "from": "PENDING", "to": "REVOKED" } }),
    })
    .await?;
    Ok(invitation)
}

/// Accepts an invitation addressed to the caller: they join its team with the terms offered.
/// An invitation to someone else is `NOT_FOUND`, as for an unknown id.
pub async fn accept_invitation(
    w: &mut Write<'_>,
    id: i32,
) -> Result<(membership::Model, team::Model), Error> {
    let me = w.user(w.actor()).await?;
    let invitation = invitation::Entity::find_by_id(id)
        .one(w.db())
        .await?
        .filter(|i| i.email == me.email)
        .ok_or_else(|| Error::NotFound(format!("there is no Invitation:{id}")))?;
    w.authorize(
        Resource::plain("Invitation").related(Relation::IS_PRINCIPAL),
        Action::named("accept-invitation").giving(policy_role(invitation.portal_role)),
        "accept this invitation",
    )?;
    match invitation.status {
        InvitationStatus::Pending if invitation.expires_at > Utc::now() => {}
        InvitationStatus::Pending => {
            return Err(Error::Conflict(format!(
                "the invitation lapsed on {}; ask for a new one",
                invitation.expires_at.format("%Y-%m-%d")
            )));
        }
        InvitationStatus::Accepted => {
            return Err(Error::Conflict("the invitation was already accepted".into()));
        }
        InvitationStatus::Revoked => {
            return Err(Error::Conflict("the invitation was revoked".into()));
        }
    }
    let team = team::Entity::find_by_id(invitation.team_id)
        .one(w.db())
        .await?
        .ok_or_else(|| Error::NotFound(format!("there is no Invitation:{id}")))?;
    let already = membership::Entity::find()
        .filter(membership::Column::TeamId.eq(team.id))
        .filter(membership::Column::UserId.eq(me.id))
        .one(w.db())
        .await?;
    if already.is_some() {
        return Err(Error::Conflict(format!("you are already a member of {}", team.name)));
    }
    let products = Product::parse_list(&invitation.products);
    let member = membership::ActiveModel {
        team_id: Set(team.id),
        user_id: Set(me.id),
        portal_role: Set(invitation.portal_role),
        orchestrator_role: Set(invitation.orchestrator_role),
        process_hub_role: Set(invitation.process_hub_role),
        audit_log_access: Set(false),
        joined_at: Set(Utc::now()),
        suspended: Set(false),
        ..Default::default()
    }
    .insert(w.db())
    .await?;
    set_products(w, member.id, &products).await?;
    let mut row = invitation.clone().into_active_model();
    row.status = Set(InvitationStatus::Accepted);
    row.update(w.db()).await?;
    w.audit_in(
        team.id,
        Audit {
            action: "invitation.accepted",
            target: me.email.clone(),
            target_id: target_id("Membership", member.id),
            security_groups: Vec::new(),
            details: json!({ "portalRole": member.portal_role.to_value() }),
        },
    )
    .await?;
    let mut event = w.event(TeamEventKind::MemberJoined);
    event.team_id = team.id;
    event.membership_id = Some(member.id);
    event.user_ids = vec![me.id];
    event.email = Some(me.email);
    event.portal_role = Some(member.portal_role);
    w.publish(event);
    Ok((member, team))
}

/// The member, visible to the caller, with their user and security groups.
struct Target {
    member: membership::Model,
    user: user::Model,
    groups: Vec<i32>,
}

async fn target(w: &Write<'_>, id: i32) -> Result<Target, Error> {
    let member = w.visible::<membership::Entity>(id).await?;
    let user = w.user(member.user_id).await?;
    let groups = w.groups_of_user(member.user_id).await?;
    Ok(Target { member, user, groups })
}

impl Target {
    fn audit(&self, action: &'static str, details: serde_json::Value) -> Audit {
        Audit {
            action,
            target: self.user.email.clone(),
            target_id: target_id("Membership", self.member.id),
            security_groups: self.groups.clone(),
            details,
        }
    }

    fn event(&self, w: &Write<'_>, kind: TeamEventKind) -> crate::events::TeamEvent {
        let mut event = w.event(kind);
        event.membership_id = Some(self.member.id);
        event.user_ids = vec![self.member.user_id];
        event.email = Some(self.user.email.clone());
        event.portal_role = Some(self.member.portal_role);
        event.security_groups = self.groups.clone();
        event
    }

    fn is_owner(&self) -> bool {
        self.member.portal_role == PortalRole::Owner
    }

    fn who(&self) -> String {
        format!("{} ({})", self.user.display_name, self.user.email)
    }
}

/// Changes a member's portal role.
pub async fn change_role(
    w: &mut Write<'_>,
    id: i32,
    role: PortalRole,
) -> Result<membership::Model, Error> {
    let t = target(w, id).await?;
    w.authorize(
        w.member_resource(&t.member),
        Action::named("change-member-role")
            .on_role(policy_role(t.member.portal_role))
            .giving(policy_role(role)),
        &format!("change the role of {} to {}", t.user.email, role.to_value()),
    )?;
    if t.member.user_id == w.actor() {
        return Err(Error::Conflict("nobody changes their own role".into()));
    }
    if t.is_owner() {
        return Err(Error::Conflict(format!(
            "{} owns the team; the owner's role changes only by transferring ownership",
            t.who()
        )));
    }
    if role == PortalRole::Owner {
        return Err(Error::Conflict(
            "OWNER is granted only by transferring ownership (transferOwnership)".into(),
        ));
    }
    if t.member.portal_role == role {
        return Ok(t.member);
    }
    let from = t.member.portal_role;
    let mut row = t.member.clone().into_active_model();
    row.portal_role = Set(role);
    let member = row.update(w.db()).await?;
    w.audit(t.audit(
        "member.role_changed",
        json!({ "portalRole": { "from": from.to_value(), "to": role.to_value() } }),
    ))
    .await?;
    let mut event = t.event(w, TeamEventKind::MemberRoleChanged);
    event.portal_role = Some(role);
    w.publish(event);
    Ok(member)
}

/// Hands the team to another member; the former owner becomes ADMIN. One transaction.
pub async fn transfer_ownership(w: &mut Write<'_>, id: i32) -> Result<team::Model, Error> {
    let t = target(w, id).await?;
    w.authorize(
        w.member_resource(&t.member),
        Action::named("transfer-ownership").on_role(policy_role(t.member.portal_role)),
        &format!("transfer the team's ownership to {}", t.user.email),
    )?;
    if t.member.user_id == w.actor() {
        return Err(Error::Conflict("you already own the team".into()));
    }
    if t.member.suspended {
        return Err(Error::Conflict(format!(
            "{} is suspended; reactivate them before handing them the team",
            t.who()
        )));
    }
    // The caller must own the team now, in this transaction: of two transfers at once, the
    // second finds the first done.
    let demoted = membership::Entity::update_many()
        .col_expr(membership::Column::PortalRole, Expr::value(PortalRole::Admin.to_value()))
        .filter(membership::Column::TeamId.eq(w.team()))
        .filter(membership::Column::UserId.eq(w.actor()))
        .filter(membership::Column::PortalRole.eq(PortalRole::Owner))
        .exec(w.db())
        .await?;
    if demoted.rows_affected != 1 {
        let owner = membership::Entity::find()
            .filter(membership::Column::TeamId.eq(w.team()))
            .filter(membership::Column::PortalRole.eq(PortalRole::Owner))
            .one(w.db())
            .await?;
        let owner = match owner {
            Some(owner) => w.user(owner.user_id).await?.email,
            None => "nobody".into(),
        };
        return Err(Error::Conflict(format!(
            "only the owner hands over the team, and {owner} owns it"
        )));
    }
    let from = t.member.portal_role;
    let mut row = t.member.clone().into_active_model();
    row.portal_role = Set(PortalRole::Owner);
    row.update(w.db())
        .await
        .map_err(|e| super::conflict_on_unique(e, || "the team already has an owner".to_owned()))?;
    let me = w.user(w.actor()).await?;
    w.audit(t.audit(
        "team.ownership_transferred",
        json!({
            "owner": { "from": me.email, "to": t.user.email },
            "portalRole": { "from": from.to_value(), "to": "OWNER" },
        }),
    ))
    .await?;
    let mut event = t.event(w, TeamEventKind::OwnershipTransferred);
    event.portal_role = Some(PortalRole::Owner);
    event.user_ids.push(w.actor());
    w.publish(event);
    team::Entity::find_by_id(w.team())
        .one(w.db())
        .await?
        .ok_or_else(|| Error::NotFound("the team no longer exists".into()))
}

/// A change of a member's product access; `None` leaves a part as it is, and a product role
/// given as `Some(None)` is cleared.
#[derive(Clone, Debug, Default)]
pub struct AccessChange {
    /// The products enabled.
    pub products: Option<Vec<Product>>,
    /// The Orchestrator role.
    pub orchestrator_role: Option<Option<OrchestratorRole>>,
    /// The Process Hub role.
    pub process_hub_role: Option<Option<ProcessHubRole>>,
    /// The audit-log flag.
    pub audit_log_access: Option<bool>,
}

async fn products_of(w: &Write<'_>, membership: i32) -> Result<Vec<Product>, Error> {
    let mut products: Vec<Product> = membership_product::Entity::find()
        .filter(membership_product::Column::MembershipId.eq(membership))
        .all(w.db())
        .await?
        .into_iter()
        .map(|p| p.product)
        .collect();
    products.sort_by_key(|p| p.to_value());
    Ok(products)
}

async fn set_products(w: &Write<'_>, membership: i32, products: &[Product]) -> Result<(), Error> {
    membership_product::Entity::delete_many()
        .filter(membership_product::Column::MembershipId.eq(membership))
        .exec(w.db())
        .await?;
    let mut products = products.to_vec();
    products.sort_by_key(|p| p.to_value());
    products.dedup();
    if !products.is_empty() {
        membership_product::Entity::insert_many(products.into_iter().map(|product| {
            membership_product::ActiveModel {
                membership_id: Set(membership),
                product: Set(product),
            }
        }))
        .exec(w.db())
        .await?;
    }
    Ok(())
}

fn names(products: &[Product]) -> Vec<String> {
    products.iter().map(|p| p.to_value()).collect()
}

/// Changes a member's products, product roles and audit-log flag.
pub async fn set_access(
    w: &mut Write<'_>,
    id: i32,
    change: AccessChange,
) -> Result<membership::Model, Error> {
    let t = target(w, id).await?;
    w.authorize(
        w.member_resource(&t.member),
        Action::named("set-member-access").on_role(policy_role(t.member.portal_role)),
        &format!("change the product access of {}", t.user.email),
    )?;
    let (member, details) = apply_access(w, &t, change, false).await?;
    if !details.is_empty() {
        w.audit(t.audit("member.access_changed", serde_json::Value::Object(details))).await?;
    }
    Ok(member)
}

/// Applies a change of access; answers the member and what changed (old → new), for the
/// caller's audit entry. `copied` allows the products of OWNER and ADMIN to be "set" (they
/// keep every product whatever is copied).
async fn apply_access(
    w: &mut Write<'_>,
    t: &Target,
    change: AccessChange,
    copied: bool,
) -> Result<(membership::Model, serde_json::Map<String, serde_json::Value>), Error> {
    let everything = matches!(t.member.portal_role, PortalRole::Owner | PortalRole::Admin);
    if everything && change.products.is_some() && !copied {
        return Err(Error::InvalidInput(format!(
            "{} is {} and has every product; their products cannot be narrowed",
            t.who(),
            t.member.portal_role.to_value()
        )));
    }
    let before = products_of(w, t.member.id).await?;
    let products = change.products.clone().unwrap_or_else(|| before.clone());
    let enabled = |product| everything || products.contains(&product);
    // A product taken away takes its role along, unless a role is given.
    let orchestrator_role = match change.orchestrator_role {
        Some(role) => role,
        None if enabled(Product::Orchestrator) => t.member.orchestrator_role,
        None => None,
    };
    let process_hub_role = match change.process_hub_role {
        Some(role) => role,
        None if enabled(Product::ProcessHub) => t.member.process_hub_role,
        None => None,
    };
    product_roles_fit(t.member.portal_role, &products, orchestrator_role, process_hub_role)
        .map_err(Error::InvalidInput)?;
    let audit_log_access = change.audit_log_access.unwrap_or(t.member.audit_log_access);

    let mut details = serde_json::Map::new();
    let mut sorted = products.clone();
    sorted.sort_by_key(|p| p.to_value());
    sorted.dedup();
    if !everything && sorted != before {
        details.insert("products".into(), json!({ "from": names(&before), "to": names(&sorted) }));
        set_products(w, t.member.id, &sorted).await?;
    }
    if orchestrator_role != t.member.orchestrator_role {
        details.insert(
            "orchestratorRole".into(),
            json!({
                "from": t.member.orchestrator_role.map(|r| r.to_value()),
                "to": orchestrator_role.map(|r| r.to_value()),
            }),
        );
    }
    if process_hub_role != t.member.process_hub_role {
        details.insert(
            "processHubRole".into(),
            json!({
                "from": t.member.process_hub_role.map(|r| r.to_value()),
                "to": process_hub_role.map(|r| r.to_value()),
            }),
        );
    }
    if audit_log_access != t.member.audit_log_access {
        details.insert(
            "auditLogAccess".into(),
            json!({ "from": t.member.audit_log_access, "to": audit_log_access }),
        );
    }
    if details.is_empty() {
        return Ok((t.member.clone(), details));
    }
    let mut row = t.member.clone().into_active_model();
    row.orchestrator_role = Set(orchestrator_role);
    row.process_hub_role = Set(process_hub_role);
    row.audit_log_access = Set(audit_log_access);
    let member = row.update(w.db()).await?;
    w.publish(t.event(w, TeamEventKind::MemberAccessChanged));
    Ok((member, details))
}

/// Gives a member the products, product roles, security groups and audit-log flag of another,
/// in one step. Their portal role stays.
pub async fn copy_access(
    w: &mut Write<'_>,
    from_id: i32,
    to_id: i32,
) -> Result<membership::Model, Error> {
    if from_id == to_id {
        return Err(Error::InvalidInput("copy access from one member to another".into()));
    }
    let source = target(w, from_id).await?;
    let t = target(w, to_id).await?;
    w.authorize(
        w.member_resource(&t.member),
        Action::named("copy-member-access").on_role(policy_role(t.member.portal_role)),
        &format!("copy product access to {}", t.user.email),
    )?;
    // The caller must be allowed to read what they copy.
    let class = w.guard().classify(w.member_resource(&source.member));
    w.guard().permit(class, "products")?;
    let change = AccessChange {
        products: Some(products_of(w, source.member.id).await?),
        orchestrator_role: Some(source.member.orchestrator_role),
        process_hub_role: Some(source.member.process_hub_role),
        audit_log_access: Some(source.member.audit_log_access),
    };
    let (member, mut details) = apply_access(w, &t, change, true).await?;
    // Security groups: the target's become the source's.
    let (add, remove): (Vec<i32>, Vec<i32>) = (
        source.groups.iter().copied().filter(|g| !t.groups.contains(g)).collect(),
        t.groups.iter().copied().filter(|g| !source.groups.contains(g)).collect(),
    );
    if !remove.is_empty() {
        security_group_member::Entity::delete_many()
            .filter(security_group_member::Column::UserId.eq(t.member.user_id))
            .filter(security_group_member::Column::SecurityGroupId.is_in(remove.clone()))
            .exec(w.db())
            .await?;
    }
    if !add.is_empty() {
        security_group_member::Entity::insert_many(add.iter().map(|group| {
            security_group_member::ActiveModel {
                security_group_id: Set(*group),
                user_id: Set(t.member.user_id),
            }
        }))
        .exec(w.db())
        .await?;
    }
    if !add.is_empty() || !remove.is_empty() {
        details.insert("securityGroups".into(), json!({ "from": t.groups, "to": source.groups }));
        for (groups, kind) in [
            (add, TeamEventKind::SecurityGroupMembersAdded),
            (remove, TeamEventKind::SecurityGroupMembersRemoved),
        ] {
            for group in groups {
                let mut event = t.event(w, kind);
                event.security_group_id = Some(group);
                event.security_groups = vec![group];
                w.publish(event);
            }
        }
    }
    if !details.is_empty() {
        details.insert("copiedFrom".into(), json!(source.user.email));
        let mut audit = t.audit("member.access_copied", serde_json::Value::Object(details));
        audit.security_groups.extend(&source.groups);
        w.audit(audit).await?;
    }
    Ok(member)
}

/// Suspends or reactivates a member. A suspended member's next request to the team is
/// refused and their subscriptions to it end; their roles are kept.
pub async fn set_suspended(
    w: &mut Write<'_>,
    id: i32,
    suspended: bool,
) -> Result<membership::Model, Error> {
    let t = target(w, id).await?;
    let (action, words) =
        if suspended { ("suspend-member", "suspend") } else { ("reactivate-member", "reactivate") };
    w.authorize(
        w.member_resource(&t.member),
        Action::named(action).on_role(policy_role(t.member.portal_role)),
        &format!("{words} {}", t.user.email),
    )?;
    if suspended && t.is_owner() {
        return Err(Error::Conflict(format!(
            "{} owns the team and cannot be suspended; transfer ownership first",
            t.who()
        )));
    }
    if t.member.suspended == suspended {
        return Ok(t.member);
    }
    let mut row = t.member.clone().into_active_model();
    row.suspended = Set(suspended);
    let member = row.update(w.db()).await?;
    w.audit(t.audit(
        if suspended { "member.suspended" } else { "member.reactivated" },
        json!({ "suspended": { "from": !suspended, "to": suspended } }),
    ))
    .await?;
    w.publish(t.event(
        w,
        if suspended { TeamEventKind::MemberSuspended } else { TeamEventKind::MemberReactivated },
    ));
    Ok(member)
}

/// Removes a member from the team, with their security-group memberships, task assignments
/// and launch permissions there. What they created stays.
pub async fn remove(w: &mut Write<'_>, id: i32) -> Result<i32, Error> {
    let t = target(w, id).await?;
    w.authorize(
        w.member_resource(&t.member),
        Action::named("remove-member").on_role(policy_role(t.member.portal_role)),
        &format!("remove {} from the team", t.user.email),
    )?;
    if t.is_owner() {
        return Err(Error::Conflict(format!(
            "{} owns the team and cannot be removed; transfer ownership first",
            t.who()
        )));
    }
    let user = t.member.user_id;
    security_group_member::Entity::delete_many()
        .filter(security_group_member::Column::UserId.eq(user))
        .filter(security_group_member::Column::SecurityGroupId.in_subquery(team_groups(w.team())))
        .exec(w.db())
        .await?;
    let unassigned = task::Entity::update_many()
        .col_expr(task::Column::AssigneeId, Expr::value(Option::<i32>::None))
        .filter(task::Column::TeamId.eq(w.team()))
        .filter(task::Column::AssigneeId.eq(user))
        .exec(w.db())
        .await?;
    process_launcher::Entity::delete_many()
        .filter(process_launcher::Column::UserId.eq(user))
        .filter(
            process_launcher::Column::ProcessId.in_subquery(
                Query::select()
                    .column(process::Column::Id)
                    .from(process::Entity)
                    .and_where(process::Column::TeamId.eq(w.team()))
                    .to_owned(),
            ),
        )
        .exec(w.db())
        .await?;
    membership::Entity::delete_by_id(t.member.id).exec(w.db()).await?;
    w.audit(t.audit(
        "member.removed",
        json!({
            "portalRole": t.member.portal_role.to_value(),
            "securityGroups": t.groups,
            "tasksUnassigned": unassigned.rows_affected,
        }),
    ))
    .await?;
    w.publish(t.event(w, TeamEventKind::MemberRemoved));
    Ok(t.member.id)
}
