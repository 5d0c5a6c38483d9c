use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{CompactString, ContentItem, Guid, Invalid, TenantId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Inbound,
    Outbound,
    Internal,
}

impl Direction {
    pub const ALL: [Direction; 3] = [Direction::Inbound, Direction::Outbound, Direction::Internal];

    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
            Direction::Internal => "internal",
        }
    }

    /// Case-insensitive, as the platform's query binding is.
    pub fn parse(field: &str, s: &str) -> Result<Direction, Invalid> {
        Direction::ALL
            .into_iter()
            .find(|d| d.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                Invalid::new(
                    field,
                    format!(
                        "{field} '{s}' is not valid; valid values: inbound, outbound, internal"
                    ),
                )
            })
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a recording was made by a company-wide rule or on demand by a user; the Call
/// Recording dialect lists them separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RecordingKind {
    Company,
    OnDemand,
}

/// Vendor fields that only some dialects show. Typed rather than a free map so that a
/// dialect cannot invent fields the others do not know about.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Attributes {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ext_var1: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ext_var2: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wrap_up_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_dial_code: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recording_rule_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording_kind: Option<RecordingKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owning_user_id: Option<String>,
}

/// The writable description of an interaction, as ingest receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InteractionMeta {
    pub guid: Guid,
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
    pub direction: Direction,
    pub connect_from: CompactString,
    pub connect_to: CompactString,
    pub caller_name: Option<CompactString>,
    pub handling_agents: Vec<CompactString>,
    pub extensions: Vec<String>,
    pub queue_id: Option<CompactString>,
    pub queue_name: Option<CompactString>,
    pub channel: Option<CompactString>,
    pub attributes: Attributes,
}

/// Longest address accepted; `001` limits search prefixes to 50 characters, stored values
/// may be longer (e-mail addresses, chat handles).
pub const MAX_ADDRESS_LEN: usize = 256;
const MAX_SHORT_FIELD: usize = 256;

impl InteractionMeta {
    /// Whether `agent` is among the agents who handled the interaction.
    pub fn handled_by(&self, agent: &str) -> bool {
        self.handling_agents.iter().any(|a| a == agent)
    }

    /// Checks the invariants every dialect relies on.
    pub fn validate(&self) -> Result<(), Invalid> {
        if let Some(end) = self.end {
            if end < self.start {
                return Err(Invalid::new("end", "end must not be before start"));
            }
        }
        for (field, value) in [
            ("connectFrom", &self.connect_from),
            ("connectTo", &self.connect_to),
        ] {
            if value.chars().count() > MAX_ADDRESS_LEN || value.chars().any(char::is_control) {
                return Err(Invalid::new(
                    field,
                    format!("{field} must be at most {MAX_ADDRESS_LEN} printable characters"),
                ));
            }
        }
        for agent in &self.handling_agents {
            check_identifier("handlingAgents", agent)?;
        }
        for ext in &self.extensions {
            check_identifier("extensions", ext)?;
        }
        let a = &self.attributes;
        let shorts = [
            ("callerName", self.caller_name.as_deref()),
            ("queueId", self.queue_id.as_deref()),
            ("queueName", self.queue_name.as_deref()),
            ("channel", self.channel.as_deref()),
            ("attributes.caseId", a.case_id.as_deref()),
            ("attributes.accountNumber", a.account_number.as_deref()),
            ("attributes.transactionId", a.transaction_id.as_deref()),
            ("attributes.extVar1", a.ext_var1.as_deref()),
            ("attributes.extVar2", a.ext_var2.as_deref()),
            ("attributes.wrapUpCode", a.wrap_up_code.as_deref()),
            ("attributes.outDialCode", a.out_dial_code.as_deref()),
            ("attributes.owningUserId", a.owning_user_id.as_deref()),
        ];
        for (field, value) in shorts {
            if let Some(v) = value {
                check_short(field, v)?;
            }
        }
        for id in &a.recording_rule_ids {
            check_short("attributes.recordingRuleIds", id)?;
        }
        Ok(())
    }
}

/// The rule for every stored free-text field: at most [`MAX_SHORT_FIELD`] characters, none
/// of them a control character (which XML cannot carry and CSV would pass on raw).
pub fn check_short(field: &str, value: &str) -> Result<(), Invalid> {
    if value.chars().count() > MAX_SHORT_FIELD || value.chars().any(char::is_control) {
        return Err(Invalid::new(
            field,
            format!("{field} must be at most {MAX_SHORT_FIELD} printable characters"),
        ));
    }
    Ok(())
}

/// Agent ids and extensions are short printable tokens.
pub fn check_identifier(field: &str, value: &str) -> Result<(), Invalid> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'));
    if ok {
        Ok(())
    } else {
        Err(Invalid::new(
            field,
            format!("{field} entries must be 1 to 64 letters, digits, '-', '_', '.' or '@'"),
        ))
    }
}

/// A stored interaction with its content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interaction {
    /// Store-wide row id; the stable tiebreaker for ordering and paging.
    pub id: i64,
    pub tenant_id: TenantId,
    /// Per-tenant sequence number, used as the integer id of dialects that need one.
    pub number: i64,
    pub meta: InteractionMeta,
    pub content: Vec<ContentItem>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
