//! Bulk downloads: a recordings-with-transcriptions export streamed as a ZIP, the retrieve
//! endpoint's query forms, and expiry.

use super::*;
use std::collections::HashMap;

/// The transcript uploaded for call 2.
const DOC: &[u8] = br#"{"segments":[]}"#;

fn retrieve() -> String {
    format!("{P}/bulkDownload/recordings_transcriptions/retrieve")
}

/// A completed recordings-with-transcriptions export of three calls, call 2 with a
/// transcript.
struct ZipJob {
    v: Vbc,
    /// Each call's ingested WAV.
    audio: HashMap<u32, Vec<u8>>,
    id: String,
    self_url: String,
    download_url: String,
}

impl ZipJob {
    async fn new() -> Self {
        let v = Vbc::new().await;
        let mut audio = HashMap::new();
        for n in 1..=3u32 {
            v.call(n, &format!("2019-01-0{n}T10:00:00Z"), 700 + n, json!({}))
                .await;
            audio.insert(
                n,
                callvault_services::audio::synth_wav(700 + n, 8000, 300.0 + n as f32),
            );
        }
        let r =
            v.s.put_content(
                &v.writer,
                &guid(2),
                "transcript",
                "",
                "application/json",
                DOC.to_vec(),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let path =
            format!("{P}/accounts/self/company_call_recordings/recordings_transcriptions/export");
        let (status, job) = json_of(v.post(&v.admin, &path, json!({})).await).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        let self_url = self_path(&v, &job);
        assert!(self_url.contains("/recordings_transcriptions/jobs/"));
        let done = wait_complete(&v, &v.admin, &self_url).await;
        let download_url = done["download_url"].as_str().unwrap().to_string();
        assert!(download_url.contains("/bulkDownload/recordings_transcriptions/retrieve?jobId="));
        Self {
            id: done["id"].as_str().unwrap().to_string(),
            v,
            audio,
            self_url,
            download_url,
        }
    }

    /// The admin's download, as (name, bytes) per ZIP entry.
    async fn entries(&self) -> Vec<(String, Vec<u8>)> {
        crate::common::zip_entries(&self.zip().await).await
    }

    /// The admin's download, read as a ZIP.
    async fn zip(&self) -> async_zip::base::read::mem::ZipFileReader {
        let r = self
            .v
            .s
            .http
            .get(&self.download_url)
            .bearer_auth(&self.v.admin)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["content-type"], "application/zip");
        let bytes = r.bytes().await.unwrap().to_vec();
        async_zip::base::read::mem::ZipFileReader::new(bytes)
            .await
            .expect("a valid ZIP")
    }

    /// The admin's GET of `url`, answered with its status only.
    async fn status(&self, url: &str) -> StatusCode {
        self.v
            .s
            .http
            .get(url)
            .bearer_auth(&self.v.admin)
            .send()
            .await
            .unwrap()
            .status()
    }

    /// Ends the job's validity an hour ago.
    async fn expire(&self) {
        let past = chrono::Utc::now() - chrono::Duration::hours(1);
        self.v
            .s
            .store
            .finish_job(
                &self.id,
                callvault_core::JobStatus::Complete,
                None,
                Some(past),
            )
            .await
            .unwrap();
    }
}

fn is_transcript(name: &str) -> bool {
    name.ends_with(".transcript.json")
}

fn is_metadata(name: &str) -> bool {
    !name.ends_with(".wav") && !is_transcript(name)
}

#[tokio::test]
async fn the_zip_holds_the_recordings_their_metadata_and_the_transcript() {
    let job = ZipJob::new().await;
    let names: Vec<String> = job.entries().await.into_iter().map(|e| e.0).collect();
    assert_eq!(
        names.len(),
        7,
        "3 recordings, 3 metadata files, 1 transcript: {names:?}"
    );
}

#[tokio::test]
async fn each_entry_in_the_zip_is_dated_by_its_calls_start() {
    let job = ZipJob::new().await;
    let zip = job.zip().await;
    for entry in zip.file().entries() {
        let name = entry.filename().as_str().unwrap();
        let n: u32 = name.split('.').next().unwrap().parse().unwrap();
        let t = entry.last_modification_date();
        assert_eq!(
            (t.year(), t.month(), t.day(), t.hour(), t.minute()),
            (2019, 1, n, 10, 0),
            "{name}"
        );
    }
}

