//! The find page, the console's landing page: filters over the same search the
//! Interaction Content API's `GET /interactions` runs (keyset pages with signed
//! continuation tokens, so any number of calls pages without loading them all), or over
//! the transcript search when words are given. An agent's searches are narrowed, in the
//! query, to the recordings they own and the calls they handled, as `Access` rules.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use callvault_core::transcript::TextQuery;
use callvault_core::{ContentType, Direction, Interaction, InteractionQuery};
use callvault_services::transcription::{TextMatch, TextSearch};
use chrono::{DateTime, Days, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

use super::page::{self, Nav};
use super::session::Viewer;
use crate::AppState;

/// Rows per page: a screenful of a dense table.
const PAGE_ROWS: u32 = 50;

/// The filters as the form sends them; every field is echoed back into the form.
#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct FindParams {
    pub period: String,
    pub from: String,
    pub to: String,
    pub agent: String,
    pub queue: String,
    pub direction: String,
    pub from_number: String,
    pub to_number: String,
    pub content: String,
    pub q: String,
    pub order: String,
    pub page: String,
    pub deleted: String,
}

/// One piece of a matched line: its text and whether it is a hit.
pub struct Piece {
    pub text: String,
    pub hit: bool,
}

pub struct Row {
    pub guid: String,
    pub time: String,
    pub iso: String,
    pub direction: &'static str,
    pub from: String,
    pub to: String,
    pub agents: String,
    pub duration: String,
    pub types: String,
    pub said: Vec<Vec<Piece>>,
}

