//! Bulk import of a folder of recordings exported from another system: the engine behind
//! `callvault ingest --tenant NAME PATH`.
//!
//! The folder holds the media files and one manifest, `manifest.csv` (with a header row) or
//! `manifest.jsonl` (one JSON object per line). Each row is one content item; several rows
//! may share a `guid`. Rows are numbered by their line in the manifest (the CSV header is
//! line 1). Columns, all camelCase; empty means absent:
//!
//! | column | meaning |
//! | --- | --- |
//! | `guid` | interaction GUID (required) |
//! | `start`, `end` | ISO 8601 instants; `start` makes the row describe the interaction |
//! | `direction` | `inbound`, `outbound` or `internal` (required with `start`) |
//! | `connectFrom`, `connectTo` | addresses, usually phone numbers (required with `start`) |
//! | `callerName`, `queueId`, `queueName`, `channel` | optional interaction fields |
//! | `handlingAgents`, `extensions` | agent ids and extensions; `;`-separated in CSV, a string or an array in JSONL |
//! | `caseId`, `accountNumber`, `transactionId`, `extVar1`, `extVar2`, `wrapUpCode`, `outDialCode` | optional attributes |
//! | `file` | the content's path relative to the folder (required) |
//! | `contentKey` | the item's key; defaults to the type name, or for voicemail, screen, IVR and video items to a UUID derived from `guid` and `file`, so re-runs address the same item |
//! | `type` | content type, e.g. `callRecording` (required unless `contentKey` is a type name) |
//! | `mediaType` | e.g. `audio/wav`; inferred from a `.wav`, `.mp3` or `.json` extension when absent |
//! | `owningAgent`, `owningInteractionPlan`, `version`, `durationMs` | optional content properties |
//!
//! The interaction columns of a GUID are taken from its first row that has `start`; its
//! other rows may leave them empty, and any that repeat them must agree. A bad row is
//! reported and skipped while the rest go on. A re-run skips items already stored with the
//! same bytes, so an interrupted import is resumed by running it again.

mod manifest;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use callvault_core::{Guid, InteractionMeta, Invalid, TenantId};
use futures::stream::{self, StreamExt};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use tokio::sync::OnceCell;
use tokio_util::io::ReaderStream;

use crate::error::ServiceResult;
use crate::ingest::ContentUpload;
use crate::vault::Vault;

