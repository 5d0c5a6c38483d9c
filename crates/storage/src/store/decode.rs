//! Rows to domain values. Both backends hand back the same [`Value`](crate::sql::Value)s
//! for these columns (JSON kept as text, times as microseconds), so one decoder serves
//! both; each reads its columns in the order of the matching `*_COLUMNS` list.

use callvault_core::{
    Attributes, ContentItem, ContentType, Direction, ExportFilters, ExportJob, ExportKind,
    ExportStatus, ExportWatermark, ExternalStorage, Guid, Interaction, InteractionMeta, Job,
    JobKind, JobStatus, LegalHold, RetentionPolicy, StorageTarget, Tenant, TenantId,
};
use uuid::Uuid;

use crate::error::{StoreError, StoreResult};
use crate::meta::{AccessToken, ApiClient};
use crate::sql::{Cols, Row};

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::backend(format!("stored {what} is unreadable: {e}"))
}

fn json<T: serde::de::DeserializeOwned>(c: &mut Cols, what: &str) -> StoreResult<T> {
    serde_json::from_str(c.str()?).map_err(|e| corrupt(what, e))
}

/// A stored list of strings. The lists are written by serde_json, compactly, so the
/// common ones (`[]`, `["1120","1156"]`, no escapes) are split where they lie instead of
/// through a JSON parser, which was a twelfth of a search page's CPU; any other text
/// (escapes, a hand-edited row) goes through serde_json, which also names what is wrong.
fn str_list<T: for<'a> From<&'a str> + serde::de::DeserializeOwned>(
    c: &mut Cols,
    what: &str,
) -> StoreResult<Vec<T>> {
    let text = c.str()?;
    match plain_list(text) {
        Some(items) => Ok(items.map(T::from).collect()),
        None => serde_json::from_str(text).map_err(|e| corrupt(what, e)),
    }
}

/// The items of `["a","b"]` when none holds a quote, a backslash or a control character.
/// Split on the quotes, such a list alternates items and `,` separators.
fn plain_list(text: &str) -> Option<impl Iterator<Item = &str>> {
    let inner = text.strip_prefix('[')?.strip_suffix(']')?;
    let body = match inner {
        "" => "",
        _ => inner.strip_prefix('"')?.strip_suffix('"')?,
    };
    let plain = body.bytes().all(|b| b >= 0x20 && b != b'\\');
    // Items and separators alternate, starting and ending with an item: `["a","]` ends
    // with a separator, an unterminated string that the parser refuses.
    let pieces = body.split('"').count();
    let separated = pieces % 2 == 1 && body.split('"').skip(1).step_by(2).all(|sep| sep == ",");
    let items = if inner.is_empty() { 0 } else { usize::MAX };
    (plain && separated).then(|| body.split('"').step_by(2).take(items))
}

/// Most interactions have none of the vendor attributes, stored as `{}`.
fn attributes(c: &mut Cols) -> StoreResult<Attributes> {
    match c.str()? {
        "{}" => Ok(Attributes::default()),
        text => serde_json::from_str(text).map_err(|e| corrupt("attributes", e)),
    }
}

fn uuid(c: &mut Cols, what: &str) -> StoreResult<Uuid> {
    Uuid::parse_str(c.str()?).map_err(|e| corrupt(what, e))
}

fn u32_of(v: i64) -> u32 {
    v.clamp(0, i64::from(u32::MAX)) as u32
}

pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

pub(crate) const TENANT_COLUMNS: &str = "id, name, time_zone, created_us";

pub(crate) fn tenant(row: Row) -> StoreResult<Tenant> {
    let mut c = row.cols();
    Ok(Tenant {
        id: TenantId(c.i64()?),
        name: c.text()?,
        time_zone: c.text()?,
        created_at: c.time()?,
    })
}

pub(crate) const CLIENT_COLUMNS: &str =
    "client_id, tenant_id, name, secret_hash, scopes, created_us, revoked_us";

pub(crate) fn client(row: Row) -> StoreResult<ApiClient> {
    let mut c = row.cols();
    Ok(ApiClient {
        client_id: c.text()?,
        tenant_id: TenantId(c.i64()?),
        name: c.text()?,
        secret_hash: c.bytes()?,
        scopes: c.text()?,
        created_at: c.time()?,
        revoked_at: c.opt_time()?,
    })
}

pub(crate) const TOKEN_COLUMNS: &str =
    "token_hash, tenant_id, client_id, user_id, scopes, expires_us";

/// An access or refresh token (refresh tokens always name a user).
pub(crate) fn token(row: Row) -> StoreResult<AccessToken> {
    let mut c = row.cols();
    Ok(AccessToken {
        token_hash: c.bytes()?,
        tenant_id: TenantId(c.i64()?),
        client_id: c.text()?,
        user_id: c.opt_text()?,
        scopes: c.text()?,
        expires_at: c.time()?,
    })
}

