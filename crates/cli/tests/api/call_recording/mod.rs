//! The Call Recording API (`002`): password and refresh grants, company and on-demand
//! recordings with HAL paging and filters, permissions, audio and transcriptions.

mod shapes;

use crate::common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

const P: &str = "/call_recording/v1/api";

struct Vbc {
    s: TestServer,
    client: (String, String),
    writer: String,
    admin: String,
    user: String,
    user_id: String,
}

impl Vbc {
    async fn new() -> Self {
        let s = TestServer::start().await;
        let acme = s.tenant("acme").await;
        let client = acme.client(ALL_SCOPES).await;
        let writer = acme.token(ALL_SCOPES).await;
        let admin = acme.user("boss", true).await.access_token;
        let user = acme.user("ann", false).await;
        Self {
            client,
            writer,
            admin,
            user: user.access_token,
            user_id: user.id,
            s,
        }
    }

    async fn password(&self, user: &str, pw: &str) -> (StatusCode, Value) {
        json_of(self.sign_in(&self.client, user, pw).await).await
    }

    /// The password grant at `/token` through `client`.
    async fn sign_in(&self, client: &(String, String), user: &str, pw: &str) -> reqwest::Response {
        let form = [
            ("grant_type", "password"),
            ("username", user),
            ("password", pw),
            ("client_id", &client.0),
            ("client_secret", &client.1),
        ];
        self.s
            .http
            .post(self.s.url("/token"))
            .form(&form)
            .send()
            .await
            .unwrap()
    }

    /// A recorded call; `attrs` become the interaction's attributes.
    async fn call(&self, n: u32, start: &str, ms: u32, extra: Value) {
        let mut body = json!({
            "start": start, "direction": "inbound", "connectFrom": "17325550100", "connectTo": "17325550199",
            "callerName": "JOHN SMITH", "extensions": ["999"], "handlingAgents": ["1"],
            "attributes": {"recordingRuleIds": ["1989", "449"]}
        });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = self.s.put_interaction(&self.writer, &guid(n), body).await;
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
        let wav = callvault_services::audio::synth_wav(ms, 8000, 300.0 + n as f32);
        let r = self
            .s
            .put_content(
                &self.writer,
                &guid(n),
                "callRecording",
                "",
                "audio/wav",
                wav,
            )
            .await;
        assert!(r.status().is_success());
    }

    /// Gives call `n`'s recording a transcription job, as ingest does when an engine is
    /// on, and fails it with `error` as a runner would (the test server runs none).
    async fn transcription(&self, n: u32, failed: Option<&str>) {
        use callvault_storage::transcription::Settle;
        let store = &self.s.store;
        let t = store.tenant_by_name("acme").await.unwrap().unwrap().id;
        let g = callvault_core::Guid::parse("guid", &guid(n)).unwrap();
        let i = store.get_interaction(t, &g).await.unwrap().unwrap();
        let now = chrono::Utc::now();
        assert!(store
            .queue_transcription(t, i.id, "callRecording", now)
            .await
            .unwrap());
        if let Some(error) = failed {
            let lease = now + chrono::Duration::minutes(5);
            let job = store
                .claim_transcription(now, lease)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(job.interaction_id, i.id);
            let failed = Settle::Failed {
                error: error.into(),
            };
            assert!(store
                .settle_transcription(&job, &failed, now)
                .await
                .unwrap());
        }
    }

