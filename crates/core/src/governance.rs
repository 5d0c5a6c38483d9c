//! Legal holds and retention: which content a rule covers, and the one decision every
//! delete path asks before it removes anything (docs/governance.md).
//!
//! Pure functions over the interaction and the tenant's rules, so that the storage layer
//! can ask them inside the delete's own transaction and every dialect, background job
//! and CLI command gets the same answer.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::interaction::RecordingKind;
use crate::{ContentItem, ContentType, Direction, Guid, Interaction, Invalid, TenantId};

/// Longest retention a policy may name: a century, so `start + days` never overflows.
pub const MAX_RETENTION_DAYS: u32 = 36_600;
/// Most GUIDs one hold may list; larger sets are given by a query.
pub const MAX_HOLD_GUIDS: usize = 10_000;
/// Longest name, case name or matched value, in characters.
pub const MAX_TEXT: usize = 256;

/// The attributes a selector may match, by their wire names.
pub const ATTRIBUTE_NAMES: [&str; 9] = [
    "caseId",
    "accountNumber",
    "transactionId",
    "extVar1",
    "extVar2",
    "wrapUpCode",
    "outDialCode",
    "owningUserId",
    "recordingRuleId",
];

/// Which interactions (and, optionally, which of their content) a hold or policy covers.
/// Every given field must match; an empty selector covers everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Selector {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guids: Vec<Guid>,
    /// Interactions that started at or after this instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_from: Option<DateTime<Utc>>,
    /// Interactions that started before this instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_to: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    /// A phone number or address that appears as the caller or the called party.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handling_agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording_kind: Option<RecordingKind>,
    /// Attribute name (one of [`ATTRIBUTE_NAMES`]) to the exact value it must have.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    /// Only these kinds of content; empty means all of an interaction's content and the
    /// interaction itself.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub content_types: Vec<ContentType>,
}

impl Selector {
    pub fn validate(&self, field: &str) -> Result<(), Invalid> {
        if self.guids.len() > MAX_HOLD_GUIDS {
            return Err(Invalid::new(
                format!("{field}.guids"),
                format!("at most {MAX_HOLD_GUIDS} GUIDs; select larger sets by a query"),
            ));
        }
        if let (Some(from), Some(to)) = (self.start_from, self.start_to) {
            if to <= from {
                return Err(Invalid::new(
                    format!("{field}.startTo"),
                    "startTo must be after startFrom",
                ));
            }
        }
        let texts = [
            ("number", &self.number),
            ("handlingAgent", &self.handling_agent),
            ("queueId", &self.queue_id),
        ];
        for (name, value) in texts {
            if let Some(v) = value {
                check_text(&format!("{field}.{name}"), v, MAX_TEXT)?;
            }
        }
        for (name, value) in &self.attributes {
            if !ATTRIBUTE_NAMES.contains(&name.as_str()) {
                return Err(Invalid::new(
                    format!("{field}.attributes"),
                    format!(
                        "unknown attribute '{name}'; known: {}",
                        ATTRIBUTE_NAMES.join(", ")
                    ),
                ));
            }
            check_text(&format!("{field}.attributes.{name}"), value, MAX_TEXT)?;
        }
        Ok(())
    }

    /// Whether the interaction itself is covered (content types aside).
    pub fn covers(&self, i: &Interaction) -> bool {
        let m = &i.meta;
        (self.guids.is_empty() || self.guids.contains(&m.guid))
            && self.start_from.is_none_or(|t| m.start >= t)
            && self.start_to.is_none_or(|t| m.start < t)
            && self.direction.is_none_or(|d| m.direction == d)
            && self
                .number
                .as_ref()
                .is_none_or(|n| m.connect_from == n || m.connect_to == n)
            && self.handling_agent.as_ref().is_none_or(|a| m.handled_by(a))
            && self
                .queue_id
                .as_ref()
                .is_none_or(|q| m.queue_id.as_deref() == Some(q.as_str()))
            && self
                .recording_kind
                .is_none_or(|k| m.attributes.recording_kind == Some(k))
            && self
                .attributes
                .iter()
                .all(|(name, value)| has_attribute(i, name, value))
    }

    /// Whether one content item of a covered interaction is covered.
    pub fn covers_item(&self, i: &Interaction, item: &ContentItem) -> bool {
        self.covers(i)
            && (self.content_types.is_empty() || self.content_types.contains(&item.content_type))
    }
}

fn has_attribute(i: &Interaction, name: &str, value: &str) -> bool {
    let a = &i.meta.attributes;
    let field = match name {
        "caseId" => &a.case_id,
        "accountNumber" => &a.account_number,
        "transactionId" => &a.transaction_id,
        "extVar1" => &a.ext_var1,
        "extVar2" => &a.ext_var2,
        "wrapUpCode" => &a.wrap_up_code,
        "outDialCode" => &a.out_dial_code,
        "owningUserId" => &a.owning_user_id,
        "recordingRuleId" => return a.recording_rule_ids.iter().any(|r| r == value),
        _ => return false,
    };
    field.as_deref() == Some(value)
}

