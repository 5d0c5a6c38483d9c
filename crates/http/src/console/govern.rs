//! The governance part of the interaction page, for admins: the legal holds that cover
//! the call, the retention that applies to it (reckoned by core's `Rules`, as every
//! delete is), and its audit trail, newest first.

use callvault_core::{Interaction, LegalHold, Selector};
use callvault_services::audit::AuditFilter;
use callvault_services::ServiceError;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::audit::{rows, AuditRow};
use super::session::Viewer;
use crate::AppState;

/// Audit records shown per page of an interaction's trail.
const TRAIL_PAGE: u32 = 20;

pub struct HoldRow {
    pub id: String,
    pub case_name: String,
    pub reason: String,
    pub placed_by: String,
    pub placed_at: String,
    /// "Active", or when and by whom it was released.
    pub state: String,
    pub active: bool,
    /// Whether the hold covers more than one call named by its id: released from one
    /// call's page, it is released for every call it covers, which the button says.
    pub broad: bool,
}

pub struct PolicyRow {
    pub name: String,
    pub min_days: String,
    pub max_days: String,
}

pub struct CallGovernance {
    pub holds: Vec<HoldRow>,
    pub policies: Vec<PolicyRow>,
    pub kept_until: Option<String>,
    pub deleted_after: Option<String>,
    pub trail: Vec<AuditRow>,
    /// The link to the next (older) page of the trail.
    pub older: Option<String>,
}

pub fn local(tz: Tz, t: DateTime<Utc>) -> String {
    t.with_timezone(&tz)
        .format("%Y-%m-%d %H:%M:%S %Z")
        .to_string()
}

pub fn hold_row(h: LegalHold, tz: Tz) -> HoldRow {
    let state = match (&h.released_at, &h.released_by) {
        (Some(at), by) => format!(
            "Released {} by {}",
            local(tz, *at),
            by.as_deref().unwrap_or("unknown")
        ),
        (None, _) => "Active".into(),
    };
    let broad = match h.selector.guids.as_slice() {
        [one] => {
            h.selector
                != Selector {
                    guids: vec![one.clone()],
                    ..Default::default()
                }
        }
        _ => true,
    };
    HoldRow {
        broad,
        id: h.id.to_string(),
        active: h.is_active(),
        case_name: h.case_name,
        reason: h.reason,
        placed_by: h.created_by,
        placed_at: local(tz, h.created_at),
        state,
    }
}

/// What governs `i`, with the page of its trail before `before` (the newest without).
pub async fn of(
    state: &AppState,
    viewer: &Viewer,
    i: &Interaction,
    tz: Tz,
    before: Option<i64>,
) -> Result<CallGovernance, ServiceError> {
    let tenant = viewer.principal.tenant;
    let gov = state.vault.governance_of(tenant, i).await?;
    let retention = gov.rules.retention_of(i);
    let days = |d: Option<u32>| d.map(|d| format!("{d} days")).unwrap_or_else(|| "–".into());
    let policies = retention
        .policies
        .iter()
        .map(|p| PolicyRow {
            name: p.name.clone(),
            min_days: days(p.min_days),
            max_days: days(p.max_days),
        })
        .collect();
    let kept_until = retention
        .kept_until
        .map(|(policy, until)| format!("{} (policy '{policy}')", local(tz, until)));
    let deleted_after = retention.deleted_after.map(|t| local(tz, t));
    let filter = AuditFilter {
        interaction: Some(i.meta.guid.to_string()),
        ..AuditFilter::default()
    };
    let records = state
        .vault
        .audit_newest(tenant, &filter, before, TRAIL_PAGE)
        .await?;
    let older = (records.len() == TRAIL_PAGE as usize)
        .then(|| records.last())
        .flatten()
        .map(|r| format!("/calls/{}?audit_before={}#audit-h", i.meta.guid, r.seq));
    Ok(CallGovernance {
        holds: gov.holds.into_iter().map(|h| hold_row(h, tz)).collect(),
        policies,
        kept_until,
        deleted_after,
        trail: rows(&records, tz),
        older,
    })
}