pub(crate) const INTERACTION_COLUMNS: &str = "i.id, i.tenant_id, i.guid, i.number, i.start_us, \
     i.end_us, i.direction, i.connect_from, i.connect_to, i.caller_name, i.agents, \
     i.extensions, i.queue_id, i.queue_name, i.channel, i.attributes, i.created_us, i.updated_us";

/// How many columns `INTERACTION_COLUMNS` names.
pub(crate) const INTERACTION_WIDTH: usize = 18;

/// An interaction without its content, from the next `INTERACTION_WIDTH` columns of `c`.
pub(crate) fn interaction(c: &mut Cols) -> StoreResult<Interaction> {
    let id = c.i64()?;
    let tenant_id = TenantId(c.i64()?);
    let guid = c.str()?;
    let number = c.i64()?;
    let start = c.time()?;
    let end = c.opt_time()?;
    let direction = c.str()?;
    Ok(Interaction {
        id,
        tenant_id,
        number,
        meta: InteractionMeta {
            guid: Guid::parse("guid", guid).map_err(|e| corrupt("guid", e))?,
            start,
            end,
            direction: Direction::parse("direction", direction)
                .map_err(|e| corrupt("direction", e))?,
            connect_from: c.short()?,
            connect_to: c.short()?,
            caller_name: c.opt_short()?,
            handling_agents: str_list(c, "agents")?,
            extensions: str_list(c, "extensions")?,
            queue_id: c.opt_short()?,
            queue_name: c.opt_short()?,
            channel: c.opt_short()?,
            attributes: attributes(c)?,
        },
        content: Vec::new(),
        created_at: c.time()?,
        updated_at: c.time()?,
    })
}

pub(crate) const CONTENT_COLUMNS: &str = "interaction_id, content_key, content_type, media_type, \
     length, sha256, blob_key, last_modified_us, duration_ms, version, owning_agent, owning_plan";

/// `CONTENT_COLUMNS` of the table aliased `c`, for joins.
pub(crate) const C_CONTENT_COLUMNS: &str = "c.interaction_id, c.content_key, c.content_type, \
     c.media_type, c.length, c.sha256, c.blob_key, c.last_modified_us, c.duration_ms, \
     c.version, c.owning_agent, c.owning_plan";

/// A content item and its interaction's id, from the next 12 columns of `c`; `None` when
/// they are the nulls of an outer join.
pub(crate) fn content(c: &mut Cols) -> StoreResult<Option<(i64, ContentItem)>> {
    let Some(interaction_id) = c.opt_i64()? else {
        return Ok(None);
    };
    let key = c.short()?;
    let t = c.str()?;
    Ok(Some((
        interaction_id,
        ContentItem {
            key,
            content_type: ContentType::parse(t).ok_or_else(|| corrupt("content type", t))?,
            media_type: c.short()?,
            length: c.u64()?,
            sha256: c.text()?,
            blob_key: c.text()?,
            last_modified: c.time()?,
            duration_ms: c.opt_i64()?.map(|d| d.max(0) as u64),
            version: c.opt_i64()?.map(u32_of),
            owning_agent: c.opt_short()?,
            owning_interaction_plan: c.opt_short()?,
        },
    )))
}

pub(crate) fn content_row(row: Row) -> StoreResult<(i64, ContentItem)> {
    content(&mut row.cols())?.ok_or_else(|| StoreError::backend("content row without its key"))
}

pub(crate) const BULK_JOB_COLUMNS: &str =
    "id, tenant_id, kind, owner, params, status, files_total, files_completed, \
     error, attempts, valid_until_us, created_us";

/// A bulk-export job of the Call Recording API (`jobs`).
pub(crate) fn bulk_job(row: Row) -> StoreResult<Job> {
    let mut c = row.cols();
    let id = c.text()?;
    let tenant_id = TenantId(c.i64()?);
    let kind = c.str()?;
    let owner = c.text()?;
    let params = c.text()?;
    let status = c.str()?;
    Ok(Job {
        id,
        tenant_id,
        kind: JobKind::parse(kind).ok_or_else(|| corrupt("job kind", kind))?,
        owner,
        params,
        status: JobStatus::parse(status).ok_or_else(|| corrupt("job status", status))?,
        files_total: c.u64()?,
        files_completed: c.u64()?,
        error: c.opt_text()?,
        attempts: u32_of(c.i64()?),
        valid_until: c.opt_time()?,
        created_at: c.time()?,
    })
}

pub(crate) const STORAGE_COLUMNS: &str = "id, tenant_id, name, target, credentials, created_us";

pub(crate) fn storage(row: Row) -> StoreResult<ExternalStorage> {
    let mut c = row.cols();
    Ok(ExternalStorage {
        id: uuid(&mut c, "storage id")?,
        tenant_id: TenantId(c.i64()?),
        name: c.text()?,
        target: json::<StorageTarget>(&mut c, "target")?,
        sealed_credentials: c.bytes()?,
        created_at: c.time()?,
    })
}

