//! The tenant's audit trail in the console, for admins only: filtered by dates (in the
//! tenant's time zone), principal and action, newest first, a page at a time, and the
//! same filter as CSV through the audit API's writer.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use callvault_core::{AuditAction, AuditRecord};
use callvault_services::audit::AuditFilter;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

use super::govern::local;
use super::holds::admin_time_zone;
use super::page::{self, Nav};
use super::session::Viewer;
use crate::AppState;

/// Records per page of the tenant's trail.
const PAGE: u32 = 50;
/// Records read per step of a CSV download.
const CSV_STEP: u32 = 5000;

/// One record as the console lists it.
pub struct AuditRow {
    pub at: String,
    pub principal: String,
    pub action: &'static str,
    pub interaction: String,
    pub content_key: String,
    pub outcome: String,
}

pub fn rows(records: &[AuditRecord], tz: Tz) -> Vec<AuditRow> {
    records
        .iter()
        .map(|r| AuditRow {
            at: local(tz, r.event.at),
            principal: r.event.principal.clone(),
            action: r.event.action.as_str(),
            interaction: r.event.interaction.clone().unwrap_or_default(),
            content_key: r.event.content_key.clone().unwrap_or_default(),
            outcome: r.event.outcome.clone(),
        })
        .collect()
}

/// The filter form's fields, as the query string carries them.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct AuditParams {
    from: String,
    to: String,
    principal: String,
    action: String,
    before: Option<i64>,
}

impl AuditParams {
    /// The filter these fields describe, or what is wrong with them.
    fn filter(&self, tz: Tz) -> Result<AuditFilter, String> {
        let day = |name: &str, v: &str| -> Result<Option<NaiveDate>, String> {
            match v.trim() {
                "" => Ok(None),
                v => NaiveDate::parse_from_str(v, "%Y-%m-%d")
                    .map(Some)
                    .map_err(|_| format!("{name} must be a date like 2026-11-20")),
            }
        };
        let from = day("From", &self.from)?.map(|d| midnight(tz, d));
        // Through the whole of the last day: up to the next day's midnight.
        let to = day("To", &self.to)?
            .and_then(|d| d.succ_opt())
            .map(|d| midnight(tz, d));
        let action = match self.action.trim() {
            "" => None,
            a => Some(AuditAction::parse("action", a).map_err(|e| e.message)?),
        };
        let principal = self.principal.trim();
        Ok(AuditFilter {
            from,
            to,
            principal: (!principal.is_empty()).then(|| principal.to_string()),
            interaction: None,
            action,
        })
    }

    /// The query string of the same filter (without paging).
    fn query(&self) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("from", &self.from)
            .append_pair("to", &self.to)
            .append_pair("principal", &self.principal)
            .append_pair("action", &self.action);
        q.finish()
    }
}

/// The start of a local day, as an instant (the earliest, where clocks go back).
fn midnight(tz: Tz, d: NaiveDate) -> DateTime<Utc> {
    let m = d.and_hms_opt(0, 0, 0).unwrap_or_default();
    tz.from_local_datetime(&m)
        .earliest()
        .map_or_else(|| m.and_utc(), |t| t.with_timezone(&Utc))
}

#[derive(Template)]
#[template(path = "console/audit.html")]
struct AuditPage {
    nav: Option<Nav>,
    f: AuditParams,
    actions: Vec<&'static str>,
    error: Option<String>,
    rows: Vec<AuditRow>,
    tz: String,
    csv: String,
    first: Option<String>,
    older: Option<String>,
}

/// `/audit`: the tenant's trail, newest first.
pub async fn trail(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(f): Query<AuditParams>,
) -> Response {
    let tz = match admin_time_zone(&state, &viewer, "read the audit trail").await {
        Ok(tz) => tz,
        Err(resp) => return resp,
    };
    let (records, error) = match f.filter(tz) {
        Ok(filter) => match state
            .vault
            .audit_newest(viewer.principal.tenant, &filter, f.before, PAGE)
            .await
        {
            Ok(r) => (r, None),
            Err(e) => return page::service_error(viewer.nav(), e),
        },
        Err(e) => (Vec::new(), Some(e)),
    };
    let query = f.query();
    let older = (records.len() == PAGE as usize)
        .then(|| records.last())
        .flatten()
        .map(|r| format!("/audit?{query}&before={}", r.seq));
    let page = AuditPage {
        nav: Some(viewer.nav()),
        actions: AuditAction::ALL.iter().map(|a| a.as_str()).collect(),
        error,
        rows: rows(&records, tz),
        tz: tz.name().to_string(),
        csv: format!("/audit.csv?{query}"),
        first: f.before.map(|_| format!("/audit?{query}")),
        older,
        f,
    };
    page::render(StatusCode::OK, &page)
}

/// `/audit.csv`: every record of the same filter, oldest first, as the audit API's CSV.
pub async fn csv(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(f): Query<AuditParams>,
) -> Response {
    let tz = match admin_time_zone(&state, &viewer, "read the audit trail").await {
        Ok(tz) => tz,
        Err(resp) => return resp,
    };
    let filter = match f.filter(tz) {
        Ok(filter) => filter,
        Err(e) => {
            return page::message(
                StatusCode::BAD_REQUEST,
                Some(viewer.nav()),
                "Cannot do that",
                &e,
            )
        }
    };
    let (mut out, mut after) = (crate::audit_api::csv(&[], true), 0);
    loop {
        let records = match state
            .vault
            .audit_records(viewer.principal.tenant, &filter, after, CSV_STEP)
            .await
        {
            Ok(r) => r,
            Err(e) => return page::service_error(viewer.nav(), e),
        };
        out.extend(crate::audit_api::csv(&records, false));
        match records.last() {
            Some(last) if records.len() == CSV_STEP as usize => after = last.seq,
            _ => break,
        }
    }
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"audit.csv\"",
            ),
        ],
        out,
    )
        .into_response()
}
