//! Why the policy denies: every reason it gives, as a code.
//!
//! A decision crosses into the gateway as a number (`0` allows, `n` denies for reason `n`), and
//! the gateway turns the number back into the text below only when it logs or explains. The
//! texts are asked once per policy version (the `reasons` export), so a denial costs no string.

/// A reason for a denial. Its code is its position in [`Reason::ALL`] plus one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum Reason {
    /// The check names a resource the batch does not hold.
    UnknownResource = 1,
    /// Nothing of an object the principal may not see is readable.
    NotVisible,
    /// No row of `fields.rs` names the field.
    NoFieldRule,
    /// A row names the field, and the principal's roles are not among those it allows.
    FieldRoles,
    /// No row of `actions.rs` names the action.
    NoActionRule,
    /// Only OWNER, ADMIN and SECURITY_ADMIN may.
    OnlyTeamManagers,
    /// Only OWNER and ADMIN may.
    OnlyTeamAdmins,
    /// A role offered must be narrower than the giver's own.
    NarrowerRoleOnly,
    /// Nobody changes their own role.
    OwnRole,
    /// OWNER is only ever transferred.
    OwnershipIsTransferred,
    /// The giver must be broader than both the old and the new role.
    BroaderThanBoth,
    /// Only the owner may.
    OnlyOwner,
    /// The owner already owns the team.
    AlreadyOwner,
    /// Not on oneself.
    NotOnYourself,
    /// Not on the owner.
    NotOnOwner,
    /// Only the person invited may.
    OnlyInvitee,
    /// Only team managers and the administrators of the object's product may.
    OnlyManagersOrProductAdmins,
    /// The principal's Orchestrator role does not allow it.
    OrchestratorRole,
    /// The object is outside the principal's security groups.
    OutsideGroups,
    /// The principal's Process Hub role does not allow it.
    ProcessHubRole,
    /// Process Hub is not enabled for the principal.
    NoProcessHub,
    /// The principal's Process Hub role and relation to the object do not allow it.
    ProcessHubRelation,
}

impl Reason {
    /// Every reason, in the order of their codes.
    pub const ALL: [Reason; 22] = [
        Reason::UnknownResource,
        Reason::NotVisible,
        Reason::NoFieldRule,
        Reason::FieldRoles,
        Reason::NoActionRule,
        Reason::OnlyTeamManagers,
        Reason::OnlyTeamAdmins,
        Reason::NarrowerRoleOnly,
        Reason::OwnRole,
        Reason::OwnershipIsTransferred,
        Reason::BroaderThanBoth,
        Reason::OnlyOwner,
        Reason::AlreadyOwner,
        Reason::NotOnYourself,
        Reason::NotOnOwner,
        Reason::OnlyInvitee,
        Reason::OnlyManagersOrProductAdmins,
        Reason::OrchestratorRole,
        Reason::OutsideGroups,
        Reason::ProcessHubRole,
        Reason::NoProcessHub,
        Reason::ProcessHubRelation,
    ];

    /// The code the gateway receives: never 0, which allows.
    pub const fn code(self) -> u16 {
        self as u16
    }

    /// What the gateway logs.
    pub const fn text(self) -> &'static str {
        match self {
            Reason::UnknownResource => "the check names a resource that is not in the batch",
            Reason::NotVisible => "the object is not visible to the principal",
            Reason::NoFieldRule => "no rule allows reading this field",
            Reason::FieldRoles => "the principal's roles do not allow reading this field",
            Reason::NoActionRule => "no rule allows this action",
            Reason::OnlyTeamManagers => "only team managers may",
            Reason::OnlyTeamAdmins => "only the owner and admins may",
            Reason::NarrowerRoleOnly => "the role offered must be narrower than your own",
            Reason::OwnRole => "nobody changes their own role",
            Reason::OwnershipIsTransferred => "ownership is only transferred",
            Reason::BroaderThanBoth => {
                "your role must be broader than both the old and the new role"
            }
            Reason::OnlyOwner => "only the owner may",
            Reason::AlreadyOwner => "the owner already owns the team",
            Reason::NotOnYourself => "not on yourself",
            Reason::NotOnOwner => "not on the owner",
            Reason::OnlyInvitee => "only the person invited may",
            Reason::OnlyManagersOrProductAdmins => {
                "only team managers and the product's administrators may"
            }
            Reason::OrchestratorRole => "the principal's Orchestrator role does not allow it",
            Reason::OutsideGroups => "the object is outside the principal's security groups",
            Reason::ProcessHubRole => "the principal's Process Hub role does not allow it",
            Reason::NoProcessHub => "Process Hub is not enabled for the principal",
            Reason::ProcessHubRelation => {
                "the principal's Process Hub role and relation do not allow it"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Reason;

    #[test]
    fn codes_are_positions_in_the_list_plus_one() {
        for (at, reason) in Reason::ALL.iter().enumerate() {
            assert_eq!(usize::from(reason.code()), at + 1, "{reason:?}");
        }
    }
}
