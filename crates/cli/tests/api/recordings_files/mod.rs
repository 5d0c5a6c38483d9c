//! The Recordings files API (`003`): Basic auth, the record fields and call types, XML and
//! CSV parsed back with real parsers, paging and downloads; the date grammar and filters
//! in `queries`.

mod queries;
mod shapes;

use crate::common::*;
use quick_xml::events::Event;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Parses `<recordings><file>...</file></recordings>` into (field, value) lists.
fn parse_xml(text: &str) -> Vec<Vec<(String, String)>> {
    let mut reader = quick_xml::Reader::from_str(text);
    let (mut files, mut current, mut field) = (Vec::new(), Vec::new(), None::<String>);
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) => {
                let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
                if name == "file" {
                    current = Vec::new();
                } else if name != "recordings" {
                    field = Some(name);
                }
            }
            Event::Empty(e) => current.push((
                String::from_utf8(e.name().as_ref().to_vec()).unwrap(),
                String::new(),
            )),
            Event::Text(t) => {
                if let Some(f) = field.take() {
                    current.push((f, t.unescape().unwrap().into_owned()));
                }
            }
            Event::End(e) if e.name().as_ref() == b"file" => {
                files.push(std::mem::take(&mut current))
            }
            Event::Eof => break,
            _ => {}
        }
    }
    files
}

fn get<'a>(rec: &'a [(String, String)], field: &str) -> &'a str {
    &rec.iter()
        .find(|(f, _)| f == field)
        .unwrap_or_else(|| panic!("no {field}"))
        .1
}

struct Vcc {
    s: TestServer,
    token: String,
    api: String,
}

impl Vcc {
    async fn new() -> Self {
        let s = TestServer::start().await;
        let tenant = s
            .store
            .create_tenant("acme", "America/Los_Angeles")
            .await
            .unwrap();
        let api = s.vault.auth.new_tenant_api_token(tenant.id).await.unwrap();
        let token = s.token("acme", ALL_SCOPES).await;
        Self { s, token, api }
    }

    async fn call(&self, n: u32, start: &str, secs: i64, extra: Value) {
        let mut body = json!({
            "start": start,
            "direction": "inbound",
            "connectFrom": "4155551234",
            "connectTo": "8005557780",
            "handlingAgents": ["bill"],
            "queueId": "acme~~queue~~phone~~102",
            "queueName": "phoneq1",
            "attributes": {"caseId": "7", "accountNumber": "A1"}
        });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let start_t = chrono::DateTime::parse_from_rfc3339(start).unwrap();
        body["end"] = json!((start_t + chrono::Duration::seconds(secs)).to_rfc3339());
        let g = guid(n);
        let r = self.s.put_interaction(&self.token, &g, body).await;
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
        let wav = callvault_services::audio::synth_wav(
            u32::try_from(secs * 1000).unwrap().min(3000),
            8000,
            200.0 + n as f32,
        );
        let r = self
            .s
            .put_content(&self.token, &g, "callRecording", "", "audio/wav", wav)
            .await;
        assert!(r.status().is_success());
    }

    async fn files(&self, path_and_query: &str) -> (StatusCode, String) {
        let r = self
            .s
            .http
            .get(self.s.url(path_and_query))
            .basic_auth("acme", Some(&self.api))
            .send()
            .await
            .unwrap();
        (r.status(), r.text().await.unwrap())
    }

