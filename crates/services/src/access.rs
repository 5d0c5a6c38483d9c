//! Who may see which recording, for every dialect that has users: company recordings
//! belong to the account, on-demand recordings to the user who made them. An account
//! admin, or a client-credentials token (the operator's service access), sees all; a
//! plain user sees only their own on-demand recordings.

use callvault_core::interaction::RecordingKind;
use callvault_core::{Interaction, User};

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    Account,
    User(User),
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
            Some(u) if !u.is_admin => Access::User(u.clone()),
            _ => Access::Account,
        }
    }

    pub fn sees(&self, owner: &Owner) -> bool {
        match (self, owner) {
            (Access::Account, _) => true,
            (Access::User(u), Owner::User(id)) => *id == u.id,
            (Access::User(_), Owner::Company) => false,
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