#[derive(Template)]
#[template(path = "console/find.html")]
struct FindPage {
    nav: Option<Nav>,
    f: FindParams,
    rows: Vec<Row>,
    error: Option<String>,
    next: Option<String>,
    first: Option<String>,
    sort: String,
    newest: bool,
    words: bool,
    /// Whether a filter beyond the period and words is set, so the form shows them all.
    more: bool,
    /// The hidden fields of the export form, when these results can be exported.
    export: Option<Vec<(&'static str, String)>>,
    csrf: String,
    periods: [(&'static str, &'static str); 5],
    directions: [Direction; 3],
    types: [ContentType; 12],
    tz: String,
}

const PERIODS: [(&str, &str); 5] = [
    ("today", "Today"),
    ("7d", "Last 7 days"),
    ("30d", "Last 30 days"),
    ("custom", "Dates below"),
    ("any", "Any time"),
];

pub async fn find(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(mut f): Query<FindParams>,
) -> Response {
    let tz = match state.vault.tenant(viewer.principal.tenant).await {
        Ok(t) => t
            .and_then(|t| t.time_zone.parse::<Tz>().ok())
            .unwrap_or(Tz::UTC),
        Err(e) => return page::service_error(viewer.nav(), e),
    };
    if f.period.is_empty() {
        f.period = "30d".into();
    }
    if f.order != "oldest" {
        f.order = "newest".into();
    }
    let today = today(tz);
    let (rows, next, error) = match query(&mut f, tz, today, &viewer) {
        Ok(q) => match run(&state, &viewer, &f, q, tz).await {
            Ok((rows, next)) => (rows, next, None),
            Err(e) => (Vec::new(), None, Some(e)),
        },
        Err(e) => (Vec::new(), None, Some(e)),
    };
    let href = |p: &FindParams| format!("/?{}", query_string(p));
    let mut base = f.clone();
    base.page.clear();
    let mut flipped = base.clone();
    flipped.order = if f.order == "newest" {
        "oldest"
    } else {
        "newest"
    }
    .into();
    let page = FindPage {
        nav: Some(viewer.nav()),
        next: next.map(|t| {
            let mut n = base.clone();
            n.page = t;
            href(&n)
        }),
        first: (!f.page.is_empty()).then(|| href(&base)),
        sort: href(&flipped),
        newest: f.order == "newest",
        words: !f.q.trim().is_empty(),
        more: f.period == "custom"
            || !f.order.eq("newest")
            || [
                &f.agent,
                &f.queue,
                &f.direction,
                &f.from_number,
                &f.to_number,
                &f.content,
            ]
            .iter()
            .any(|v| !v.trim().is_empty()),
        export: (error.is_none() && !rows.is_empty() && f.q.trim().is_empty())
            .then(|| export_fields(&f)),
        csrf: viewer.csrf(),
        error: error.clone(),
        f,
        rows,
        periods: PERIODS,
        directions: Direction::ALL,
        types: ContentType::ALL,
        tz: tz.name().to_string(),
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    page::render(status, &page)
}

fn query_string(p: &FindParams) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in [
        ("period", &p.period),
        ("from", &p.from),
        ("to", &p.to),
        ("agent", &p.agent),
        ("queue", &p.queue),
        ("direction", &p.direction),
        ("from_number", &p.from_number),
        ("to_number", &p.to_number),
        ("content", &p.content),
        ("q", &p.q),
        ("order", &p.order),
        ("page", &p.page),
    ] {
        if !v.is_empty() {
            s.append_pair(k, v);
        }
    }
    s.finish()
}

/// Today in the tenant's time zone, from which the periods count back.
pub fn today(tz: Tz) -> NaiveDate {
    Utc::now().with_timezone(&tz).date_naive()
}

/// The filters as the export form sends them back: the period pinned to the dates the
/// page resolved it to, so that the export covers what the page listed whenever it is
/// sent. Words said are not among them: an export runs the filters only, so the form is
/// not offered with words.
fn export_fields(f: &FindParams) -> Vec<(&'static str, String)> {
    let mut fields = vec![("period", "custom".to_string())];
    for (k, v) in [
        ("from", &f.from),
        ("to", &f.to),
        ("agent", &f.agent),
        ("queue", &f.queue),
        ("direction", &f.direction),
        ("from_number", &f.from_number),
        ("to_number", &f.to_number),
        ("content", &f.content),
    ] {
        if !v.is_empty() {
            fields.push((k, v.clone()));
        }
    }
    fields
}

/// The search the filters describe, narrowed to what the viewer may see. A period other
/// than `custom` is resolved into its dates (in the tenant's time zone), which the form
/// then shows. The find page lists with it, and the export form exports with it.
pub fn query(
    f: &mut FindParams,
    tz: Tz,
    today: NaiveDate,
    viewer: &Viewer,
) -> Result<InteractionQuery, String> {
    let days_back = |n: u64| today.checked_sub_days(Days::new(n)).unwrap_or(today);
    match f.period.as_str() {
        "today" => (f.from, f.to) = (today.to_string(), today.to_string()),
        "7d" => (f.from, f.to) = (days_back(6).to_string(), today.to_string()),
        "30d" => (f.from, f.to) = (days_back(29).to_string(), today.to_string()),
        "any" => (f.from, f.to) = (String::new(), String::new()),
        "custom" => {}
        other => return Err(format!("'{other}' is not a period")),
    }
    let date = |name: &str, v: &str| -> Result<Option<NaiveDate>, String> {
        match v.trim() {
            "" => Ok(None),
            v => NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .map(Some)
                .map_err(|_| format!("{name} must be a date like 2026-11-20")),
        }
    };
    let local = |d: NaiveDate| -> DateTime<Utc> {
        let midnight = d.and_hms_opt(0, 0, 0).unwrap_or_default();
        tz.from_local_datetime(&midnight)
            .earliest()
            .map_or_else(|| midnight.and_utc(), |t| t.with_timezone(&Utc))
    };
    let (from, to) = (date("From", &f.from)?, date("To", &f.to)?);
    let start = match (from, to) {
        (None, None) => None,
        (a, b) => Some((
            a.map_or(DateTime::<Utc>::MIN_UTC, local),
            b.and_then(|d| d.succ_opt())
                .map_or(DateTime::<Utc>::MAX_UTC, |d| {
                    local(d) - chrono::Duration::microseconds(1)
                }),
        )),
    };
    if let Some((a, b)) = start {
        if a > b {
            return Err("From must not be after To".into());
        }
    }
    let text = |name: &str, v: &str| -> Result<Option<String>, String> {
        match v.trim() {
            "" => Ok(None),
            v if v.chars().count() > 50 => Err(format!("{name} must be at most 50 characters")),
            v => Ok(Some(v.to_string())),
        }
    };
    let mut q = InteractionQuery {
        start,
        handling_agent: text("Agent", &f.agent)?,
        queue: text("Queue", &f.queue)?,
        connect_from_prefix: text("From number", &f.from_number)?,
        connect_to_prefix: text("To number", &f.to_number)?,
        direction: match f.direction.as_str() {
            "" => None,
            d => Some(Direction::parse("direction", d).map_err(|e| e.message)?),
        },
        with_content: match f.content.as_str() {
            "" => None,
            c => Some(ContentType::parse(c).ok_or_else(|| format!("'{c}' is not a content type"))?),
        },
        newest_first: f.order == "newest",
        ..Default::default()
    };
    viewer.access().narrow(&mut q);
    Ok(q)
}

/// A page of rows and the token of the next, by words said or by the filters alone.
async fn run(
    state: &AppState,
    viewer: &Viewer,
    f: &FindParams,
    q: InteractionQuery,
    tz: Tz,
) -> Result<(Vec<Row>, Option<String>), String> {
    let token = (!f.page.is_empty()).then_some(f.page.as_str());
    let vault = &state.vault;
    if f.q.trim().is_empty() {
        let page = vault
            .search_keyset(&viewer.actor("find"), &q, "page", token, PAGE_ROWS)
            .await
            .map_err(explain)?;
        let rows = page.items.iter().map(|i| row(i, tz, Vec::new())).collect();
        return Ok((rows, page.next_token));
    }
    let text = TextQuery::parse("q", &f.q).map_err(|e| format!("Words said: {}", e.message))?;
    let s = TextSearch {
        query: q,
        text,
        token: token.map(|t| ("page".to_string(), t.to_string())),
        limit: PAGE_ROWS,
    };
    let page = vault
        .search_text(&viewer.actor("find by words"), &s)
        .await
        .map_err(explain)?;
    let rows = page
        .items
        .into_iter()
        .map(|(i, hits)| row(&i, tz, hits))
        .collect();
    Ok((rows, page.next_token))
}

fn explain(e: callvault_services::ServiceError) -> String {
    match e {
        callvault_services::ServiceError::Invalid(i) if i.field == "page" => {
            "This list of results has changed since it was shown; search again.".into()
        }
        callvault_services::ServiceError::Invalid(i) => i.message,
        other => {
            tracing::error!(error = %other, "console search failed");
            "The search failed; try again shortly.".into()
        }
    }
}

/// `h:mm:ss` or `m:ss`.
pub fn clock(ms: u64) -> String {
    let s = ms / 1000;
    match (s / 3600, s % 3600 / 60, s % 60) {
        (0, m, s) => format!("{m}:{s:02}"),
        (h, m, s) => format!("{h}:{m:02}:{s:02}"),
    }
}

/// How long the call lasted: its recording's measured length, else its start to end.
pub fn duration_ms(i: &Interaction) -> Option<u64> {
    i.content
        .iter()
        .filter(|c| {
            matches!(
                c.content_type,
                ContentType::CallRecording | ContentType::Voicemail
            )
        })
        .find_map(|c| c.duration_ms)
        .or_else(|| {
            let end = i.meta.end?;
            u64::try_from((end - i.meta.start).num_milliseconds()).ok()
        })
}

fn pieces(m: &TextMatch) -> Vec<Piece> {
    let chars: Vec<char> = m.text.chars().collect();
    let (mut out, mut at) = (Vec::new(), 0);
    let mut push = |a: usize, b: usize, hit: bool| {
        if a < b {
            out.push(Piece {
                text: chars[a..b].iter().collect(),
                hit,
            });
        }
    };
    for &(s, e) in &m.hits {
        let (s, e) = (s.clamp(at, chars.len()), e.min(chars.len()));
        if s < e {
            push(at, s, false);
            push(s, e, true);
            at = e;
        }
    }
    push(at, chars.len(), false);
    out
}

fn row(i: &Interaction, tz: Tz, hits: Vec<TextMatch>) -> Row {
    let m = &i.meta;
    let mut types: Vec<&str> = i.content.iter().map(|c| c.content_type.as_str()).collect();
    types.dedup();
    Row {
        guid: m.guid.to_string(),
        time: m
            .start
            .with_timezone(&tz)
            .format("%Y-%m-%d %H:%M")
            .to_string(),
        iso: m.start.to_rfc3339(),
        direction: m.direction.as_str(),
        from: m.connect_from.to_string(),
        to: m.connect_to.to_string(),
        agents: m.handling_agents.join(", "),
        duration: duration_ms(i).map(clock).unwrap_or_default(),
        types: types.join(", "),
        said: hits.iter().take(3).map(pieces).collect(),
    }
}
