//! Listing queries of the Recordings files API: the date grammar (the tenant's day, zones,
//! ranges, start and finish dates within five seconds, relative dates), field filters, and
//! bad queries named in XML and CSV.

use super::{get, Vcc};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Four calls of 20 s around 2007-08-05, which in Los Angeles (the tenant's zone) is
/// 07:00Z to 07:00Z next day: 1 just before it, 2 at its start (agent ann), 3 just before
/// its end (wrap-up code Resolved), 4 at the next day's start (outbound).
async fn four_calls() -> Vcc {
    let v = Vcc::new().await;
    v.call(1, "2007-08-05T06:59:59Z", 20, json!({})).await;
    v.call(
        2,
        "2007-08-05T07:00:00Z",
        20,
        json!({"handlingAgents": ["ann"]}),
    )
    .await;
    v.call(
        3,
        "2007-08-06T06:59:59Z",
        20,
        json!({"attributes": {"wrapUpCode": "Resolved"}}),
    )
    .await;
    v.call(
        4,
        "2007-08-06T07:00:00Z",
        20,
        json!({"direction": "outbound", "connectTo": "7"}),
    )
    .await;
    v
}

/// The listed calls' numbers, from their file names.
fn numbers(files: &[Vec<(String, String)>]) -> Vec<String> {
    files
        .iter()
        .map(|f| get(f, "filename")[25..30].to_string())
        .collect()
}

#[tokio::test]
async fn a_day_is_the_tenants_unless_a_zone_is_given() {
    let v = four_calls().await;
    assert_eq!(
        numbers(&v.xml("d=2007-08-05").await),
        vec!["00002", "00003"],
        "the tenant's day"
    );
    assert_eq!(
        numbers(&v.xml("d=2007-08-05&tz=UTC").await),
        vec!["00001", "00002"]
    );
}

#[tokio::test]
async fn a_date_range_ends_before_its_second_date() {
    let v = four_calls().await;
    assert_eq!(
        numbers(&v.xml("d=20070805T0659Z,20070805T0700Z").await),
        vec!["00001"],
        "ranges end before the second date"
    );
    assert_eq!(
        numbers(&v.xml("d=2007-08-05 07:00Z,2007-08-07").await),
        vec!["00002", "00003", "00004"]
    );
}

#[tokio::test]
async fn a_start_date_matches_a_call_starting_within_five_seconds() {
    let v = four_calls().await;
    assert_eq!(
        numbers(&v.xml("start-date=2007-08-05T07:00:05Z").await),
        vec!["00002"],
        "within 5 seconds"
    );
    assert_eq!(
        numbers(&v.xml("start-date=2007-08-05T07:00:06Z").await).len(),
        0
    );
}

#[tokio::test]
async fn a_finish_date_matches_a_call_ending_then() {
    let v = four_calls().await;
    assert_eq!(
        numbers(&v.xml("finish-date=2007-08-05 07:00:25Z").await),
        vec!["00002"]
    );
}

#[tokio::test]
async fn a_start_date_wins_over_a_finish_date() {
    let v = four_calls().await;
    assert_eq!(
        numbers(
            &v.xml("start-date=2007-08-06T07:00:05Z&finish-date=2007-08-05T07:00:20Z")
                .await
        ),
        vec!["00004"],
        "start-date wins"
    );
}

#[tokio::test]
async fn field_filters_select_by_agent_wrap_up_code_channel_and_queue_and_combine() {
    let v = four_calls().await;
    assert_eq!(numbers(&v.xml("agentID=ann").await), vec!["00002"]);
    assert_eq!(numbers(&v.xml("wrapUpCode=Resolved").await), vec!["00003"]);
    assert_eq!(
        numbers(&v.xml("channel=%23virtual_outbound%23").await),
        vec!["00004"]
    );
    assert_eq!(
        numbers(&v.xml("queueName=phoneq1&agentID=bill").await),
        vec!["00001", "00003"]
    );
}

#[tokio::test]
async fn relative_dates_count_from_today() {
    let v = four_calls().await;
    assert_eq!(numbers(&v.xml("d=today-1d,today").await).len(), 0);
}

#[tokio::test]
async fn a_bad_query_is_named_in_xml_and_in_csv() {
    let v = four_calls().await;
    for (q, field) in [
        ("d=yesterday", "d"),
        ("d=2007-08-05,2007-08-04", "d"),
        ("tz=Mars/Base", "tz"),
        ("n=0", "n"),
        ("startDate=2007-08-05", "startDate"),
        ("Start-Date=2007-08-05", "Start-Date"),
        ("colour=red", "colour"),
        ("start-date=noon", "start-date"),
    ] {
        let (status, text) = v.files(&format!("/api/recordings/files?{q}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{q}");
        assert!(
            text.contains(&format!("<field>{field}</field>")),
            "{q}: {text}"
        );
        let (status, text) = v.files(&format!("/api/recordings/files.csv?{q}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap()["field"],
            field
        );
    }
}
