//! Exports in the console: the find page's filters exported as a ZIP through an export
//! job (what the page lists is what the ZIP holds, narrowed for an agent as the listing
//! is), the user's own jobs only, the form's token; and the admins' read-only view of the
//! Export API's storages and jobs, which never shows a credential.

use std::collections::BTreeSet;
use std::time::Duration;

use callvault_core::Role;
use reqwest::StatusCode;
use serde_json::json;

use super::Acme;
use crate::common::guid;
use crate::common::targets::{Provider, Target};
use crate::export::{create_storage, everything, schedule, Span};

/// The fields of the export form on a find page, or `None` when the page offers none.
fn export_form(html: &str) -> Option<Vec<(String, String)>> {
    let at = html.find("<form method=\"post\" action=\"/exports\"")?;
    let form = &html[at..at + html[at..].find("</form>").unwrap()];
    let fields = form
        .split("<input type=\"hidden\" name=\"")
        .skip(1)
        .map(|s| {
            let (name, rest) = s.split_once("\" value=\"").unwrap();
            let value = rest.split('"').next().unwrap();
            (name.to_string(), value.to_string())
        })
        .collect();
    Some(fields)
}

/// The (id, status) of each job the Exports page lists, in its order.
fn listed_jobs(html: &str) -> Vec<(String, String)> {
    html.split("data-job=\"")
        .skip(1)
        .map(|s| {
            let id = s.split('"').next().unwrap().to_string();
            let status = s
                .split_once("data-status=\"")
                .unwrap()
                .1
                .split('"')
                .next()
                .unwrap()
                .to_string();
            (id, status)
        })
        .collect()
}

/// The GUIDs whose recordings a ZIP holds, from its audio entries (`{id}.{guid}.wav`),
/// after checking each has its metadata beside it.
fn zipped_calls(entries: &[(String, Vec<u8>)]) -> BTreeSet<String> {
    let names: BTreeSet<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    let audio: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| n.ends_with(".wav"))
        .collect();
    assert_eq!(
        names.len(),
        audio.len() * 2,
        "audio and metadata: {names:?}"
    );
    audio
        .iter()
        .map(|n| {
            let stem = n.trim_end_matches(".wav");
            assert!(names.contains(format!("{stem}.json").as_str()), "{names:?}");
            stem.split_once('.').unwrap().1.to_string()
        })
        .collect()
}

impl Acme {
    /// Sends the export form of the find page at `find` (a path with its filters) and
    /// answers the id of the job it started.
    async fn export_from(&self, cookie: &str, find: &str) -> String {
        let html = self.get(cookie, find).await.text().await.unwrap();
        let fields = export_form(&html).expect("the find page offers an export");
        let form: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let before = self.jobs(cookie).await.len();
        let r = self.post(cookie, "/exports", &form).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(r.headers()["location"], "/exports?started=1");
        let html = self.get(cookie, "/exports?started=1").await.text().await;
        assert!(html.unwrap().contains("Your export has started"));
        let jobs = self.jobs(cookie).await;
        assert_eq!(jobs.len(), before + 1, "one more job: {jobs:?}");
        jobs[0].0.clone()
    }

    /// The jobs the Exports page lists for this user, newest first.
    async fn jobs(&self, cookie: &str) -> Vec<(String, String)> {
        let r = self.get(cookie, "/exports").await;
        assert_eq!(r.status(), StatusCode::OK);
        listed_jobs(&r.text().await.unwrap())
    }