/// Files are read while other rows hash and upload; more buys little on a small machine.
const CONCURRENCY: usize = 4;
const CHUNK: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowOutcome {
    Ingested,
    /// The item was already stored with the same bytes.
    Skipped,
    Failed(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestEvent {
    /// Sent once, before any row is processed.
    Started { total: usize },
    /// Sent as each row finishes; rows finish out of manifest order.
    Row {
        row: usize,
        file: String,
        outcome: RowOutcome,
    },
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestSummary {
    pub total: usize,
    pub ingested: usize,
    pub skipped: usize,
    /// Manifest line and reason, in line order.
    pub failed: Vec<(usize, String)>,
}

/// Imports every row of the folder's manifest into `tenant`. Fails as a whole only when
/// the folder or its manifest cannot be read; row problems land in the summary.
pub async fn ingest_folder(
    vault: &Vault,
    tenant: TenantId,
    dir: &Path,
    progress: &(dyn Fn(IngestEvent) + Sync),
) -> ServiceResult<IngestSummary> {
    let bad_folder =
        |e: std::io::Error| Invalid::new("path", format!("cannot read {}: {e}", dir.display()));
    let root = tokio::fs::canonicalize(dir).await.map_err(bad_folder)?;
    let mut rows = manifest::read_manifest(&root).await?;
    let interactions = manifest::check_consistency(&mut rows)
        .into_iter()
        .map(|(guid, meta)| (guid, (meta, OnceCell::new())))
        .collect();
    progress(IngestEvent::Started { total: rows.len() });
    let mut summary = IngestSummary {
        total: rows.len(),
        ..IngestSummary::default()
    };
    let run = Run {
        vault,
        tenant,
        root,
        interactions,
    };
    let mut outcomes = stream::iter(&rows)
        .map(|row| async {
            let outcome = match &row.parsed {
                Ok(parsed) => run
                    .row(row, parsed)
                    .await
                    .unwrap_or_else(RowOutcome::Failed),
                Err(reason) => RowOutcome::Failed(reason.clone()),
            };
            (row.line, row.file.clone(), outcome)
        })
        .buffer_unordered(CONCURRENCY);
    while let Some((row, file, outcome)) = outcomes.next().await {
        match &outcome {
            RowOutcome::Ingested => summary.ingested += 1,
            RowOutcome::Skipped => summary.skipped += 1,
            RowOutcome::Failed(reason) => summary.failed.push((row, reason.clone())),
        }
        progress(IngestEvent::Row { row, file, outcome });
    }
    summary.failed.sort();
    Ok(summary)
}

/// Each GUID's interaction is stored once, by whichever of its rows gets there first, and
/// only once a row has a readable file, so a run of bad rows leaves no empty interactions.
type Interactions = HashMap<Guid, (InteractionMeta, OnceCell<Result<(), String>>)>;

struct Run<'a> {
    vault: &'a Vault,
    tenant: TenantId,
    root: PathBuf,
    interactions: Interactions,
}

impl Run<'_> {
    async fn row(&self, row: &manifest::Row, p: &manifest::Parsed) -> Result<RowOutcome, String> {
        let path = resolve(&self.root, &row.file).await?;
        let unreadable = |e: std::io::Error| format!("cannot read '{}': {e}", row.file);
        let (len, sha256) = hash_file(&path).await.map_err(unreadable)?;
        if let Some((meta, stored)) = self.interactions.get(&p.guid) {
            stored
                .get_or_init(|| async {
                    let stored = self.vault.upsert_interaction(self.tenant, meta).await;
                    stored
                        .map(drop)
                        .map_err(|e| format!("interaction not stored: {e}"))
                })
                .await
                .clone()?;
        }
        let existing = self.vault.store.get_interaction(self.tenant, &p.guid).await;
        let key = p.key.stored_form();
        let same = |c: &callvault_core::ContentItem| c.key == key && c.sha256 == sha256;
        if existing
            .map_err(|e| e.to_string())?
            .is_some_and(|i| i.content.iter().any(same))
        {
            return Ok(RowOutcome::Skipped);
        }
        // Declaring what was hashed makes a file that changed since fail instead of being
        // stored unverified.
        let file = tokio::fs::File::open(&path).await.map_err(unreadable)?;
        let upload = ContentUpload {
            expected_len: Some(len),
            expected_sha256: Some(sha256),
            ..p.upload.clone()
        };
        let body = ReaderStream::with_capacity(file, CHUNK);
        self.vault
            .put_content(self.tenant, &p.guid, &p.key, upload, body)
            .await
            .map_err(|e| e.to_string())?;
        Ok(RowOutcome::Ingested)
    }
}

/// Resolves a manifest path (already checked to be relative and free of `..`), refusing
/// one that symlinks out of the folder: the manifest may come from the system being
/// migrated away from, not from the operator.
async fn resolve(root: &Path, file: &str) -> Result<PathBuf, String> {
    let io = |e: std::io::Error| format!("file '{file}': {e}");
    let full = tokio::fs::canonicalize(root.join(file)).await.map_err(io)?;
    if !full.starts_with(root) {
        return Err(format!("file '{file}' resolves outside the folder"));
    }
    if !tokio::fs::metadata(&full).await.map_err(io)?.is_file() {
        return Err(format!("file '{file}' is not a regular file"));
    }
    Ok(full)
}

async fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut file = tokio::fs::File::open(path).await?;
    let mut buf = vec![0u8; CHUNK];
    let mut hasher = Sha256::new();
    let mut len = 0u64;
    loop {
        let n = file.read(&mut buf).await?;
        if n == 0 {
            return Ok((len, hex::encode(hasher.finalize())));
        }
        hasher.update(&buf[..n]);
        len += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::synth_wav;
    use crate::VaultConfig;
    use callvault_core::{ContentType, Direction};
    use std::sync::Mutex;

    const A: &str = "6f1c1b52-3a5e-4d0e-9a57-0c7f5a1e2b01";
    const B: &str = "6f1c1b52-3a5e-4d0e-9a57-0c7f5a1e2b02";

    fn manifest() -> String {
        let header = "guid,start,end,direction,connectFrom,connectTo,callerName,handlingAgents,queueName,caseId,file,contentKey,type,owningAgent";
        let rows = [
            format!("{A},2024-03-01T09:15:00Z,2024-03-01T09:16:02Z,inbound,447700900123,442079460100,Jo Bloggs,1342;1357,Sales,CS-1,calls/a.wav,,callRecording,"),
            format!("{A},,,,,,,,,,calls/b.wav,,voicemail,1342"),
            format!("{B},2024-03-01 10:00:00,,Outbound,442079460600,14155550123,,1401,,,c.WAV,callRecording,,"),
            "6f1c1b52-3a5e-4d0e-9a57-0c7f5a1e2b03,yesterday,,inbound,1,2,,,,,c.WAV,,callRecording,".into(),
            "6f1c1b52-3a5e-4d0e-9a57-0c7f5a1e2b04,2024-03-01,,inbound,1,2,,,,,../outside.wav,,callRecording,".into(),
            "6f1c1b52-3a5e-4d0e-9a57-0c7f5a1e2b05,2024-03-01,,inbound,1,2,,,,,link.wav,,callRecording,".into(),
            "6f1c1b52-3a5e-4d0e-9a57-0c7f5a1e2b06,2024-03-01,,inbound,1,2,,,,,c.WAV,,podcast,".into(),
            "not-a-guid,2024-03-01,,inbound,1,2,,,,,c.WAV,,callRecording,".into(),
            "6f1c1b52-3a5e-4d0e-9a57-0c7f5a1e2b07,2024-03-01,,inbound,1,2,,,,,/etc/passwd,,attachment,".into(),
        ];
        format!("{header}\n{}\n", rows.join("\n"))
    }

    async fn run(vault: &Vault, tenant: TenantId, dir: &Path) -> (IngestSummary, Vec<IngestEvent>) {
        let events = Mutex::new(Vec::new());
        let record = |e: IngestEvent| events.lock().unwrap().push(e);
        let summary = ingest_folder(vault, tenant, dir, &record).await.unwrap();
        (summary, events.into_inner().unwrap())
    }

    /// Unix-only because the escape check includes a symlink pointing out of the folder.
    #[cfg(unix)]
    #[tokio::test]
    async fn imports_rejects_bad_rows_and_resumes() {
        let tmp = tempfile::tempdir().unwrap();
        let folder = tmp.path().join("export");
        std::fs::create_dir_all(folder.join("calls")).unwrap();
        std::fs::write(folder.join("calls/a.wav"), synth_wav(1000, 8000, 300.0)).unwrap();
        std::fs::write(folder.join("calls/b.wav"), synth_wav(1500, 8000, 400.0)).unwrap();
        std::fs::write(folder.join("c.WAV"), synth_wav(2000, 8000, 500.0)).unwrap();
        std::fs::write(tmp.path().join("outside.wav"), synth_wav(500, 8000, 600.0)).unwrap();
        std::os::unix::fs::symlink(tmp.path().join("outside.wav"), folder.join("link.wav"))
            .unwrap();
        std::fs::write(folder.join("manifest.csv"), manifest()).unwrap();
        let vault = Vault::open_embedded(VaultConfig::embedded(tmp.path().join("data")))
            .await
            .unwrap();
        let tenant = vault
            .store
            .create_tenant("acme", "Europe/London")
            .await
            .unwrap()
            .id;

        let (first, events) = run(&vault, tenant, &folder).await;
        assert_eq!(events[0], IngestEvent::Started { total: 9 });
        assert_eq!(events.len(), 10);
        assert_eq!((first.total, first.ingested, first.skipped), (9, 3, 0));
        let lines: Vec<usize> = first.failed.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, [5, 6, 7, 8, 9, 10], "{:?}", first.failed);
        let reason = |line: usize| &first.failed.iter().find(|(l, _)| *l == line).unwrap().1;
        assert!(reason(5).contains("start 'yesterday'"), "{}", reason(5));
        assert!(reason(6).contains("inside the folder"), "{}", reason(6));
        assert!(reason(7).contains("outside the folder"), "{}", reason(7));
        assert!(
            reason(8).contains("unknown type 'podcast'"),
            "{}",
            reason(8)
        );
        assert!(reason(9).contains("36 characters"), "{}", reason(9));
        assert!(reason(10).contains("relative path"), "{}", reason(10));

        let a = vault
            .interaction(tenant, &Guid::parse("g", A).unwrap())
            .await
            .unwrap();
        assert_eq!(a.meta.handling_agents, ["1342", "1357"]);
        assert_eq!(a.meta.attributes.case_id.as_deref(), Some("CS-1"));
        assert_eq!(a.content.len(), 2);
        let voicemail = a
            .content
            .iter()
            .find(|c| c.content_type == ContentType::Voicemail)
            .unwrap();
        assert_eq!(voicemail.owning_agent.as_deref(), Some("1342"));
        assert_eq!(voicemail.duration_ms, Some(1500));
        let b = vault
            .interaction(tenant, &Guid::parse("g", B).unwrap())
            .await
            .unwrap();
        assert_eq!(b.meta.direction, Direction::Outbound);
        assert_eq!(b.content[0].duration_ms, Some(2000));

        let (second, _) = run(&vault, tenant, &folder).await;
        assert_eq!((second.ingested, second.skipped), (0, 3));
        assert_eq!(second.failed, first.failed);
        let again = vault
            .interaction(tenant, &Guid::parse("g", A).unwrap())
            .await
            .unwrap();
        assert_eq!(again.content, a.content);
    }

    #[tokio::test]
    async fn jsonl_rows_and_conflicts() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("t.json"), br#"{"segments":[]}"#).unwrap();
        let meta = format!(
            r#""guid":"{A}","start":"2024-03-01T09:15:00Z","direction":"inbound","connectFrom":"1","connectTo":"2""#
        );
        let lines = [
            format!(
                r#"{{{meta},"handlingAgents":["1342",1357],"file":"t.json","type":"transcript"}}"#
            ),
            String::new(),
            format!(r#"{{"guid":"{A}","file":"t.json","type":"transcript"}}"#),
            format!(
                r#"{{{meta},"callerName":"Someone Else","file":"t.json","type":"sentimentSummary"}}"#
            ),
            format!(r#"{{"guid":"{A}","colour":"blue","file":"t.json","type":"attachment"}}"#),
        ];
        let bom_first = format!("\u{feff}{}", lines.join("\n"));
        std::fs::write(tmp.path().join("manifest.jsonl"), bom_first).unwrap();
        let vault = Vault::open_embedded(VaultConfig::embedded(tmp.path().join("data")))
            .await
            .unwrap();
        let tenant = vault.store.create_tenant("acme", "UTC").await.unwrap().id;
        let (summary, _) = run(&vault, tenant, tmp.path()).await;
        assert_eq!((summary.total, summary.ingested), (4, 1));
        let lines: Vec<usize> = summary.failed.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, [3, 4, 5], "{:?}", summary.failed);
        assert!(summary.failed[0]
            .1
            .contains("line 1 already has content transcript"));
        assert!(summary.failed[1].1.contains("differ from line 1"));
        assert!(summary.failed[2].1.contains("unknown column 'colour'"));
        let a = vault
            .interaction(tenant, &Guid::parse("g", A).unwrap())
            .await
            .unwrap();
        assert_eq!(a.meta.handling_agents, ["1342", "1357"]);
    }
}