/// The rule for governance's texts: 1 to `max` printable characters, not only blanks.
pub fn check_text(field: &str, value: &str, max: usize) -> Result<(), Invalid> {
    let bad = value.trim().is_empty()
        || value.chars().count() > max
        || value.chars().any(char::is_control);
    if bad {
        return Err(Invalid::new(
            field,
            format!("{field} must be 1 to {max} printable characters"),
        ));
    }
    Ok(())
}

/// A legal hold: while active, nothing it covers can be deleted by any path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LegalHold {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub case_name: String,
    pub reason: String,
    pub selector: Selector,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub released_at: Option<DateTime<Utc>>,
    pub released_by: Option<String>,
}

impl LegalHold {
    pub fn is_active(&self) -> bool {
        self.released_at.is_none()
    }
}

/// A retention policy: keep what it covers at least `min_days` and delete it after
/// `max_days`, both counted from the interaction's start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetentionPolicy {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub name: String,
    pub selector: Selector,
    pub min_days: Option<u32>,
    pub max_days: Option<u32>,
    /// A disabled policy neither protects nor deletes; its dry run still answers.
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl RetentionPolicy {
    /// Checks the policy's own fields (the name, the day counts and their order).
    pub fn validate(&self) -> Result<(), Invalid> {
        check_text("name", &self.name, MAX_TEXT)?;
        self.selector.validate("selector")?;
        for (field, days) in [("minDays", self.min_days), ("maxDays", self.max_days)] {
            if days.is_some_and(|d| d > MAX_RETENTION_DAYS) {
                return Err(Invalid::new(
                    field,
                    format!("{field} must be at most {MAX_RETENTION_DAYS}"),
                ));
            }
        }
        match (self.min_days, self.max_days) {
            (None, None) => Err(Invalid::new(
                "maxDays",
                "a policy needs minDays, maxDays or both",
            )),
            (Some(min), Some(max)) if max < min => Err(Invalid::new(
                "maxDays",
                "maxDays must not be less than minDays",
            )),
            (_, Some(0)) => Err(Invalid::new("maxDays", "maxDays must be at least 1")),
            _ => Ok(()),
        }
    }
}

/// Why a delete may not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Under an active legal hold (its case name).
    Held { case_name: String },
    /// Under a policy's minimum retention, until this instant.
    Retained {
        policy: String,
        until: DateTime<Utc>,
    },
}

impl Refusal {
    pub fn message(&self) -> String {
        match self {
            Refusal::Held { case_name } => {
                format!("the content is under legal hold ('{case_name}') and cannot be deleted")
            }
            Refusal::Retained { policy, until } => format!(
                "the content is kept by retention policy '{policy}' until {} and cannot be deleted before",
                until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        }
    }
}

/// Who asks for a delete: retention deletes only what has expired, everyone else only
/// what no minimum keeps; a hold stops them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteCause {
    Request,
    Retention,
    Erasure,
}

impl DeleteCause {
    /// As webhook events name it.
    pub fn as_str(self) -> &'static str {
        match self {
            DeleteCause::Request => "request",
            DeleteCause::Retention => "retention",
            DeleteCause::Erasure => "erasure",
        }
    }
}

/// A tenant's governance rules as one delete sees them.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    pub holds: Vec<LegalHold>,
    pub policies: Vec<RetentionPolicy>,
}

impl Rules {
    pub fn is_empty(&self) -> bool {
        self.holds.is_empty() && self.policies.is_empty()
    }

    fn hold_on(&self, i: &Interaction, item: Option<&ContentItem>) -> Option<&LegalHold> {
        self.holds
            .iter()
            .filter(|h| h.is_active())
            .find(|h| match item {
                Some(item) => h.selector.covers_item(i, item),
                None => h.selector.covers(i),
            })
    }