    /// Reloads the Exports page, as its user would, until job `id` is complete.
    async fn wait_complete(&self, cookie: &str, id: &str) {
        for _ in 0..200 {
            let jobs = self.jobs(cookie).await;
            let (_, status) = jobs.iter().find(|(j, _)| j == id).expect("listed");
            if status == "complete" {
                return;
            }
            assert!(status != "failed", "job {id} failed");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("job {id} did not complete");
    }

    /// The ZIP of job `id`, as (name, bytes) per entry.
    async fn download(&self, cookie: &str, id: &str) -> Vec<(String, Vec<u8>)> {
        let r = self.get(cookie, &format!("/exports/{id}/zip")).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["content-type"], "application/zip");
        assert_eq!(
            r.headers()["content-disposition"],
            format!("attachment; filename=\"recordings-{id}.zip\"").as_str()
        );
        let bytes = r.bytes().await.unwrap().to_vec();
        let zip = async_zip::base::read::mem::ZipFileReader::new(bytes)
            .await
            .expect("a valid ZIP");
        crate::common::zip_entries(&zip).await
    }

    /// An export of what `find` lists, once complete: its id and the calls its ZIP holds.
    async fn exported(&self, cookie: &str, find: &str) -> (String, BTreeSet<String>) {
        let id = self.export_from(cookie, find).await;
        self.wait_complete(cookie, &id).await;
        let entries = self.download(cookie, &id).await;
        (id, zipped_calls(&entries))
    }
}

/// Calls 2 and 3 start on 2019-11-21 and 2019-11-22; call 1 the day before.
const TWO_DAYS: &str = "/?period=custom&from=2019-11-21&to=2019-11-22";

fn calls(ns: &[u32]) -> BTreeSet<String> {
    ns.iter().map(|n| guid(*n)).collect()
}

#[tokio::test]
async fn an_admin_exports_the_filtered_calls_and_downloads_exactly_their_recordings() {
    let a = Acme::new().await;
    let ann = a.session("ann").await;
    let html = a.get(&ann, TWO_DAYS).await.text().await.unwrap();
    let fields = export_form(&html).unwrap();
    assert!(
        fields.contains(&("from".into(), "2019-11-21".into()))
            && fields.contains(&("period".into(), "custom".into())),
        "the form carries the filters: {fields:?}"
    );
    let id = a.export_from(&ann, TWO_DAYS).await;
    a.wait_complete(&ann, &id).await;
    let html = a.get(&ann, "/exports").await.text().await.unwrap();
    for text in ["Ready", "2 of 2", &format!("href=\"/exports/{id}/zip\"")] {
        assert!(html.contains(text), "{text}: {html}");
    }
    let entries = a.download(&ann, &id).await;
    assert_eq!(zipped_calls(&entries), calls(&[2, 3]));
    let wav = callvault_services::audio::synth_wav(3000, 8000, 440.0);
    for (name, data) in &entries {
        if name.ends_with(".wav") {
            assert!(*data == wav, "{name} holds the recording as ingested");
        }
    }
    for n in [2, 3] {
        let reads = a.audited("bulkDownload", n).await;
        assert!(
            reads.iter().any(|r| r["principal"] == "user:ann"),
            "the download is audited as the console user's: {reads:?}"
        );
    }

    // Another filter, another export: the agent filter alone finds call 1.
    let (_, zipped) = a.exported(&ann, "/?period=any&agent=a-1").await;
    assert_eq!(zipped, calls(&[1]));
    let jobs = a.jobs(&ann).await;
    assert_eq!(jobs.len(), 2);
    assert_eq!(jobs[1].0, id, "newest first");
}

#[tokio::test]
async fn an_agents_export_holds_only_what_they_may_see() {
    let a = Acme::new().await;
    // Call 4 is a company call bob handled; call 1 one he did not.
    let bob_id = a.bob.clone();
    a.call(
        4,
        "2019-11-23T10:00:00Z",
        "+4420700004",
        &bob_id,
        json!({}),
        3000,
    )
    .await;
    let bob = a.session("bob").await;
    let (_, zipped) = a.exported(&bob, "/?period=any").await;
    assert_eq!(zipped, calls(&[2, 4]), "owned and handled, as listed");
    // Asking for another agent's calls by name finds none of them.
    let csrf = a.csrf(&bob).await;
    let form = [("csrf", csrf.as_str()), ("period", "any"), ("agent", "a-3")];
    let r = a.post(&bob, "/exports", &form).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let id = a.jobs(&bob).await[0].0.clone();
    a.wait_complete(&bob, &id).await;
    assert!(a.download(&bob, &id).await.is_empty());

    // A reviewer exports what they see: every call.
    a.s.tenant("acme")
        .await
        .user_as("rita", Role::Reviewer)
        .await;
    let rita = a.session("rita").await;
    let (_, zipped) = a.exported(&rita, "/?period=any").await;
    assert_eq!(zipped, calls(&[1, 2, 3, 4]));
}