    async fn xml(&self, query: &str) -> Vec<Vec<(String, String)>> {
        let (status, text) = self.files(&format!("/api/recordings/files?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}: {text}");
        parse_xml(&text)
    }
}

#[tokio::test]
async fn basic_auth_with_tenant_token() {
    let v = Vcc::new().await;
    let r =
        v.s.http
            .get(v.s.url("/api/recordings/files"))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Basic"));
    for (user, pass) in [("acme", "wrong"), ("nobody", v.api.as_str()), ("acme", "")] {
        let r =
            v.s.http
                .get(v.s.url("/api/recordings/files"))
                .basic_auth(user, Some(pass))
                .send()
                .await
                .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{user}");
        assert!(r.text().await.unwrap().contains("<error>"));
    }
    assert_eq!(v.files("/api/recordings/files").await.0, StatusCode::OK);
    // A new token (here through the admin API) revokes the old one.
    let r =
        v.s.http
            .post(v.s.url("/admin/tenant/api-token"))
            .bearer_auth(&v.token)
            .send()
            .await
            .unwrap();
    let (status, body) = json_of(r).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        v.files("/api/recordings/files").await.0,
        StatusCode::FORBIDDEN
    );
    let r =
        v.s.http
            .get(v.s.url("/api/recordings/files"))
            .basic_auth("acme", body["token"].as_str())
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let reader = v.s.token("acme", "interaction-content:read").await;
    let r =
        v.s.http
            .post(v.s.url("/admin/tenant/api-token"))
            .bearer_auth(&reader)
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn records_follow_the_call_type_table() {
    let v = Vcc::new().await;
    v.call(
        1,
        "2007-12-20T03:16:36Z",
        27,
        json!({"attributes": {"caseId": "=HYPERLINK(\"evil\")", "wrapUpCode": "Sale & <done>"}}),
    )
    .await;
    v.call(2, "2007-12-20T04:00:00Z", 10, json!({"direction": "outbound", "connectFrom": "8005557780", "connectTo": "+14155550000", "attributes": {"outDialCode": "9"}})).await;
    v.call(
        3,
        "2007-12-20T05:00:00Z",
        5,
        json!({"queueId": null, "queueName": null, "connectTo": "4420794602101"}),
    )
    .await;
    let files = v.xml("d=2007-12-19,2007-12-21").await;
    assert_eq!(files.len(), 3);
    let names: Vec<&str> = files[0].iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(
        names,
        callvault_http::recordings_files::record::FIELDS.to_vec(),
        "every field, in the seed's order"
    );
    let inbound = &files[0];
    assert_eq!(get(inbound, "startDate"), "2007-12-19T19:16:36-08:00");
    assert_eq!(get(inbound, "agentID"), "bill");
    assert_eq!(get(inbound, "phoneNumber"), "4155551234");
    assert_eq!(get(inbound, "channel"), "8005557780");
    assert_eq!(get(inbound, "queueID"), "acme~~queue~~phone~~102");
    assert_eq!(get(inbound, "queueName"), "phoneq1");
    assert_eq!(
        get(inbound, "duration"),
        "3",
        "seconds of the recording itself"
    );
    assert_eq!(
        get(inbound, "filename"),
        "S20071220/R2007122003163600001.wav"
    );
    assert_eq!(get(inbound, "caseID"), "=HYPERLINK(\"evil\")");
    assert_eq!(get(inbound, "wrapUpCode"), "Sale & <done>");
    assert_eq!(get(inbound, "outDialCode"), "");
    let outbound = &files[1];
    assert_eq!(
        (get(outbound, "channel"), get(outbound, "phoneNumber")),
        ("#virtual_outbound#", "+14155550000")
    );
    assert_eq!(
        (get(outbound, "queueID"), get(outbound, "queueName")),
        ("QUEUE_OUTBOUND", "QUEUE_OUTBOUND")
    );
    assert_eq!(get(outbound, "outDialCode"), "9");
    let daa = &files[2];
    assert_eq!(
        (get(daa, "channel"), get(daa, "phoneNumber")),
        ("#virtual_daa#", "4155551234")
    );
    assert_eq!(get(daa, "queueID"), "QUEUE_DIRECT_AGENT_ACCESS");

    let (status, text) = v
        .files("/api/recordings/files.csv?d=2007-12-19,2007-12-21")
        .await;
    assert_eq!(status, StatusCode::OK);
    let mut rd = csv::Reader::from_reader(text.as_bytes());
    let headers: Vec<String> = rd.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(headers[0], "startDate");
    let rows: Vec<csv::StringRecord> = rd.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(
        &rows[0][4], "'=HYPERLINK(\"evil\")",
        "formula injection is neutralised"
    );
    assert_eq!(&rows[0][14], "Sale & <done>");
    assert_eq!(&rows[1][2], "+14155550000", "signed phone numbers survive");
    let xml_default = v
        .files("/api/recordings/files.xml?d=2007-12-19,2007-12-21")
        .await
        .1;
    assert_eq!(parse_xml(&xml_default).len(), 3);
}

#[tokio::test]
async fn pages_of_fifty_by_offset() {
    let v = Vcc::new().await;
    for n in 0..120u32 {
        let start = chrono::DateTime::parse_from_rfc3339("2009-01-01T12:00:00Z").unwrap()
            + chrono::Duration::minutes(i64::from(n));
        v.call(n + 1, &start.to_rfc3339(), 1, json!({})).await;
    }
    let mut seen = Vec::new();
    for (n, want) in [(1, 50), (51, 50), (101, 20), (121, 0)] {
        let page = v.xml(&format!("d=2009-01-01&tz=UTC&n={n}")).await;
        assert_eq!(page.len(), want, "n={n}");
        seen.extend(page.iter().map(|f| get(f, "filename").to_string()));
    }
    let unique: std::collections::HashSet<_> = seen.iter().collect();
    assert_eq!((seen.len(), unique.len()), (120, 120));
    assert_eq!(v.xml("d=2009-01-01&tz=UTC&n=120").await.len(), 1);
}

#[tokio::test]
async fn downloads_by_listed_filename_only() {
    let v = Vcc::new().await;
    v.call(1, "2007-12-20T03:16:36Z", 2, json!({})).await;
    let files = v.xml("").await;
    let name = get(&files[0], "filename").to_string();
    let r =
        v.s.http
            .get(v.s.url(&format!("/api/recordings/files/{name}")))
            .basic_auth("acme", Some(&v.api))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "audio/wav");
    let body = r.bytes().await.unwrap();
    assert_eq!(&body[..4], b"RIFF");
    let r =
        v.s.http
            .get(v.s.url(&format!("/api/recordings/files/{name}")))
            .basic_auth("acme", Some(&v.api))
            .header("Range", "bytes=0-3")
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"RIFF");

    // Another tenant with the same numbering cannot reach it; nor can any crafted name.
    let other = v.s.store.create_tenant("globex", "UTC").await.unwrap();
    let other_token = v.s.vault.auth.new_tenant_api_token(other.id).await.unwrap();
    let r =
        v.s.http
            .get(v.s.url(&format!("/api/recordings/files/{name}")))
            .basic_auth("globex", Some(&other_token))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    for bad in [
        "S20071220/R2007122003163600002.wav",
        "S20071220/R2007122003163700001.wav",
        "S20071220/R2007122003163600001.mp3",
        "..%2F..%2Fcallvault.db",
        "S20071220/..%2F..%2F..%2Fcallvault.db",
        "%2Fetc%2Fpasswd",
        "S20071220/R2007122003163600001.wav%00",
    ] {
        let (status, text) = v.files(&format!("/api/recordings/files/{bad}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{bad}: {text}");
    }
}