    fn matching<'a>(
        &'a self,
        i: &'a Interaction,
        item: Option<&'a ContentItem>,
    ) -> impl Iterator<Item = &'a RetentionPolicy> + 'a {
        self.policies.iter().filter(move |p| {
            p.enabled
                && match item {
                    Some(item) => p.selector.covers_item(i, item),
                    None => p.selector.content_types.is_empty() && p.selector.covers(i),
                }
        })
    }

    /// The minimum retention over the matching policies: (policy name, until).
    fn minimum(
        &self,
        i: &Interaction,
        item: Option<&ContentItem>,
    ) -> Option<(String, DateTime<Utc>)> {
        self.matching(i, item)
            .filter_map(|p| p.min_days.map(|d| (p.name.clone(), after(i, d))))
            .max_by_key(|(_, until)| *until)
    }

    /// When an item (or, with `None`, the interaction itself) expires: the longest
    /// matching maximum, never before the longest minimum; `None` when nothing asks for
    /// its deletion.
    pub fn expiry(&self, i: &Interaction, item: Option<&ContentItem>) -> Option<DateTime<Utc>> {
        let max = self
            .matching(i, item)
            .filter_map(|p| p.max_days.map(|d| after(i, d)))
            .max()?;
        Some(match self.minimum(i, item) {
            Some((_, min)) => max.max(min),
            None => max,
        })
    }

    /// The policy whose maximum sets the expiry (the longest), for the record of what
    /// retention deleted.
    pub fn expiring_policy(&self, i: &Interaction, item: Option<&ContentItem>) -> Option<String> {
        self.matching(i, item)
            .filter_map(|p| p.max_days.map(|d| (&p.name, d)))
            .max_by_key(|(_, d)| *d)
            .map(|(name, _)| name.clone())
    }

    /// The retention that applies to the interaction itself, as the console shows it:
    /// the enabled policies that cover it, until when a minimum keeps it, and when
    /// retention deletes it; the same reckoning the delete gate and the retention pass use.
    pub fn retention_of<'a>(&'a self, i: &'a Interaction) -> Retention<'a> {
        Retention {
            policies: self.matching(i, None).collect(),
            kept_until: self.minimum(i, None),
            deleted_after: self.expiry(i, None),
        }
    }

    /// May this content item be deleted now, for this cause?
    pub fn may_delete_item(
        &self,
        i: &Interaction,
        item: &ContentItem,
        cause: DeleteCause,
        now: DateTime<Utc>,
    ) -> Result<(), Refusal> {
        if let Some(h) = self.hold_on(i, Some(item)) {
            return Err(Refusal::Held {
                case_name: h.case_name.clone(),
            });
        }
        self.check_minimum(i, Some(item), cause, now)
    }

    /// May the interaction, with all its content, be deleted now, for this cause?
    pub fn may_delete_interaction(
        &self,
        i: &Interaction,
        cause: DeleteCause,
        now: DateTime<Utc>,
    ) -> Result<(), Refusal> {
        if let Some(h) = self.hold_on(i, None) {
            return Err(Refusal::Held {
                case_name: h.case_name.clone(),
            });
        }
        self.check_minimum(i, None, cause, now)?;
        i.content
            .iter()
            .try_for_each(|item| self.check_minimum(i, Some(item), cause, now))
    }

    fn check_minimum(
        &self,
        i: &Interaction,
        item: Option<&ContentItem>,
        cause: DeleteCause,
        now: DateTime<Utc>,
    ) -> Result<(), Refusal> {
        if cause == DeleteCause::Retention {
            // Retention deletes only after the expiry, which is never before a minimum.
            return match self.expiry(i, item) {
                Some(at) if at <= now => Ok(()),
                _ => Err(Refusal::Retained {
                    policy: self
                        .minimum(i, item)
                        .map(|(p, _)| p)
                        .unwrap_or_else(|| "none".into()),
                    until: self.expiry(i, item).unwrap_or(DateTime::<Utc>::MAX_UTC),
                }),
            };
        }
        match self.minimum(i, item) {
            Some((policy, until)) if now < until => Err(Refusal::Retained { policy, until }),
            _ => Ok(()),
        }
    }

    /// What retention should delete of this interaction now: the whole interaction, or
    /// the keys of its expired content items (held content and content some minimum
    /// still keeps are left).
    pub fn expired(&self, i: &Interaction, now: DateTime<Utc>) -> Expired {
        if self
            .may_delete_interaction(i, DeleteCause::Retention, now)
            .is_ok()
        {
            return Expired::Interaction;
        }
        let keys: Vec<String> = i
            .content
            .iter()
            .filter(|item| {
                self.may_delete_item(i, item, DeleteCause::Retention, now)
                    .is_ok()
            })
            .map(|item| item.key.to_string())
            .collect();
        if keys.is_empty() {
            Expired::Nothing
        } else {
            Expired::Items(keys)
        }
    }
}

/// The retention of one interaction (see [`Rules::retention_of`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retention<'a> {
    pub policies: Vec<&'a RetentionPolicy>,
    /// The policy whose minimum lasts longest, and until when it keeps the interaction.
    pub kept_until: Option<(String, DateTime<Utc>)>,
    /// When retention deletes it; `None` when no policy asks for its deletion.
    pub deleted_after: Option<DateTime<Utc>>,
}

/// What a retention pass takes from one interaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expired {
    Nothing,
    Items(Vec<String>),
    Interaction,
}

fn after(i: &Interaction, days: u32) -> DateTime<Utc> {
    i.meta.start + Duration::days(i64::from(days))
}

#[cfg(test)]
#[path = "governance_tests.rs"]
mod tests;