#[tokio::test]
async fn another_users_or_tenants_export_is_not_found() {
    let a = Acme::new().await;
    let ann = a.session("ann").await;
    let (id, _) = a.exported(&ann, "/?period=any").await;
    let zip = format!("/exports/{id}/zip");
    a.s.tenant("acme")
        .await
        .user_as("rita", Role::Reviewer)
        .await;
    a.s.tenant("globex").await.user("gil", true).await;
    let r = a.sign_in_as("globex", "gil", "gil-password").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let gil = r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let mut others = vec![gil];
    for login in ["bob", "rita"] {
        others.push(a.session(login).await);
    }
    for cookie in &others {
        let r = a.get(cookie, &zip).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let html = r.text().await.unwrap();
        assert!(html.contains("There is no such export, or it is not yours."));
        assert!(a.jobs(cookie).await.is_empty(), "nobody else lists it");
    }
    for path in ["/exports/no-such-job/zip", "/exports/%27/zip"] {
        assert_eq!(a.get(&ann, path).await.status(), StatusCode::NOT_FOUND);
    }
    assert_eq!(a.get(&ann, &zip).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_export_form_without_its_token_or_from_another_site_is_refused() {
    let a = Acme::new().await;
    let ann = a.session("ann").await;
    let r = a.post(&ann, "/exports", &[("period", "any")]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = a
        .post(&ann, "/exports", &[("period", "any"), ("csrf", "forged")])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let csrf = a.csrf(&ann).await;
    let r = a
        .web
        .post(a.s.url("/exports"))
        .header("Cookie", &ann)
        .header("Origin", "https://evil.example")
        .form(&[("period", "any"), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(a.jobs(&ann).await.is_empty(), "no job was started");
    // Without a session the form goes to sign in.
    let r = a
        .web
        .post(a.s.url("/exports"))
        .header("Origin", a.origin())
        .form(&[("period", "any")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/sign-in");
}

#[tokio::test]
async fn words_said_are_not_exported_and_a_job_not_ready_is_not_downloaded() {
    let a = Acme::new().await;
    let ann = a.session("ann").await;
    let html = a.get(&ann, "/?period=any&q=refund").await.text().await;
    let html = html.unwrap();
    assert!(export_form(&html).is_none(), "no export of words said");
    assert!(html.contains("An export follows the filters, not the words said"));
    let csrf = a.csrf(&ann).await;
    let words = [("csrf", csrf.as_str()), ("period", "any"), ("q", "refund")];
    let r = a.post(&ann, "/exports", &words).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let bad = [
        ("csrf", csrf.as_str()),
        ("period", "custom"),
        ("from", "20-11"),
    ];
    let r = a.post(&ann, "/exports", &bad).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("From must be a date"));
    assert!(a.jobs(&ann).await.is_empty());

    // A job that failed (made in the store: the runner never claims a failed job).
    let tenant = a.s.vault.tenant_by_name("acme").await.unwrap().unwrap().id;
    let users = a.s.vault.list_users(tenant).await.unwrap();
    let ann_id = users.into_iter().find(|u| u.login == "ann").unwrap().id;
    let failed = callvault_core::JobStatus::Failed;
    let job = callvault_core::Job {
        id: uuid::Uuid::new_v4().to_string(),
        tenant_id: tenant,
        kind: callvault_core::JobKind::Recordings,
        owner: ann_id,
        params: "{}".into(),
        status: failed,
        files_total: 0,
        files_completed: 0,
        error: None,
        attempts: 3,
        created_at: chrono::Utc::now(),
        valid_until: None,
    };
    a.s.store.create_job(&job).await.unwrap();
    let why = Some("the blob store was unreachable");
    a.s.store
        .finish_job(&job.id, failed, why, None)
        .await
        .unwrap();
    let r = a.get(&ann, &format!("/exports/{}/zip", job.id)).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let html = r.text().await.unwrap();
    assert!(html.contains("cannot be downloaded yet"), "{html}");
    let html = a.get(&ann, "/exports").await.text().await.unwrap();
    assert_eq!(listed_jobs(&html), vec![(job.id.clone(), "failed".into())]);
    assert!(
        html.contains("Failed: the blob store was unreachable"),
        "{html}"
    );
    assert!(!html.contains(&format!("/exports/{}/zip", job.id)));

    // One past its validity answers 410, and says so.
    let past = Some(chrono::Utc::now() - chrono::Duration::hours(1));
    let complete = callvault_core::JobStatus::Complete;
    a.s.store
        .finish_job(&job.id, complete, None, past)
        .await
        .unwrap();
    let r = a.get(&ann, &format!("/exports/{}/zip", job.id)).await;
    assert_eq!(r.status(), StatusCode::GONE);
    let html = a.get(&ann, "/exports").await.text().await.unwrap();
    assert_eq!(listed_jobs(&html), vec![(job.id.clone(), "expired".into())]);
}

#[tokio::test]
async fn the_export_api_page_is_for_admins_and_shows_no_storage_secret() {
    let a = Acme::new().await;
    let target = Target::fresh(Provider::S3, "cv-console").await;
    let mut body = target.storage_body();
    body["name"] = "Archive bucket".into();
    body["credentials"] = json!({
        "accessKeyId": "AKIACONSOLETEST",
        "secretAccessKey": "SECRET-console-value",
    });
    let sid = create_storage(&a.s, &a.token, &body).await;
    let span = Span {
        start_days: 30,
        end_days: Some(2),
    };
    let job = schedule(&a.s, &a.token, &sid, span, everything()).await;
    let filtered = json!({ "contentTypes": ["callRecording"], "initialDirection": ["inbound"] });
    let recurring = Span {
        start_days: 5,
        end_days: None,
    };
    schedule(&a.s, &a.token, &sid, recurring, filtered).await;

    let ann = a.session("ann").await;
    let r = a.get(&ann, "/export-api").await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    for text in [
        "Archive bucket",
        "Amazon S3 or compatible",
        &format!("bucket {}", target.container),
        &format!("data-job=\"{job}\""),
        "Once: calls from",
        "Every hour: calls from",
        "callRecording; inbound",
        "all content; any direction",
        "Jobs: 2",
    ] {
        assert!(html.contains(text), "{text}: {html}");
    }
    for secret in ["SECRET", "AKIACONSOLETEST", "secretAccessKey", "127.0.0.1:"] {
        assert!(!html.contains(secret), "{secret} shown: {html}");
    }
    let exports = a.get(&ann, "/exports").await.text().await.unwrap();
    assert!(
        exports.contains("href=\"/export-api\""),
        "admins get the tab"
    );

    a.s.tenant("acme")
        .await
        .user_as("rita", Role::Reviewer)
        .await;
    for login in ["bob", "rita"] {
        let cookie = a.session(login).await;
        let r = a.get(&cookie, "/export-api").await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{login}");
        let html = r.text().await.unwrap();
        assert!(!html.contains("Archive bucket"), "{login}: {html}");
        let exports = a.get(&cookie, "/exports").await.text().await.unwrap();
        assert!(!exports.contains("href=\"/export-api\""), "{login}: no tab");
    }
}
