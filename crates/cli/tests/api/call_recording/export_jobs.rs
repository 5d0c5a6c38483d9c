//! Export jobs: created with filters, run in the background, listed per user and kind.

use super::*;

fn company_export() -> String {
    format!("{P}/accounts/self/company_call_recordings/export")
}

fn my_jobs(query: &str) -> String {
    format!("{P}/accounts/self/users/self/call_recordings/jobs{query}")
}

/// Calls 1–3 are inbound company recordings, 4 an outbound one, and 5 the user's
/// on-demand recording.
async fn five_calls() -> Vbc {
    let v = Vbc::new().await;
    for n in 1..=4u32 {
        let dir = if n == 4 { "outbound" } else { "inbound" };
        v.call(
            n,
            &format!("2019-01-0{n}T10:00:00Z"),
            300,
            json!({"direction": dir}),
        )
        .await;
    }
    let owner = json!({"attributes": {"recordingKind": "onDemand", "owningUserId": v.user_id}});
    v.call(5, "2019-01-05T10:00:00Z", 300, owner).await;
    v
}

/// The admin's export of the inbound company recordings, as the server answers it.
async fn export_inbound(v: &Vbc) -> Value {
    let r = v
        .post(
            &v.admin,
            &company_export(),
            json!({"call_direction": "INBOUND", "duration:gte": 100}),
        )
        .await;
    let (status, job) = json_of(r).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    job
}

/// The admin's export of the inbound company recordings once complete: its id and the job.
async fn completed_inbound_export(v: &Vbc) -> (String, Value) {
    let job = export_inbound(v).await;
    let id = job["id"].as_str().unwrap().to_string();
    let done = wait_complete(v, &v.admin, &self_path(v, &job)).await;
    (id, done)
}

#[tokio::test]
async fn creating_an_export_answers_with_the_vendors_job_ids_and_a_download_url() {
    let v = five_calls().await;
    let job = export_inbound(&v).await;
    let id = job["id"].as_str().unwrap();
    assert_eq!(
        job["job_ids"],
        json!([id]),
        "the vendor's CreateExportJobHalResponse"
    );
    assert!(
        job.get("valid_until").is_none() && job.get("error").is_none(),
        "absent until they have a value: {job}"
    );
    assert!(job["download_url"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/bulkDownload/retrieve?jobId={id}")));
}

#[tokio::test]
async fn an_export_completes_with_the_filtered_recordings_and_a_validity() {
    let v = five_calls().await;
    let (_, done) = completed_inbound_export(&v).await;
    assert_eq!(
        (
            done["files_total"].as_u64(),
            done["files_completed"].as_u64()
        ),
        (Some(3), Some(3)),
        "{done}"
    );
    assert!(done["valid_until"].as_str().unwrap().ends_with("+0000"));
}

#[tokio::test]
async fn the_creators_jobs_list_holds_the_export() {
    let v = five_calls().await;
    let (id, _) = completed_inbound_export(&v).await;
    let (_, list) = v.get(&v.admin, &my_jobs("")).await;
    assert_eq!(list["total_items"], 1, "{list}");
    assert_eq!(list["_embedded"]["jobs"][0]["id"], id);
}

#[tokio::test]
async fn the_jobs_list_filters_by_status() {
    let v = five_calls().await;
    completed_inbound_export(&v).await;
    let (_, none) = v.get(&v.admin, &my_jobs("?status=failed")).await;
    assert_eq!(none["total_items"], 0);
}

/// Recordings exports and recordings-with-transcriptions exports are listed apart.
#[tokio::test]
async fn the_jobs_list_holds_one_kind_of_export() {
    let v = five_calls().await;
    completed_inbound_export(&v).await;
    let (_, other_kind) = v
        .get(
            &v.admin,
            &format!("{P}/accounts/self/users/self/call_recordings/recordings_transcriptions/jobs"),
        )
        .await;
    assert_eq!(other_kind["total_items"], 0);
}

#[tokio::test]
async fn a_user_exports_their_own_on_demand_recordings() {
    let v = five_calls().await;
    let r = v
        .post(
            &v.user,
            &format!("{P}/accounts/self/users/self/call_recordings/export"),
            json!({}),
        )
        .await;
    let (status, job) = json_of(r).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let done = wait_complete(&v, &v.user, &self_path(&v, &job)).await;
    assert_eq!(done["files_total"], 1);
}

/// An agent's export of company recordings holds the calls they handled, and only those.
#[tokio::test]
async fn an_agent_exports_only_the_company_recordings_they_handled() {
    let v = five_calls().await;
    v.call(
        6,
        "2019-01-06T10:00:00Z",
        300,
        json!({"handlingAgents": [v.user_id]}),
    )
    .await;
    let (status, job) = json_of(v.post(&v.user, &company_export(), json!({})).await).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    let done = wait_complete(&v, &v.user, &self_path(&v, &job)).await;
    assert_eq!(done["files_total"], 1, "call 6, not 1–4");
}

#[tokio::test]
async fn a_user_cannot_see_another_users_job() {
    let v = five_calls().await;
    let (id, _) = completed_inbound_export(&v).await;
    assert_eq!(
        v.get(&v.user, &my_jobs(&format!("/{id}"))).await.0,
        StatusCode::NOT_FOUND,
        "another user's job"
    );
}

#[tokio::test]
async fn a_bad_export_filter_is_refused_naming_its_field() {
    let v = Vbc::new().await;
    for (body, field) in [
        (json!({"call_direction": "UP"}), "call_direction"),
        (json!({"duration:gte": "x"}), "duration:gte"),
        (json!([1]), "body"),
        (json!({"cnam": {"a": 1}}), "cnam"),
    ] {
        let r = v.post(&v.admin, &company_export(), body.clone()).await;
        let (status, b) = json_of(r).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(b["field"], field);
    }
}

#[tokio::test]
async fn an_unknown_job_status_is_a_bad_request() {
    let v = Vbc::new().await;
    assert_eq!(
        v.get(&v.admin, &my_jobs("?status=done")).await.0,
        StatusCode::BAD_REQUEST
    );
}