#[tokio::test]
async fn each_recording_in_the_zip_holds_the_ingested_bytes() {
    let job = ZipJob::new().await;
    let mut recordings = 0;
    for (name, data) in job.entries().await {
        if let Some(stem) = name.strip_suffix(".wav") {
            let n: u32 = stem.split('.').next().unwrap().parse().unwrap();
            assert_eq!(data, job.audio[&n], "{name} holds the ingested bytes");
            recordings += 1;
        }
    }
    assert_eq!(recordings, 3);
}

#[tokio::test]
async fn the_transcript_in_the_zip_is_the_uploaded_document_of_its_call() {
    let job = ZipJob::new().await;
    let mut transcripts = 0;
    for (name, data) in job.entries().await {
        if is_transcript(&name) {
            assert!(name.starts_with("2."));
            assert_eq!(data, DOC);
            transcripts += 1;
        }
    }
    assert_eq!(transcripts, 1);
}

#[tokio::test]
async fn each_metadata_file_in_the_zip_names_the_call_and_its_duration() {
    let job = ZipJob::new().await;
    let mut metadata = 0;
    for (name, data) in job.entries().await {
        if is_metadata(&name) {
            let meta: Value = serde_json::from_slice(&data).unwrap();
            assert!(
                meta["call_id"].is_string() && meta["duration"].is_u64(),
                "{name}: {meta}"
            );
            metadata += 1;
        }
    }
    assert_eq!(metadata, 3);
}

/// The vendor's clients also send `job_id` and `login_name`.
#[tokio::test]
async fn retrieve_takes_job_id_and_login_name() {
    let job = ZipJob::new().await;
    let url = format!(
        "{}?job_id={}&login_name=boss",
        job.v.s.url(&retrieve()),
        job.id
    );
    assert_eq!(job.status(&url).await, StatusCode::OK);
}

#[tokio::test]
async fn retrieve_without_a_job_id_is_a_bad_request() {
    let v = Vbc::new().await;
    let base = v.s.url(&retrieve());
    for url in [base.clone(), format!("{base}?jobId=")] {
        let r =
            v.s.http
                .get(&url)
                .bearer_auth(&v.admin)
                .send()
                .await
                .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{url}");
    }
}

#[tokio::test]
async fn retrieve_of_an_unknown_job_is_not_found() {
    let v = Vbc::new().await;
    let url = format!("{}?jobId=no-such-job", v.s.url(&retrieve()));
    let r =
        v.s.http
            .get(&url)
            .bearer_auth(&v.admin)
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

/// A recordings-with-transcriptions job is not retrieved through the recordings path.
#[tokio::test]
async fn a_job_is_retrieved_only_through_its_own_family() {
    let job = ZipJob::new().await;
    let url = job
        .v
        .s
        .url(&format!("{P}/bulkDownload/retrieve?jobId={}", job.id));
    assert_eq!(
        job.status(&url).await,
        StatusCode::NOT_FOUND,
        "the other job family"
    );
}

#[tokio::test]
async fn a_user_cannot_retrieve_an_admins_job() {
    let job = ZipJob::new().await;
    let r = job
        .v
        .s
        .http
        .get(&job.download_url)
        .bearer_auth(&job.v.user)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "not the user's job");
}

#[tokio::test]
async fn a_job_past_its_validity_is_gone() {
    let job = ZipJob::new().await;
    job.expire().await;
    assert_eq!(job.status(&job.download_url).await, StatusCode::GONE);
}

#[tokio::test]
async fn the_sweep_marks_a_job_past_its_validity_expired() {
    let job = ZipJob::new().await;
    job.expire().await;
    assert_eq!(
        job.v
            .s
            .vault
            .sweep(std::time::Duration::from_secs(3600))
            .await
            .unwrap()
            .jobs_expired,
        1
    );
    let (_, answer) = job.v.get(&job.v.admin, &job.self_url).await;
    assert_eq!(answer["status"], "expired");
}
