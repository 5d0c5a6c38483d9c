//! Who may see and change which recording, for every dialect that has users (the Call
//! Recording API's password-grant tokens and the console): company recordings belong to
//! the account, on-demand recordings to the user who made them. The user's role decides
//! (issue 17):
//!
//! - an admin, or a client-credentials token (the operator's service access), sees all
//!   and may delete;
//! - a reviewer sees all the tenant's recordings and changes nothing;
//! - an agent sees their own on-demand recordings and the interactions they handled
//!   (where the interaction's handling agents include the agent's user id), and may
//!   delete only their own on-demand recordings.
//!
//! Listings are narrowed in the query ([`Access::narrow`]), never filtered after it, so
//! pages stay full; single reads check [`Access::sees`].

use callvault_core::interaction::RecordingKind;
use callvault_core::{Interaction, InteractionQuery, Role, User};

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// An admin or a client-credentials token: everything.
    Account,
    /// Every recording of the tenant, read only.
    Reviewer(User),
    /// Their own on-demand recordings and the interactions they handled.
    Agent(User),
}

/// Whose a recording is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    Company,
    /// An on-demand recording of this user (empty when it names none).
    User(String),
}

impl Access {
    /// The access of a signed-in user (`None`: a client-credentials token).
    pub fn of(user: Option<&User>) -> Self {
        match user {
            None => Access::Account,
            Some(u) => match u.role {
                Role::Admin => Access::Account,
                Role::Reviewer => Access::Reviewer(u.clone()),
                Role::Agent => Access::Agent(u.clone()),
            },
        }
    }

    /// Whether every recording of the tenant is visible (an admin, a reviewer, a client).
    pub fn sees_all(&self) -> bool {
        !matches!(self, Access::Agent(_))
    }

    /// Whether this may change what the tenant holds: delete any recording, place or
    /// release holds, govern and manage. Only an admin or a client-credentials token.
    pub fn may_change(&self) -> bool {
        *self == Access::Account
    }

    /// Whether this may delete the recording of `owner`: an admin or client any, an agent
    /// their own on-demand recordings, a reviewer none.
    pub fn may_delete(&self, owner: &Owner) -> bool {
        match (self, owner) {
            (Access::Account, _) => true,
            (Access::Agent(u), Owner::User(id)) => *id == u.id,
            (Access::Agent(_), Owner::Company) | (Access::Reviewer(_), _) => false,
        }
    }

    /// Whether the interaction is visible: the same rule [`Access::narrow`] puts in a query.
    pub fn sees(&self, i: &Interaction) -> bool {
        match self {
            Access::Account | Access::Reviewer(_) => true,
            Access::Agent(u) => {
                Owner::of(i) == Owner::User(u.id.clone()) || i.meta.handled_by(&u.id)
            }
        }
    }

    /// Narrows a query to what this access sees, in the query itself.
    pub fn narrow(&self, q: &mut InteractionQuery) {
        if let Access::Agent(u) = self {
            q.visible_to_agent = Some(u.id.clone());
        }
    }
}

impl Owner {
    pub fn of(i: &Interaction) -> Self {
        let a = &i.meta.attributes;
        match (a.recording_kind, &a.owning_user_id) {
            (Some(RecordingKind::OnDemand), Some(u)) => Owner::User(u.clone()),
            (Some(RecordingKind::OnDemand), None) => Owner::User(String::new()),
            _ => Owner::Company,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use callvault_core::{Attributes, Direction, Guid, InteractionMeta, TenantId};

    fn user(id: &str, role: Role) -> User {
        User {
            tenant_id: TenantId(1),
            id: id.into(),
            login: id.into(),
            role,
        }
    }

    fn call(agents: &[&str], owner: Option<&str>) -> Interaction {
        Interaction {
            id: 1,
            tenant_id: TenantId(1),
            number: 1,
            meta: InteractionMeta {
                guid: Guid::new_random(),
                start: chrono::Utc::now(),
                end: None,
                direction: Direction::Inbound,
                connect_from: Default::default(),
                connect_to: Default::default(),
                caller_name: None,
                handling_agents: agents.iter().map(|a| (*a).into()).collect(),
                extensions: Vec::new(),
                queue_id: None,
                queue_name: None,
                channel: None,
                attributes: Attributes {
                    recording_kind: owner.map(|_| RecordingKind::OnDemand),
                    owning_user_id: owner.map(str::to_string),
                    ..Default::default()
                },
            },
            content: Vec::new(),
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn an_agent_sees_what_they_own_or_handled_and_nothing_else() {
        let a = Access::of(Some(&user("7", Role::Agent)));
        assert!(a.sees(&call(&["7"], None)), "handled");
        assert!(a.sees(&call(&["3", "7"], Some("9"))), "handled, another's");
        assert!(a.sees(&call(&[], Some("7"))), "owned");
        assert!(!a.sees(&call(&["3"], None)));
        assert!(!a.sees(&call(&["70"], Some("77"))), "ids match whole");
        assert!(!a.sees_all() && !a.may_change());
        assert!(a.may_delete(&Owner::User("7".into())));
        assert!(!a.may_delete(&Owner::Company));
        assert!(!a.may_delete(&Owner::User("9".into())));
        let mut q = InteractionQuery::default();
        a.narrow(&mut q);
        assert_eq!(q.visible_to_agent.as_deref(), Some("7"));
    }

    #[test]
    fn a_reviewer_sees_all_and_changes_nothing() {
        let r = Access::of(Some(&user("8", Role::Reviewer)));
        assert!(r.sees(&call(&["3"], None)) && r.sees(&call(&[], Some("9"))));
        assert!(r.sees_all() && !r.may_change());
        assert!(!r.may_delete(&Owner::Company) && !r.may_delete(&Owner::User("8".into())));
        let mut q = InteractionQuery::default();
        r.narrow(&mut q);
        assert_eq!(q, InteractionQuery::default());
    }

    #[test]
    fn an_admin_and_a_client_have_account_access() {
        assert_eq!(Access::of(Some(&user("1", Role::Admin))), Access::Account);
        assert_eq!(Access::of(None), Access::Account);
        assert!(Access::Account.may_change() && Access::Account.may_delete(&Owner::Company));
    }
}
