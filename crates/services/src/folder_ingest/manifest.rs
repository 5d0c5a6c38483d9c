//! Reading a folder's manifest into rows: the column grammar is documented on
//! [`super`]. Every problem with a row is kept with the row, so that one bad line never
//! stops the import of the others.

use std::collections::{BTreeMap, HashMap};
use std::path::{Component, Path};

use callvault_core::time::parse_instant;
use callvault_core::{
    Attributes, ContentKey, ContentType, Direction, Guid, InteractionMeta, Invalid,
};
use sha2::{Digest, Sha256};

use crate::error::{ServiceError, ServiceResult};
use crate::ingest::ContentUpload;

#[rustfmt::skip]
const COLUMNS: &[&str] = &[
    "guid", "start", "end", "direction", "connectFrom", "connectTo", "callerName",
    "handlingAgents", "extensions", "queueId", "queueName", "channel", "caseId",
    "accountNumber", "transactionId", "extVar1", "extVar2", "wrapUpCode", "outDialCode",
    "file", "contentKey", "type", "mediaType", "owningAgent", "owningInteractionPlan",
    "version", "durationMs",
];

pub(super) struct Row {
    pub(super) line: usize,
    pub(super) file: String,
    pub(super) parsed: Result<Parsed, String>,
}

pub(super) struct Parsed {
    pub(super) guid: Guid,
    pub(super) meta: Option<InteractionMeta>,
    pub(super) key: ContentKey,
    pub(super) upload: ContentUpload,
}

pub(super) async fn read_manifest(root: &Path) -> ServiceResult<Vec<Row>> {
    let csv = root.join("manifest.csv");
    let jsonl = root.join("manifest.jsonl");
    let is_file = |p: &Path| {
        let p = p.to_path_buf();
        async move { tokio::fs::metadata(p).await.is_ok_and(|m| m.is_file()) }
    };
    let (has_csv, has_jsonl) = (is_file(&csv).await, is_file(&jsonl).await);
    let path = match (has_csv, has_jsonl) {
        (true, false) => csv,
        (false, true) => jsonl,
        (true, true) => {
            return Err(manifest_error(
                "both manifest.csv and manifest.jsonl exist; keep one",
            ))
        }
        (false, false) => {
            return Err(manifest_error(
                "the folder has no manifest.csv or manifest.jsonl",
            ))
        }
    };
    let text = tokio::fs::read_to_string(&path)
        .await
        .map_err(|e| manifest_error(&format!("cannot read {}: {e}", path.display())))?;
    // Spreadsheet tools on Windows start their UTF-8 exports with a byte-order mark.
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let fields = if has_csv {
        csv_rows(text)?
    } else {
        jsonl_rows(text)
    };
    Ok(fields
        .into_iter()
        .map(|(line, fields)| Row {
            line,
            file: fields
                .as_ref()
                .ok()
                .and_then(|f| f.get("file").cloned())
                .unwrap_or_default(),
            parsed: fields.and_then(parse_row),
        })
        .collect())
}

fn manifest_error(message: &str) -> ServiceError {
    Invalid::new("manifest", message).into()
}

type Fields = BTreeMap<String, String>;

fn unknown_column(name: &str) -> String {
    format!(
        "unknown column '{name}'; known columns: {}",
        COLUMNS.join(", ")
    )
}

fn csv_rows(text: &str) -> ServiceResult<Vec<(usize, Result<Fields, String>)>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| manifest_error(&e.to_string()))?
        .clone();
    if let Some(bad) = headers.iter().find(|h| !COLUMNS.contains(h)) {
        return Err(manifest_error(&unknown_column(bad)));
    }
    let mut rows = Vec::new();
    let mut line = 1;
    for record in reader.records() {
        line = match &record {
            Ok(r) => r.position().map_or(line + 1, |p| p.line() as usize),
            Err(e) => e.position().map_or(line + 1, |p| p.line() as usize),
        };
        let fields = record.map_err(|e| e.to_string()).map(|r| {
            let pairs = headers.iter().zip(r.iter()).filter(|(_, v)| !v.is_empty());
            pairs.map(|(h, v)| (h.to_string(), v.to_string())).collect()
        });
        rows.push((line, fields));
    }
    Ok(rows)
}