pub(crate) const EXPORT_COLUMNS: &str =
    "id, tenant_id, kind, status, start_us, end_us, filters, storage_id, \
     created_by, created_us, updated_us, next_run_us, last_run_us, watermark, items_exported, \
     bytes_exported, failures, error";

/// A job of the Export API (`export_jobs`).
pub(crate) fn export_job(row: Row) -> StoreResult<ExportJob> {
    let mut c = row.cols();
    let id = uuid(&mut c, "export id")?;
    let tenant_id = TenantId(c.i64()?);
    let kind = c.str()?;
    let status = c.str()?;
    Ok(ExportJob {
        id,
        tenant_id,
        kind: ExportKind::parse(kind).ok_or_else(|| corrupt("export kind", kind))?,
        status: ExportStatus::parse(status).ok_or_else(|| corrupt("export status", status))?,
        start: c.time()?,
        end: c.opt_time()?,
        filters: json::<ExportFilters>(&mut c, "filters")?,
        storage_id: uuid(&mut c, "storage id")?,
        created_by: c.text()?,
        created_at: c.time()?,
        updated_at: c.time()?,
        next_run: c.opt_time()?,
        last_run: c.opt_time()?,
        watermark: c
            .opt_str()?
            .map(serde_json::from_str::<ExportWatermark>)
            .transpose()
            .map_err(|e| corrupt("watermark", e))?,
        items_exported: c.u64()?,
        bytes_exported: c.u64()?,
        failures: u32_of(c.i64()?),
        error: c.opt_text()?,
    })
}

pub(crate) const HOLD_COLUMNS: &str = "id, tenant_id, case_name, reason, selector, created_by, \
    created_us, released_us, released_by";

pub(crate) fn hold(row: Row) -> StoreResult<LegalHold> {
    let mut c = row.cols();
    Ok(LegalHold {
        id: uuid(&mut c, "hold id")?,
        tenant_id: TenantId(c.i64()?),
        case_name: c.text()?,
        reason: c.text()?,
        selector: json(&mut c, "hold selector")?,
        created_by: c.text()?,
        created_at: c.time()?,
        released_at: c.opt_time()?,
        released_by: c.opt_text()?,
    })
}

pub(crate) const POLICY_COLUMNS: &str = "id, tenant_id, name, selector, min_days, max_days, \
    enabled, created_us, updated_us";

pub(crate) fn policy(row: Row) -> StoreResult<RetentionPolicy> {
    let mut c = row.cols();
    Ok(RetentionPolicy {
        id: uuid(&mut c, "policy id")?,
        tenant_id: TenantId(c.i64()?),
        name: c.text()?,
        selector: json(&mut c, "policy selector")?,
        min_days: c.opt_i64()?.map(u32_of),
        max_days: c.opt_i64()?.map(u32_of),
        enabled: c.bool()?,
        created_at: c.time()?,
        updated_at: c.time()?,
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::plain_list;

    fn split(text: &str) -> Option<Vec<String>> {
        plain_list(text).map(|items| items.map(str::to_string).collect())
    }

    #[test]
    fn stored_lists_split_where_they_lie() {
        assert_eq!(split("[]"), Some(vec![]));
        assert_eq!(split(r#"[""]"#), Some(vec![String::new()]));
        assert_eq!(
            split(r#"["",""]"#),
            Some(vec![String::new(), String::new()])
        );
        assert_eq!(
            split(r#"["1120","x y"]"#),
            Some(vec!["1120".into(), "x y".into()])
        );
        let parser_only = [
            r#"["a\"b"]"#,
            r#"["a" ,"b"]"#,
            "[1]",
            r#"["a",]"#,
            r#"["a","]"#,
            r#"["","]"#,
            "",
            "{}",
        ];
        for parser_only in parser_only {
            assert_eq!(split(parser_only), None, "{parser_only}");
        }
    }

    proptest! {
        /// Whatever serde_json wrote reads back the same, by either path.
        #[test]
        fn a_written_list_reads_back(items in prop::collection::vec("\\PC{0,8}|[\"\\\\,\\[\\] ]{0,4}", 0..5)) {
            let text = serde_json::to_string(&items).unwrap();
            if let Some(fast) = split(&text) {
                prop_assert_eq!(fast, items);
            }
        }

        /// The split never answers for text that is not the list serde_json reads.
        #[test]
        fn the_split_agrees_with_the_parser(text in "\\[[\"a,\\\\ \\]\\[]{0,12}\\]") {
            if let Some(fast) = split(&text) {
                let parsed: Vec<String> = serde_json::from_str(&text).unwrap();
                prop_assert_eq!(fast, parsed);
            }
        }
    }
}
