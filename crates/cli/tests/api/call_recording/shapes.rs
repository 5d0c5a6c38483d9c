//! Wire shapes of the Call Recording API (HAL), as snapshots. The server's address and the
//! times it takes from its clock are redacted.

use super::*;

/// The test server's address differs from run to run.
fn filters() -> Vec<(&'static str, &'static str)> {
    vec![(r"http://127\.0\.0\.1:\d+", "http://[server]")]
}

#[tokio::test]
async fn company_recordings_page() {
    let v = Vbc::new().await;
    v.call(1, "2019-01-01T10:00:00Z", 1000, json!({})).await;
    v.call(
        2,
        "2019-01-02T10:00:00Z",
        2000,
        json!({"direction": "outbound"}),
    )
    .await;
    let (status, page) = v
        .get(
            &v.admin,
            &format!("{P}/accounts/self/company_call_recordings?page_size=1"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    insta::with_settings!({ filters => filters() }, {
        insta::assert_json_snapshot!(page);
    });
}

#[tokio::test]
async fn one_company_recording() {
    let v = Vbc::new().await;
    v.call(1, "2019-01-01T10:00:00Z", 1000, json!({})).await;
    let (status, rec) = v
        .get(
            &v.admin,
            &format!("{P}/accounts/self/company_call_recordings/1"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rec}");
    insta::with_settings!({ filters => filters() }, {
        insta::assert_json_snapshot!(rec);
    });
}

#[tokio::test]
async fn a_missing_recording() {
    let v = Vbc::new().await;
    let (status, body) = v
        .get(
            &v.admin,
            &format!("{P}/accounts/self/company_call_recordings/9"),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    insta::assert_json_snapshot!(body);
}

/// The vendor's `CreateExportJobHalResponse` (`job_ids`) beside the job, and a pending job
/// without `valid_until`; ids and times redacted.
#[tokio::test]
async fn export_job_creation() {
    let v = Vbc::new().await;
    v.call(1, "2019-01-01T10:00:00Z", 1000, json!({})).await;
    let r =
        v.s.http
            .post(v.s.url(&format!("{P}/accounts/self/company_call_recordings/export")))
            .bearer_auth(&v.admin)
            .json(&json!({"call_direction": "INBOUND"}))
            .send()
            .await
            .unwrap();
    let (status, job) = json_of(r).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    let mut f = filters();
    f.push((
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        "[job id]",
    ));
    insta::with_settings!({ filters => f }, {
        insta::assert_json_snapshot!(job, {
            ".status" => "[pending or running]",
            ".files_completed" => "[n]",
            ".files_total" => "[n]",
        });
    });
}

/// The transcriptions listing with its three states.
#[tokio::test]
async fn transcriptions_page() {
    let v = Vbc::new().await;
    v.call(1, "2019-01-01T10:00:00Z", 1000, json!({})).await;
    v.call(2, "2019-01-02T10:00:00Z", 1000, json!({})).await;
    v.transcription(2, Some("the engine failed")).await;
    v.transcription(1, None).await;
    let (status, page) = v
        .get(
            &v.admin,
            &format!("{P}/accounts/self/company_call_recordings/transcriptions"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    insta::with_settings!({ filters => filters() }, {
        insta::assert_json_snapshot!(page);
    });
}