fn jsonl_rows(text: &str) -> Vec<(usize, Result<Fields, String>)> {
    let scalar = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => Some(s.trim().to_string()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    let row = |line: &str| -> Result<Fields, String> {
        let object: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(line).map_err(|e| format!("not a JSON object: {e}"))?;
        let mut fields = Fields::new();
        for (name, value) in &object {
            if !COLUMNS.contains(&name.as_str()) {
                return Err(unknown_column(name));
            }
            let text = match value {
                serde_json::Value::Null => continue,
                serde_json::Value::Array(items) => items
                    .iter()
                    .map(scalar)
                    .collect::<Option<Vec<_>>>()
                    .map(|v| v.join(";")),
                other => scalar(other),
            };
            let text = text
                .ok_or_else(|| format!("{name} must be a string, a number or an array of them"))?;
            if !text.is_empty() {
                fields.insert(name.clone(), text);
            }
        }
        Ok(fields)
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| (i + 1, row(l)))
        .collect()
}

fn parse_row(mut f: Fields) -> Result<Parsed, String> {
    let text = |e: Invalid| e.message;
    let mut take = |name: &str| f.remove(name);
    let required = |name: &str, v: Option<String>| v.ok_or_else(|| format!("{name} is required"));
    let guid = Guid::parse("guid", &required("guid", take("guid"))?).map_err(text)?;
    let file = required("file", take("file"))?;
    let inside = |c: Component| matches!(c, Component::Normal(_) | Component::CurDir);
    if !Path::new(&file).components().all(inside) {
        return Err(format!(
            "file '{file}' must be a relative path inside the folder"
        ));
    }
    let content_type = match take("type") {
        Some(t) => Some(ContentType::parse(&t).ok_or_else(|| {
            let valid: Vec<_> = ContentType::ALL.iter().map(|t| t.as_str()).collect();
            format!("unknown type '{t}'; valid types: {}", valid.join(", "))
        })?),
        None => None,
    };
    let key = match (take("contentKey"), content_type) {
        (Some(k), _) => ContentKey::parse("contentKey", &k).map_err(text)?,
        (None, Some(t)) if t.is_multi_instance() => ContentKey::Unique(derived_key(&guid, &file)),
        (None, Some(t)) => ContentKey::Type(t),
        (None, None) => return Err("type or contentKey is required".into()),
    };
    let media_type = match take("mediaType") {
        Some(m) => m,
        None => infer_media_type(&file)?,
    };
    let number = |name: &str, v: Option<String>| -> Result<Option<u64>, String> {
        v.map(|s| {
            s.parse()
                .map_err(|_| format!("{name} '{s}' is not a whole number"))
        })
        .transpose()
    };
    let version = number("version", take("version"))?
        .map(|v| u32::try_from(v).map_err(|_| "version is too large".to_string()))
        .transpose()?;
    let upload = ContentUpload {
        content_type,
        media_type,
        owning_agent: take("owningAgent"),
        owning_interaction_plan: take("owningInteractionPlan"),
        version,
        duration_ms: number("durationMs", take("durationMs"))?,
        ..ContentUpload::default()
    };
    let meta = parse_meta(&guid, f)?;
    Ok(Parsed {
        guid,
        meta,
        key,
        upload,
    })
}

/// What is left of a row once the content columns are taken: the interaction's columns.
fn parse_meta(guid: &Guid, mut f: Fields) -> Result<Option<InteractionMeta>, String> {
    let Some(start) = f.remove("start") else {
        return match f.keys().next() {
            Some(column) => Err(format!(
                "{column} is set but start is not; interaction columns need start"
            )),
            None => Ok(None),
        };
    };
    let text = |e: Invalid| e.message;
    let mut take = |name: &str| f.remove(name);
    let list = |v: Option<String>| -> Vec<String> {
        v.iter()
            .flat_map(|s| s.split(';'))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    };
    let required =
        |name: &str, v: Option<String>| v.ok_or_else(|| format!("{name} is required with start"));
    let meta = InteractionMeta {
        guid: guid.clone(),
        start: parse_instant("start", &start).map_err(text)?,
        end: take("end")
            .map(|e| parse_instant("end", &e))
            .transpose()
            .map_err(text)?,
        direction: Direction::parse("direction", &required("direction", take("direction"))?)
            .map_err(text)?,
        connect_from: required("connectFrom", take("connectFrom"))?.into(),
        connect_to: required("connectTo", take("connectTo"))?.into(),
        caller_name: take("callerName").map(Into::into),
        handling_agents: list(take("handlingAgents"))
            .into_iter()
            .map(Into::into)
            .collect(),
        extensions: list(take("extensions")),
        queue_id: take("queueId").map(Into::into),
        queue_name: take("queueName").map(Into::into),
        channel: take("channel").map(Into::into),
        attributes: Attributes {
            case_id: take("caseId"),
            account_number: take("accountNumber"),
            transaction_id: take("transactionId"),
            ext_var1: take("extVar1"),
            ext_var2: take("extVar2"),
            wrap_up_code: take("wrapUpCode"),
            out_dial_code: take("outDialCode"),
            ..Attributes::default()
        },
    };
    meta.validate().map_err(text)?;
    Ok(Some(meta))
}

/// A key for a multi-instance item the manifest gave none, the same on every run so that a
/// re-run finds, and skips, the item it stored before.
fn derived_key(guid: &Guid, file: &str) -> uuid::Uuid {
    let digest = Sha256::new()
        .chain_update(guid.as_str())
        .chain_update([0])
        .chain_update(file)
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

fn infer_media_type(file: &str) -> Result<String, String> {
    let ext = Path::new(file)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("wav") => Ok("audio/wav".into()),
        Some("mp3") => Ok("audio/mpeg".into()),
        Some("json") => Ok("application/json".into()),
        _ => Err(format!(
            "cannot infer mediaType from '{file}'; set the mediaType column"
        )),
    }
}

/// Fails rows that contradict an earlier row, and answers each GUID's interaction. Run in
/// line order so that the first row wins however the uploads later interleave.
pub(super) fn check_consistency(rows: &mut [Row]) -> HashMap<Guid, InteractionMeta> {
    let mut first: HashMap<Guid, (usize, InteractionMeta)> = HashMap::new();
    let mut keys: HashMap<(Guid, String), usize> = HashMap::new();
    for row in rows.iter_mut() {
        let Ok(p) = &row.parsed else { continue };
        let item = (p.guid.clone(), p.key.stored_form());
        let conflict = if let Some(earlier) = keys.get(&item) {
            Some(format!(
                "line {earlier} already has content {} for {}",
                item.1, item.0
            ))
        } else {
            match (&p.meta, first.get(&p.guid)) {
                (Some(meta), Some((line, known))) if meta != known => Some(format!(
                    "the interaction columns differ from line {line}, which first describes {}",
                    p.guid
                )),
                _ => None,
            }
        };
        if let Some(reason) = conflict {
            row.parsed = Err(reason);
            continue;
        }
        keys.insert(item, row.line);
        if let Some(meta) = &p.meta {
            first
                .entry(p.guid.clone())
                .or_insert_with(|| (row.line, meta.clone()));
        }
    }
    first
        .into_iter()
        .map(|(guid, (_, meta))| (guid, meta))
        .collect()
}
