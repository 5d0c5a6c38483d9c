//! Erasure by data subject: preview, erase, holds reported, no trace of the number in any
//! table, and the keyed lookup still answers.

use crate::common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::{Connection, Row};

const SCOPES: &str = "interaction-content:read interaction-content:delete interaction-content:write callvault:governance callvault:audit";
const NUMBER: &str = "+15557654321";

async fn post(s: &TestServer, t: &str, path: &str, body: Value) -> (StatusCode, Value) {
    json_of(
        s.http
            .post(s.url(path))
            .bearer_auth(t)
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// Where the number still appears in the database: on SQLite, anywhere in the file's
/// bytes (every table, index and free page); on PostgreSQL, in any text column.
async fn traces(s: &TestServer) -> usize {
    match &s.settings.database_url {
        None => {
            let mut n = 0;
            for suffix in ["", "-wal"] {
                let path = s.settings.data_dir.join(format!("callvault.db{suffix}"));
                if let Ok(bytes) = std::fs::read(&path) {
                    n += bytes
                        .windows(NUMBER.len())
                        .filter(|w| *w == NUMBER.as_bytes())
                        .count();
                }
            }
            n
        }
        Some(url) => {
            let mut c = sqlx::PgConnection::connect(url).await.unwrap();
            let cols = sqlx::query(
                "SELECT table_name, column_name FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND data_type IN ('text', 'character varying')",
            )
            .fetch_all(&mut c)
            .await
            .unwrap();
            let mut n = 0;
            for col in cols {
                let (table, column): (String, String) = (col.get(0), col.get(1));
                let sql = format!(
                    "SELECT COUNT(*) FROM \"{table}\" WHERE \"{column}\" LIKE '%' || $1 || '%'"
                );
                let found: i64 = sqlx::query_scalar(&sql)
                    .bind(NUMBER)
                    .fetch_one(&mut c)
                    .await
                    .unwrap();
                n += found as usize;
            }
            n
        }
    }
}

/// A server with three calls: 1 from the number, 2 to it (under a legal hold), 3 neither;
/// and someone has searched for the number. Answers the server, a token and the hold.
async fn three_calls_one_held() -> (TestServer, String, Value) {
    let s = TestServer::start().await;
    let t = s.token("acme", SCOPES).await;
    s.seed_call(
        &t,
        &guid(1),
        call_body("2024-01-01T10:00:00Z", NUMBER, "2000", "a1", "inbound"),
        300,
    )
    .await;
    s.seed_call(
        &t,
        &guid(2),
        call_body("2024-01-02T10:00:00Z", "2000", NUMBER, "a1", "outbound"),
        400,
    )
    .await;
    s.seed_call(
        &t,
        &guid(3),
        call_body(
            "2024-01-03T10:00:00Z",
            "+15550000000",
            "2000",
            "a1",
            "inbound",
        ),
        500,
    )
    .await;
    // Someone searched for the number: the trail keeps that a search happened, not what for.
    let q = format!(
        "/interaction-content/interactions?start=2024-01-01T00:00:00Z&end=2024-01-05T00:00:00Z&connectFrom={}",
        urlencode(NUMBER)
    );
    assert_eq!(s.get(&t, &q).await.status(), StatusCode::OK);
    let (_, hold) = post(
        &s,
        &t,
        "/admin/governance/holds",
        json!({"caseName": "Keep", "reason": "r", "selector": {"guids": [guid(2)]}}),
    )
    .await;
    (s, t, hold)
}

/// Erases the number's calls; answers what the server says it did.
async fn erase(s: &TestServer, t: &str) -> Value {
    post(
        s,
        t,
        "/admin/governance/erasures",
        json!({"subject": NUMBER}),
    )
    .await
    .1
}

/// Erases the number's calls, releases the hold, and erases again (the held call);
/// answers what the second erasure did.
async fn erase_around_the_hold(s: &TestServer, t: &str, hold: &Value) -> Value {
    erase(s, t).await;
    let id = hold["id"].as_str().unwrap();
    post(
        s,
        t,
        &format!("/admin/governance/holds/{id}/release"),
        json!({}),
    )
    .await;
    erase(s, t).await
}

async fn lookup(s: &TestServer, t: &str, subject: &str) -> (StatusCode, Value) {
    post(
        s,
        t,
        "/admin/governance/erasures/lookup",
        json!({ "subject": subject }),
    )
    .await
}

#[tokio::test]
async fn a_preview_names_what_would_be_erased_and_kept_and_deletes_nothing() {
    let (s, t, _) = three_calls_one_held().await;
    let (status, preview) = post(
        &s,
        &t,
        "/admin/governance/erasures/preview",
        json!({"subject": NUMBER}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(preview["erased"], json!([guid(1)]));
    assert_eq!(preview["kept"][0]["guid"], guid(2));
    assert!(exists(&s, &t, 1).await, "a preview deletes nothing");
}

#[tokio::test]
async fn an_erasure_deletes_the_subjects_calls_but_keeps_a_held_one_saying_why() {
    let (s, t, _) = three_calls_one_held().await;
    let done = erase(&s, &t).await;
    assert_eq!(
        (done["erased"].clone(), done["items"].as_u64()),
        (json!([guid(1)]), Some(1)),
        "{done}"
    );
    assert!(
        done["kept"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("legal hold"),
        "{done}"
    );
    assert!(!exists(&s, &t, 1).await && exists(&s, &t, 2).await && exists(&s, &t, 3).await);
}

#[tokio::test]
async fn once_the_hold_is_released_the_number_is_gone_from_every_table() {
    let (s, t, hold) = three_calls_one_held().await;
    assert!(
        traces(&s).await > 0,
        "the check sees the number while it is stored"
    );
    let done = erase_around_the_hold(&s, &t, &hold).await;
    assert_eq!(done["erased"], json!([guid(2)]), "{done}");
    s.vault.audit.flush().await;
    assert_eq!(traces(&s).await, 0, "the number is gone from every table");
}

#[tokio::test]
async fn the_keyed_lookup_lists_the_subjects_past_erasures() {
    let (s, t, hold) = three_calls_one_held().await;
    erase_around_the_hold(&s, &t, &hold).await;
    let (status, past) = lookup(&s, &t, NUMBER).await;
    assert_eq!(status, StatusCode::OK);
    let past = past["erasures"].as_array().unwrap();
    assert_eq!(past.len(), 2, "{past:?}");
    assert!(
        past[0]["detail"].as_str().unwrap().contains("erased=1"),
        "{past:?}"
    );
}

#[tokio::test]
async fn the_keyed_lookup_of_another_subject_finds_nothing() {
    let (s, t, hold) = three_calls_one_held().await;
    erase_around_the_hold(&s, &t, &hold).await;
    let (_, other) = lookup(&s, &t, "+15550000000").await;
    assert_eq!(other["erasures"], json!([]));
}

#[tokio::test]
async fn an_empty_subject_is_refused() {
    let s = TestServer::start().await;
    let t = s.token("acme", SCOPES).await;
    let (status, v) = post(&s, &t, "/admin/governance/erasures", json!({"subject": ""})).await;
    assert_eq!(
        (status, v["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("subject"))
    );
}

async fn exists(s: &TestServer, t: &str, n: u32) -> bool {
    s.get(t, &format!("/interaction-content/interactions/{}", guid(n)))
        .await
        .status()
        == StatusCode::OK
}
