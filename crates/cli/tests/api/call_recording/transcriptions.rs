//! Transcriptions: the company listing with real states (ready, pending, failed), its
//! status filter, and the transcript document.

use super::*;

/// The transcript uploaded for call 1.
const DOC: &[u8] = br#"{"segments":[{"speaker":"agent","text":"hello"}]}"#;

/// Four calls: 1 has a transcript (ready), 2 a queued job (pending), 3 a failed job, and
/// 4 was never sent for transcription.
async fn four_states() -> Vbc {
    let v = Vbc::new().await;
    v.call(1, "2019-01-01T10:00:00Z", 500, json!({})).await;
    v.call(2, "2019-01-02T10:00:00Z", 500, json!({})).await;
    v.call(3, "2019-01-03T10:00:00Z", 500, json!({})).await;
    v.transcription(3, Some("Transcription job failed at AI"))
        .await;
    v.transcription(2, None).await;
    v.call(4, "2019-01-04T10:00:00Z", 500, json!({})).await;
    let r =
        v.s.put_content(
            &v.writer,
            &guid(1),
            "transcript",
            "",
            "application/json",
            DOC.to_vec(),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    v
}

fn list(query: &str) -> String {
    format!("{P}/accounts/self/company_call_recordings/transcriptions{query}")
}

/// The listing's entries, newest first: 3 (failed), 2 (pending), 1 (ready).
async fn listed(v: &Vbc) -> Value {
    let (status, page) = v.get(&v.admin, &list("")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(
        ids(&page, "transcriptions"),
        vec![3, 2, 1],
        "recordings never sent for transcription are not listed"
    );
    page["_embedded"]["transcriptions"].clone()
}

#[tokio::test]
async fn only_recordings_sent_for_transcription_are_listed() {
    let v = four_states().await;
    listed(&v).await;
}

#[tokio::test]
async fn a_ready_transcription_links_to_its_document() {
    let v = four_states().await;
    let t = listed(&v).await;
    assert_eq!(t[2]["transcription_ready"], true);
    assert!(t[2]["transcription_url"]
        .as_str()
        .unwrap()
        .ends_with("/call_recording/v1/api/transcription/1"));
}

#[tokio::test]
async fn a_pending_transcription_is_not_ready_and_has_no_error() {
    let v = four_states().await;
    let t = listed(&v).await;
    assert_eq!(
        (
            t[1]["transcription_ready"].as_bool(),
            t[1]["transcription_error"].is_null()
        ),
        (Some(false), true)
    );
}

#[tokio::test]
async fn a_failed_transcription_carries_the_engines_error_and_the_call_date() {
    let v = four_states().await;
    let t = listed(&v).await;
    assert_eq!(
        t[0]["transcription_error"],
        "Transcription job failed at AI"
    );
    assert_eq!(t[0]["call_date"], "2019-01-03T10:00:00+0000");
}

/// The status filter takes the vendor's states in any case.
#[tokio::test]
async fn filters_by_transcription_status() {
    let v = four_states().await;
    for (q, want) in [
        ("READY", vec![1]),
        ("pending", vec![2]),
        ("FAILED", vec![3]),
    ] {
        let (_, page) = v
            .get(&v.admin, &list(&format!("?transcription_status={q}")))
            .await;
        assert_eq!(ids(&page, "transcriptions"), want, "{q}");
    }
}

#[tokio::test]
async fn an_unknown_transcription_status_is_a_bad_request() {
    let v = Vbc::new().await;
    assert_eq!(
        v.get(&v.admin, &list("?transcription_status=DONE")).await.0,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn a_ready_transcription_serves_the_uploaded_document() {
    let v = four_states().await;
    let r =
        v.s.http
            .get(v.s.url("/call_recording/v1/api/transcription/1"))
            .bearer_auth(&v.admin)
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(r.bytes().await.unwrap().to_vec(), DOC);
}

#[tokio::test]
async fn a_pending_transcription_has_no_document() {
    let v = four_states().await;
    assert_eq!(
        v.get(&v.admin, "/call_recording/v1/api/transcription/2")
            .await
            .0,
        StatusCode::NOT_FOUND
    );
}

/// An agent's listing holds the calls they handled, here none of the four; their
/// transcripts are not found either.
#[tokio::test]
async fn an_agent_lists_only_the_transcriptions_of_calls_they_handled() {
    let v = four_states().await;
    let (status, page) = v.get(&v.user, &list("")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(ids(&page, "transcriptions"), Vec::<i64>::new());
    assert_eq!(
        v.get(&v.user, "/call_recording/v1/api/transcription/1")
            .await
            .0,
        StatusCode::NOT_FOUND
    );
}
