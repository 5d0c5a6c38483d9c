//! One interaction as a Recordings files API record (`003`). Only interactions with a
//! `callRecording` are records; the recording is the file.
//!
//! Call types follow the seed's table. The core has no separate "direct agent access"
//! flag: an inbound call that reached an agent without a queue is direct agent access,
//! and so is an internal call (agent to agent, never queued).

use callvault_core::{CompactString, ContentItem, ContentType, Direction, Interaction};
use chrono::NaiveDateTime;
use chrono_tz::Tz;

use super::dates::format_local;
use callvault_core::content::extension_for;

/// Output fields, in the seed's order.
pub const FIELDS: [&str; 15] = [
    "startDate",
    "agentID",
    "phoneNumber",
    "channel",
    "caseID",
    "duration",
    "filename",
    "queueID",
    "queueName",
    "accountNumber",
    "transactionID",
    "extVar1",
    "extVar2",
    "outDialCode",
    "wrapUpCode",
];

pub const OUTBOUND_CHANNEL: &str = "#virtual_outbound#";
pub const DAA_CHANNEL: &str = "#virtual_daa#";
pub const OUTBOUND_QUEUE: &str = "QUEUE_OUTBOUND";
pub const DAA_QUEUE: &str = "QUEUE_DIRECT_AGENT_ACCESS";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallType {
    Inbound,
    Outbound,
    DirectAgentAccess,
}

pub fn call_type(i: &Interaction) -> CallType {
    match (i.meta.direction, &i.meta.queue_id) {
        (Direction::Outbound, _) => CallType::Outbound,
        (Direction::Inbound, Some(_)) => CallType::Inbound,
        _ => CallType::DirectAgentAccess,
    }
}

pub struct Record {
    pub values: [String; 15],
    pub recording: ContentItem,
}

impl Record {
    pub fn get(&self, field: &str) -> Option<&str> {
        FIELDS
            .iter()
            .position(|f| *f == field)
            .map(|i| self.values[i].as_str())
    }
}

/// The file name a record is downloaded by: `S{date}/R{date}{time}{number}.{ext}` in UTC,
/// the shape of the seed's `S20071220/R2007122003163601000.wav`, with the per-tenant
/// interaction number (at least five digits) making it unique.
pub fn filename(i: &Interaction, recording: &ContentItem) -> String {
    let t = i.meta.start;
    format!(
        "S{}/R{}{:05}.{}",
        t.format("%Y%m%d"),
        t.format("%Y%m%d%H%M%S"),
        i.number,
        extension_for(&recording.media_type)
    )
}

/// Reads a file name back to the interaction number and start it names. Anything else,
/// including path tricks, is `None`.
pub fn parse_filename(name: &str) -> Option<(i64, NaiveDateTime)> {
    let (dir, file) = name.split_once('/')?;
    let day = dir
        .strip_prefix('S')
        .filter(|d| d.len() == 8 && d.bytes().all(|b| b.is_ascii_digit()))?;
    let (stem, ext) = file.rsplit_once('.')?;
    if !matches!(ext, "wav" | "mp3" | "bin") {
        return None;
    }
    let digits = stem
        .strip_prefix('R')
        .filter(|s| s.len() >= 19 && s.len() <= 32 && s.bytes().all(|b| b.is_ascii_digit()))?;
    let (stamp, number) = digits.split_at(14);
    if !stamp.starts_with(day) {
        return None;
    }
    let at = NaiveDateTime::parse_from_str(stamp, "%Y%m%d%H%M%S").ok()?;
    Some((number.parse().ok()?, at))
}

pub fn record(i: &Interaction, tz: Tz) -> Option<Record> {
    let recording = i
        .content
        .iter()
        .find(|c| c.content_type == ContentType::CallRecording)?
        .clone();
    let m = &i.meta;
    let a = &m.attributes;
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let short = |v: &Option<CompactString>| v.as_deref().unwrap_or_default().to_string();
    let (phone, channel, queue_id, queue_name) = match call_type(i) {
        CallType::Inbound => (
            m.connect_from.to_string(),
            m.connect_to.to_string(),
            short(&m.queue_id),
            short(&m.queue_name),
        ),
        CallType::Outbound => (
            m.connect_to.to_string(),
            OUTBOUND_CHANNEL.into(),
            OUTBOUND_QUEUE.into(),
            OUTBOUND_QUEUE.into(),
        ),
        CallType::DirectAgentAccess => (
            m.connect_from.to_string(),
            DAA_CHANNEL.into(),
            DAA_QUEUE.into(),
            DAA_QUEUE.into(),
        ),
    };
    let duration_s = match (recording.duration_ms, m.end) {
        (Some(ms), _) => ms.saturating_add(500) / 1000,
        (None, Some(end)) => (end - m.start).num_seconds().max(0) as u64,
        (None, None) => 0,
    };
    let values = [
        format_local(m.start, tz),
        m.handling_agents
            .first()
            .map(ToString::to_string)
            .unwrap_or_default(),
        phone,
        channel,
        text(&a.case_id),
        duration_s.to_string(),
        filename(i, &recording),
        queue_id,
        queue_name,
        text(&a.account_number),
        text(&a.transaction_id),
        text(&a.ext_var1),
        text(&a.ext_var2),
        text(&a.out_dial_code),
        text(&a.wrap_up_code),
    ];
    Some(Record { values, recording })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filenames_round_trip_and_refuse_tricks() {
        let (n, at) = parse_filename("S20071220/R2007122003163601000.wav").unwrap();
        assert_eq!(n, 1000);
        assert_eq!(at.to_string(), "2007-12-20 03:16:36");
        for bad in [
            "../S20071220/R2007122003163601000.wav",
            "S20071220/../R2007122003163601000.wav",
            "S20071221/R2007122003163601000.wav",
            "S20071220/R2007122003163601000.exe",
            "S20071220/R200712200316360100.wav",
            "S20071220/R2007122003163601000.wav/x",
            "S2007122/R2007122003163601000.wav",
            "",
        ] {
            assert!(parse_filename(bad).is_none(), "{bad}");
        }
    }
}