    async fn get(&self, token: &str, path: &str) -> (StatusCode, Value) {
        let r = self
            .s
            .http
            .get(self.s.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

fn ids(page: &Value, key: &str) -> Vec<i64> {
    page["_embedded"][key]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().or(r["recording_id"].as_i64()).unwrap())
        .collect()
}

#[tokio::test]
async fn password_and_refresh_grants() {
    let v = Vbc::new().await;
    let (status, body) = v.password("ann", "ann-password").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["token_type"], "Bearer");
    let refresh = body["refresh_token"].as_str().unwrap().to_string();
    for (u, p) in [("ann", "wrong-password"), ("nobody", "ann-password")] {
        let (status, body) = v.password(u, p).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant"))
        );
    }
    let form = |t: &str| {
        vec![
            ("grant_type", "refresh_token".to_string()),
            ("refresh_token", t.to_string()),
            ("client_id", v.client.0.clone()),
            ("client_secret", v.client.1.clone()),
        ]
    };
    let (status, body) = json_of(
        v.s.http
            .post(v.s.url("/token"))
            .form(&form(&refresh))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body["refresh_token"].as_str().unwrap() != refresh,
        "refresh tokens rotate"
    );
    let (status, _) = json_of(
        v.s.http
            .post(v.s.url("/token"))
            .form(&form(&refresh))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a refresh token works once"
    );
    let fresh = body["access_token"].as_str().unwrap();
    let (status, _) = v
        .get(
            fresh,
            &format!("{P}/accounts/self/users/self/call_recordings"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

/// A user's token follows the user's role, not the scopes of the client they signed in
/// through: an admin of a read-only client deletes company recordings.
#[tokio::test]
async fn a_users_rights_follow_the_user_not_the_client() {
    let v = Vbc::new().await;
    v.call(1, "2019-01-01T10:00:00Z", 1000, json!({})).await;
    let read_only = v.s.tenant_client("acme", "interaction-content:read").await;
    let (status, body) = json_of(
        v.sign_in(&read_only, "boss@vbc.prod", "boss-password")
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let admin = body["access_token"].as_str().unwrap();
    let url =
        v.s.url(&format!("{P}/accounts/self/company_call_recordings/1"));
    let r =
        v.s.http
            .delete(&url)
            .bearer_auth(admin)
            .send()
            .await
            .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    // A plain user of the same client still sees no company recording.
    let r =
        v.s.http
            .get(&url)
            .bearer_auth(&v.user)
            .send()
            .await
            .unwrap();
    assert!(r.status().is_client_error());
}

/// Empty query values are parameters not given, as the vendor's generated clients send
/// every optional parameter.
#[tokio::test]
async fn empty_query_values_are_not_given() {
    let v = Vbc::new().await;
    v.call(1, "2019-01-01T10:00:00Z", 1000, json!({})).await;
    for q in [
        "start:lte=",
        "call_direction=",
        "start:gte=&order=&page=",
        "page_size= ",
    ] {
        let (status, page) = v
            .get(
                &v.admin,
                &format!("{P}/accounts/self/company_call_recordings?{q}"),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{q}: {page}");
        assert_eq!(ids(&page, "recordings"), vec![1], "{q}");
    }
    let (status, _) = v
        .get(
            &v.admin,
            &format!("{P}/accounts/self/users/self/call_recordings/jobs?status="),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

/// Failed sign-ins are limited per login (and per source): past the budget every attempt
/// is refused with 429 and `Retry-After`, the right password too, while other logins and
/// clients go on.
#[tokio::test]
async fn failed_sign_ins_are_limited_per_login() {
    let v = Vbc::new().await;
    for _ in 0..10 {
        let (status, _) = v.password("ann", "wrong-password").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    let (status, _) = v.password("ann", "wrong-password").await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "the failure that exhausts the budget"
    );
    let r = v.sign_in(&v.client, "ann", "ann-password").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=10).contains(&wait), "{wait}");
    let (status, _) = v.password("boss", "boss-password").await;
    assert_eq!(status, StatusCode::OK, "another login is not locked out");
}

/// A refresh token presented by another client is refused and stays usable by its own.
#[tokio::test]
async fn a_refresh_token_presented_by_another_client_is_not_burned() {
    let v = Vbc::new().await;
    let (_, body) = v.password("ann", "ann-password").await;
    let refresh = body["refresh_token"].as_str().unwrap().to_string();
    let other = v.s.tenant_client("acme", ALL_SCOPES).await;
    let grant = |c: &(String, String)| {
        vec![
            ("grant_type", "refresh_token".to_string()),
            ("refresh_token", refresh.clone()),
            ("client_id", c.0.clone()),
            ("client_secret", c.1.clone()),
        ]
    };
    let r =
        v.s.http
            .post(v.s.url("/token"))
            .form(&grant(&other))
            .send()
            .await
            .unwrap();
    let (status, body) = json_of(r).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let r =
        v.s.http
            .post(v.s.url("/token"))
            .form(&grant(&v.client))
            .send()
            .await
            .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "the owner's refresh still works"
    );
}

/// A path id that is not a number names no recording: 404 like any unknown id.
#[tokio::test]
async fn a_path_id_that_is_not_a_number_is_not_found() {
    let v = Vbc::new().await;
    for path in [
        format!("{P}/accounts/self/company_call_recordings/abc"),
        format!("{P}/accounts/self/users/self/call_recordings/1x"),
        format!("{P}/audio/recording/abc"),
        format!("{P}/transcription/abc"),
    ] {
        let r =
            v.s.http
                .get(v.s.url(&path))
                .bearer_auth(&v.admin)
                .send()
                .await
                .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }
}

/// The vendor's tutorials sign in as `name@vbc.prod`; other realms are not stripped.
#[tokio::test]
async fn sign_in_accepts_the_vendor_realm_suffix() {
    let v = Vbc::new().await;
    let (status, body) = v.password("ann@vbc.prod", "ann-password").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["access_token"].as_str().unwrap();
    let (status, me) = v
        .get(
            token,
            &format!("{P}/accounts/self/users/self/call_recordings"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    for login in ["ann@vbc.qa", "ann@", "@vbc.prod"] {
        let (status, body) = v.password(login, "ann-password").await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant")),
            "{login}"
        );
    }
}

#[tokio::test]
async fn company_recordings_hal_filters_and_paging() {
    let v = Vbc::new().await;
    for n in 1..=5u32 {
        let dir = if n == 2 { "outbound" } else { "inbound" };
        v.call(
            n,
            &format!("2019-01-0{n}T10:00:00Z"),
            1000 * n,
            json!({"direction": dir}),
        )
        .await;
    }
    let (status, page) = v
        .get(
            &v.admin,
            &format!("{P}/accounts/self/company_call_recordings"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(
        ids(&page, "recordings"),
        vec![5, 4, 3, 2, 1],
        "newest first by default"
    );
    assert_eq!(
        (
            page["page"].as_u64(),
            page["page_size"].as_u64(),
            page["total_items"].as_u64(),
            page["total_pages"].as_u64()
        ),
        (Some(1), Some(10), Some(5), Some(1))
    );
    let r = &page["_embedded"]["recordings"][4];
    let host = v.s.base.clone();
    assert_eq!(
        r["_links"]["self"]["href"],
        format!("{host}{P}/accounts/self/company_call_recordings/1")
    );
    assert_eq!(r["download_url"], format!("{host}{P}/audio/recording/1"));
    assert_eq!(r["call_direction"], "INBOUND");
    assert_eq!(r["call_id"], guid(1));
    assert_eq!(
        (
            r["caller_id"].as_str(),
            r["dnis"].as_str(),
            r["cnam"].as_str()
        ),
        (Some("17325550100"), Some("17325550199"), Some("JOHN SMITH"))
    );
    assert_eq!(r["duration"], 1000);
    assert_eq!(r["start"], "2019-01-01T10:00:00+0000");
    assert_eq!(r["end"], "2019-01-01T10:00:01+0000");
    assert_eq!(r["extensions"], json!([999]));
    assert_eq!(r["rule_ids"], json!([1989, 449]));
    assert_eq!(r["file_size_in_bytes"], 44 + 8000 * 2);
    assert!(r["file_name"].as_str().unwrap().ends_with(".wav"));

    let q = |s: &str| format!("{P}/accounts/self/company_call_recordings?{s}");
    for (query, want) in [
        ("call_direction=OUTBOUND", vec![2]),
        ("call_direction=INBOUND&order=start:ASC", vec![1, 3, 4, 5]),
        ("duration:gte=2000&duration:lte=4000", vec![4, 3, 2]),
        (
            "start:gte=2019-01-03T00:00:00+0000&start:lte=2019-01-04T23:00:00Z",
            vec![4, 3],
        ),
        ("start:gte=2019-01-03T00:00:00%2B0000", vec![5, 4, 3]),
        (
            "extension=999&caller_id=17325550100&cnam=JOHN%20SMITH&dnis=17325550199&order=asc",
            vec![1, 2, 3, 4, 5],
        ),
        ("extension=1000", vec![]),
        (&format!("call_id={}", guid(3)), vec![3]),
    ] {
        let (status, page) = v.get(&v.admin, &q(query)).await;
        assert_eq!(status, StatusCode::OK, "{query}: {page}");
        assert_eq!(ids(&page, "recordings"), want, "{query}");
    }
    // Pages of two cover everything once, with links that keep the filters.
    let mut seen = Vec::new();
    let mut next = Some(format!("{}{}", v.s.base, q("order=start:ASC&page_size=2")));
    while let Some(url) = next {
        let r =
            v.s.http
                .get(&url)
                .bearer_auth(&v.admin)
                .send()
                .await
                .unwrap();
        let (_, page) = json_of(r).await;
        seen.extend(ids(&page, "recordings"));
        assert_eq!(page["total_pages"], 3);
        next = page["_links"]["next"]["href"].as_str().map(str::to_string);
    }
    assert_eq!(seen, vec![1, 2, 3, 4, 5]);
    let (_, last) = v.get(&v.admin, &q("page=3&page_size=2")).await;
    assert!(last["_links"]["next"].is_null() && last["_links"]["prev"].is_object());
    // The long prefix works and its links keep it.
    let (status, page) = v
        .get(
            &v.admin,
            "/t/vbc.prod/call_recording/api/accounts/self/company_call_recordings?page_size=1",
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page["_links"]["next"]["href"]
        .as_str()
        .unwrap()
        .contains("/t/vbc.prod/call_recording/api/accounts/self/"));

    for (query, field) in [
        ("call_direction=SIDEWAYS", "call_direction"),
        ("page=0", "page"),
        ("page_size=101", "page_size"),
        ("page_size=x", "page_size"),
        ("duration:gte=-1", "duration:gte"),
        ("start:gte=yesterday", "start:gte"),
        ("order=size", "order"),
        ("call_id=nope", "call_id"),
    ] {
        let (status, body) = v.get(&v.admin, &q(query)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(body["field"], field, "{query}: {body}");
    }
}

#[tokio::test]
async fn permissions_self_and_on_demand() {
    let v = Vbc::new().await;
    v.call(1, "2019-01-01T10:00:00Z", 500, json!({})).await;
    let owner = json!({"attributes": {"recordingKind": "onDemand", "owningUserId": v.user_id}});
    v.call(2, "2019-01-02T10:00:00Z", 600, owner).await;
    let mine = format!("{P}/accounts/self/users/self/call_recordings");
    let (status, page) = v.get(&v.user, &mine).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(ids(&page, "recordings"), vec![2]);
    assert!(page["_embedded"]["recordings"][0]["_links"]["self"]["href"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/users/{}/call_recordings/2", v.user_id)));
    assert_eq!(
        v.get(
            &v.user,
            &format!("{P}/accounts/self/company_call_recordings")
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        v.get(
            &v.user,
            &format!("{P}/accounts/self/users/100001/call_recordings")
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    let (status, page) = v
        .get(
            &v.admin,
            &format!("{P}/accounts/self/users/{}/call_recordings", v.user_id),
        )
        .await;
    assert_eq!(
        (status, ids(&page, "recordings")),
        (StatusCode::OK, vec![2]),
        "admins see every user's"
    );
    assert_eq!(
        v.get(
            &v.admin,
            &format!("{P}/accounts/self/company_call_recordings/2")
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        v.get(
            &v.admin,
            &format!("{P}/accounts/424242/company_call_recordings")
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    let tenant_id =
        v.s.store
            .tenant_by_name("acme")
            .await
            .unwrap()
            .unwrap()
            .id
            .0;
    assert_eq!(
        v.get(
            &v.admin,
            &format!("{P}/accounts/{tenant_id}/company_call_recordings/1")
        )
        .await
        .0,
        StatusCode::OK
    );
    // Audio: a user gets their own, not the company's.
    let r =
        v.s.http
            .get(v.s.url(&format!("{P}/audio/recording/2")))
            .bearer_auth(&v.user)
            .header("Range", "bytes=0-3")
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"RIFF");
    assert_eq!(
        v.get(&v.user, &format!("{P}/audio/recording/1")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        v.get(&v.admin, &format!("{P}/audio/recording/1")).await.0,
        StatusCode::OK
    );
    // A client-credentials token is account access but has no `self` user.
    assert_eq!(
        v.get(
            &v.writer,
            &format!("{P}/accounts/self/company_call_recordings")
        )
        .await
        .0,
        StatusCode::OK
    );
    assert_eq!(v.get(&v.writer, &mine).await.0, StatusCode::FORBIDDEN);
    // Deleting: the user deletes their own, then it is gone.
    let del = |t: &str, p: String| {
        v.s.http
            .delete(v.s.url(&p))
            .bearer_auth(t.to_string())
            .send()
    };
    assert_eq!(
        del(&v.user, format!("{mine}/2")).await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        v.get(&v.user, &format!("{mine}/2")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        del(
            &v.admin,
            format!("{P}/accounts/self/company_call_recordings/1")
        )
        .await
        .unwrap()
        .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        v.get(&v.admin, &format!("{P}/audio/recording/1")).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn transcriptions_have_real_states() {
    let v = Vbc::new().await;
    v.call(1, "2019-01-01T10:00:00Z", 500, json!({})).await;
    v.call(2, "2019-01-02T10:00:00Z", 500, json!({})).await;
    v.call(3, "2019-01-03T10:00:00Z", 500, json!({})).await;
    v.transcription(3, Some("Transcription job failed at AI"))
        .await;
    v.transcription(2, None).await;
    v.call(4, "2019-01-04T10:00:00Z", 500, json!({})).await;
    let doc = br#"{"segments":[{"speaker":"agent","text":"hello"}]}"#.to_vec();
    let r =
        v.s.put_content(
            &v.writer,
            &guid(1),
            "transcript",
            "",
            "application/json",
            doc.clone(),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let list = |q: &str| format!("{P}/accounts/self/company_call_recordings/transcriptions{q}");
    let (status, page) = v.get(&v.admin, &list("")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(
        ids(&page, "transcriptions"),
        vec![3, 2, 1],
        "recordings never sent for transcription are not listed"
    );
    let t = &page["_embedded"]["transcriptions"];
    assert_eq!(t[2]["transcription_ready"], true);
    assert!(t[2]["transcription_url"]
        .as_str()
        .unwrap()
        .ends_with("/call_recording/v1/api/transcription/1"));
    assert_eq!(
        (
            t[1]["transcription_ready"].as_bool(),
            t[1]["transcription_error"].is_null()
        ),
        (Some(false), true)
    );
    assert_eq!(
        t[0]["transcription_error"],
        "Transcription job failed at AI"
    );
    assert_eq!(t[0]["call_date"], "2019-01-03T10:00:00+0000");
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
    assert_eq!(
        v.get(&v.admin, &list("?transcription_status=DONE")).await.0,
        StatusCode::BAD_REQUEST
    );
    let r =
        v.s.http
            .get(v.s.url("/call_recording/v1/api/transcription/1"))
            .bearer_auth(&v.admin)
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(r.bytes().await.unwrap().to_vec(), doc);
    assert_eq!(
        v.get(&v.admin, "/call_recording/v1/api/transcription/2")
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(v.get(&v.user, &list("")).await.0, StatusCode::FORBIDDEN);
}

async fn wait_complete(v: &Vbc, token: &str, job_url: &str) -> Value {
    for _ in 0..100 {
        let (status, job) = v.get(token, job_url).await;
        assert_eq!(status, StatusCode::OK, "{job}");
        if job["status"] == "complete" {
            return job;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("job did not complete");
}

#[tokio::test]
async fn export_jobs_run_in_the_background() {
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
    let post = |t: &str, p: String, body: Value| {
        v.s.http
            .post(v.s.url(&p))
            .bearer_auth(t.to_string())
            .json(&body)
            .send()
    };

    let r = post(
        &v.admin,
        format!("{P}/accounts/self/company_call_recordings/export"),
        json!({"call_direction": "INBOUND", "duration:gte": 100}),
    )
    .await
    .unwrap();
    let (status, job) = json_of(r).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    let id = job["id"].as_str().unwrap().to_string();
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
    let self_url = job["_links"]["self"]["href"]
        .as_str()
        .unwrap()
        .replace(&v.s.base, "");
    let done = wait_complete(&v, &v.admin, &self_url).await;
    assert_eq!(
        (
            done["files_total"].as_u64(),
            done["files_completed"].as_u64()
        ),
        (Some(3), Some(3)),
        "{done}"
    );
    assert!(done["valid_until"].as_str().unwrap().ends_with("+0000"));
    let (_, list) = v
        .get(
            &v.admin,
            &format!("{P}/accounts/self/users/self/call_recordings/jobs"),
        )
        .await;
    assert_eq!(list["total_items"], 1, "{list}");
    assert_eq!(list["_embedded"]["jobs"][0]["id"], id);
    let (_, none) = v
        .get(
            &v.admin,
            &format!("{P}/accounts/self/users/self/call_recordings/jobs?status=failed"),
        )
        .await;
    assert_eq!(none["total_items"], 0);
    let (_, other_kind) = v
        .get(
            &v.admin,
            &format!("{P}/accounts/self/users/self/call_recordings/recordings_transcriptions/jobs"),
        )
        .await;
    assert_eq!(other_kind["total_items"], 0);

    // A plain user exports their own on-demand recordings; not the company's.
    let r = post(
        &v.user,
        format!("{P}/accounts/self/users/self/call_recordings/export"),
        json!({}),
    )
    .await
    .unwrap();
    let (status, job) = json_of(r).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let done = wait_complete(
        &v,
        &v.user,
        &job["_links"]["self"]["href"]
            .as_str()
            .unwrap()
            .replace(&v.s.base, ""),
    )
    .await;
    assert_eq!(done["files_total"], 1);
    let r = post(
        &v.user,
        format!("{P}/accounts/self/company_call_recordings/export"),
        json!({}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        v.get(
            &v.user,
            &format!("{P}/accounts/self/users/self/call_recordings/jobs/{id}")
        )
        .await
        .0,
        StatusCode::NOT_FOUND,
        "another user's job"
    );

    for (body, field) in [
        (json!({"call_direction": "UP"}), "call_direction"),
        (json!({"duration:gte": "x"}), "duration:gte"),
        (json!([1]), "body"),
        (json!({"cnam": {"a": 1}}), "cnam"),
    ] {
        let r = post(
            &v.admin,
            format!("{P}/accounts/self/company_call_recordings/export"),
            body.clone(),
        )
        .await
        .unwrap();
        let (status, b) = json_of(r).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(b["field"], field);
    }
    assert_eq!(
        v.get(
            &v.admin,
            &format!("{P}/accounts/self/users/self/call_recordings/jobs?status=done")
        )
        .await
        .0,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn bulk_download_streams_a_zip() {
    let v = Vbc::new().await;
    let mut audio = std::collections::HashMap::new();
    for n in 1..=3u32 {
        v.call(n, &format!("2019-01-0{n}T10:00:00Z"), 700 + n, json!({}))
            .await;
        audio.insert(
            n,
            callvault_services::audio::synth_wav(700 + n, 8000, 300.0 + n as f32),
        );
    }
    let doc = br#"{"segments":[]}"#.to_vec();
    let r =
        v.s.put_content(
            &v.writer,
            &guid(2),
            "transcript",
            "",
            "application/json",
            doc.clone(),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r =
        v.s.http
            .post(v.s.url(&format!(
                "{P}/accounts/self/company_call_recordings/recordings_transcriptions/export"
            )))
            .bearer_auth(&v.admin)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
    let (status, job) = json_of(r).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let self_url = job["_links"]["self"]["href"]
        .as_str()
        .unwrap()
        .replace(&v.s.base, "");
    assert!(self_url.contains("/recordings_transcriptions/jobs/"));
    let done = wait_complete(&v, &v.admin, &self_url).await;
    let url = done["download_url"].as_str().unwrap().to_string();
    assert!(url.contains("/bulkDownload/recordings_transcriptions/retrieve?jobId="));

    let r =
        v.s.http
            .get(&url)
            .bearer_auth(&v.admin)
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/zip");
    let bytes = r.bytes().await.unwrap().to_vec();
    let zip = async_zip::base::read::mem::ZipFileReader::new(bytes)
        .await
        .expect("a valid ZIP");
    let names: Vec<String> = zip
        .file()
        .entries()
        .iter()
        .map(|e| e.filename().as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        names.len(),
        7,
        "3 recordings, 3 metadata files, 1 transcript: {names:?}"
    );
    for (idx, name) in names.iter().enumerate() {
        let mut reader = zip.reader_with_entry(idx).await.unwrap();
        let mut data = Vec::new();
        reader.read_to_end_checked(&mut data).await.unwrap();
        if let Some(stem) = name.strip_suffix(".wav") {
            let n: u32 = stem.split('.').next().unwrap().parse().unwrap();
            assert_eq!(data, audio[&n], "{name} holds the ingested bytes");
        } else if name.ends_with(".transcript.json") {
            assert!(name.starts_with("2."));
            assert_eq!(data, doc);
        } else {
            let meta: Value = serde_json::from_slice(&data).unwrap();
            assert!(
                meta["call_id"].is_string() && meta["duration"].is_u64(),
                "{name}: {meta}"
            );
        }
    }

    let id = done["id"].as_str().unwrap();
    let base = v.s.url(&format!(
        "{P}/bulkDownload/recordings_transcriptions/retrieve"
    ));
    let status = |q: String| {
        let v = &v;
        async move {
            v.s.http
                .get(q)
                .bearer_auth(&v.admin)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(
        status(format!("{base}?job_id={id}&login_name=boss")).await,
        StatusCode::OK
    );
    assert_eq!(status(base.clone()).await, StatusCode::BAD_REQUEST);
    assert_eq!(
        status(format!("{base}?jobId=")).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        status(format!("{base}?jobId=no-such-job")).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        status(v.s.url(&format!("{P}/bulkDownload/retrieve?jobId={id}"))).await,
        StatusCode::NOT_FOUND,
        "the other job family"
    );
    assert_eq!(
        v.s.http
            .get(&url)
            .bearer_auth(&v.user)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND,
        "not the user's job"
    );
    let past = chrono::Utc::now() - chrono::Duration::hours(1);
    v.s.store
        .finish_job(id, callvault_core::JobStatus::Complete, None, Some(past))
        .await
        .unwrap();
    assert_eq!(status(url.clone()).await, StatusCode::GONE);
    assert_eq!(
        v.s.vault
            .sweep(std::time::Duration::from_secs(3600))
            .await
            .unwrap()
            .jobs_expired,
        1
    );
    let (_, job) = v.get(&v.admin, &self_url).await;
    assert_eq!(job["status"], "expired");
}
