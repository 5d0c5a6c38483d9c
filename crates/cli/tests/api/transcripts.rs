//! Transcription through the server: a stereo call transcribed by the built-in engine
//! per speaker, found by what was said, and gone from the index once deleted; text
//! search paging, scopes and tenant isolation; and what the server says when
//! transcription is off.

use std::time::{Duration, Instant};

use callvault_services::transcription::TranscriptionSettings;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::*;

const SUPPORT_1: &[u8] = include_bytes!("../../../services/demo-audio/support-1.mp3");

async fn search(s: &TestServer, token: &str, query: &str) -> (StatusCode, Value) {
    json_of(
        s.http
            .get(s.url(&format!("/transcripts/search?{query}")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn a_stereo_call_is_transcribed_per_speaker_and_found_by_what_was_said() {
    let s = TestServer::start_with(|s| s.transcription = TranscriptionSettings::default()).await;
    let token = s.token("acme", ALL_SCOPES).await;
    let g = guid(1);
    let body = call_body("2026-11-02T10:00:00Z", "+15550100", "2000", "a1", "inbound");
    assert!(s
        .put_interaction(&token, &g, body)
        .await
        .status()
        .is_success());
    let r = s
        .put_content(
            &token,
            &g,
            "callRecording",
            "",
            "audio/mpeg",
            SUPPORT_1.to_vec(),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED, "ingest does not wait");

    let began = Instant::now();
    loop {
        let (_, status) = json_of(s.get(&token, "/transcripts/status").await).await;
        assert_eq!(status["on"], true, "{status}");
        if status["jobs"]["ready"] == 1 {
            break;
        }
        assert_eq!(status["jobs"]["failed"], Value::Null, "{status}");
        assert!(began.elapsed() < Duration::from_secs(120), "{status}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // The transcript is the interaction's `transcript` item, in the one schema.
    let r = s
        .get(
            &token,
            &format!("/interaction-content/interactions/{g}/content/transcript"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let doc: Value = r.json().await.unwrap();
    assert_eq!(doc["schema"], "callvault.transcript/1");
    assert_eq!(doc["engine"], "pocketsphinx");
    let segments = doc["segments"].as_array().unwrap();
    let by = |who: &str| {
        segments
            .iter()
            .filter(|x| x["speaker"] == who)
            .map(|x| x["text"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert!(by("customer").contains("dropping calls"), "{doc}");
    assert!(by("agent").contains("calling"), "{doc}");
    assert!(!by("agent").contains("dropping"), "{doc}");

    let (status, found) = search(&s, &token, "q=%22dropping+calls%22").await;
    assert_eq!(status, StatusCode::OK, "{found}");
    let items = found["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{found}");
    assert_eq!(items[0]["guid"], g.as_str());
    let hit = &items[0]["hits"][0];
    assert_eq!(hit["speaker"], "customer");
    assert!(hit["startMs"].as_u64().unwrap() > 1000, "{hit}");
    assert!(hit["snippet"].as_str().unwrap().contains("<mark>"), "{hit}");

    // Deleting the call takes its transcript out of the index.
    let r = s
        .http
        .delete(s.url(&format!("/interaction-content/interactions/{g}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let (_, found) = search(&s, &token, "q=dropping").await;
    assert_eq!(found["items"], json!([]));
    let (_, status) = json_of(s.get(&token, "/transcripts/status").await).await;
    assert_eq!(status["jobs"], json!({}), "the job went with the recording");
}

/// A client-uploaded transcript in the one schema.
fn transcript(words: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "schema": "callvault.transcript/1", "language": "en-US", "engine": "client",
        "segments": [
            {"startMs": 0, "endMs": 900, "speaker": "agent", "text": "hello how can I help"},
            {"startMs": 1200, "endMs": 3000, "speaker": "customer", "text": words},
        ]
    }))
    .unwrap()
}

/// A server where acme has seven calls a day apart (1 to 7 November 2026) whose
/// customers speak of refunds ("my refund was approved" on even days, "refunds take too
/// long" on odd ones), and globex one; answers acme's token.
async fn seven_refund_calls() -> (TestServer, String) {
    let s = TestServer::start().await;
    let acme = s.token("acme", ALL_SCOPES).await;
    let globex = s.token("globex", ALL_SCOPES).await;
    for n in 1..=7u32 {
        let start = format!("2026-11-0{n}T10:00:00Z");
        s.seed_call(
            &acme,
            &guid(n),
            call_body(&start, "+1555", "2000", "a1", "inbound"),
            500,
        )
        .await;
        let words = if n % 2 == 0 {
            "my refund was approved"
        } else {
            "refunds take too long"
        };
        let r = s
            .put_content(
                &acme,
                &guid(n),
                "transcript",
                "",
                "application/json",
                transcript(words),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    s.seed_call(
        &globex,
        &guid(99),
        call_body("2026-11-03T10:00:00Z", "+1", "2", "a1", "inbound"),
        500,
    )
    .await;
    s.put_content(
        &globex,
        &guid(99),
        "transcript",
        "",
        "application/json",
        transcript("refund"),
    )
    .await;
    (s, acme)
}

#[tokio::test]
async fn text_search_pages_every_match_once_newest_first_within_the_tenant() {
    let (s, acme) = seven_refund_calls().await;
    let mut seen = Vec::new();
    let mut query = "q=refund&limit=3".to_string();
    loop {
        let (status, page) = search(&s, &acme, &query).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for i in page["items"].as_array().unwrap() {
            seen.push(i["guid"].as_str().unwrap().to_string());
            assert_eq!(i["hits"][0]["startMs"], 1200);
        }
        match page["continuationToken"].as_str() {
            Some(t) => query = format!("q=refund&limit=3&continuationToken={}", urlencode(t)),
            None => break,
        }
    }
    let want: Vec<String> = (1..=7u32).rev().map(guid).collect();
    assert_eq!(
        seen, want,
        "every match once, newest first, none of globex's"
    );
}

#[tokio::test]
async fn text_search_filters_combine_with_the_words() {
    let (s, acme) = seven_refund_calls().await;
    let (_, page) = search(
        &s,
        &acme,
        "q=%22refund+was+approved%22&from=2026-11-03T00:00:00Z&to=2026-11-05T00:00:00Z",
    )
    .await;
    let got: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["guid"].as_str().unwrap())
        .collect();
    assert_eq!(got, [guid(4)]);
}

#[tokio::test]
async fn a_continuation_token_belongs_to_its_own_search() {
    let (s, acme) = seven_refund_calls().await;
    let (_, first) = search(&s, &acme, "q=refund&limit=1").await;
    let token = urlencode(first["continuationToken"].as_str().unwrap());
    let (status, e) = search(
        &s,
        &acme,
        &format!("q=approved&limit=1&continuationToken={token}"),
    )
    .await;
    assert_eq!(
        (status, e["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("continuationToken"))
    );
}

#[tokio::test]
async fn bad_text_search_input_names_its_field() {
    let (s, acme) = seven_refund_calls().await;
    for (q, field) in [
        ("q=%22%22", "q"),
        ("", "q"),
        ("q=a&limit=0", "limit"),
        ("q=a&direction=up", "direction"),
        ("q=a&from=x", "from"),
        ("q=a&colour=red", "colour"),
    ] {
        let (status, e) = search(&s, &acme, q).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{q}: {e}");
        assert_eq!(e["field"], field, "{q}: {e}");
    }
}

#[tokio::test]
async fn text_search_needs_the_read_scope() {
    let (s, _) = seven_refund_calls().await;
    let writer = s.token("acme", "interaction-content:write").await;
    assert_eq!(
        search(&s, &writer, "q=refund").await.0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn with_transcription_off_the_server_says_why() {
    let s = TestServer::start().await;
    let token = s.token("acme", ALL_SCOPES).await;
    s.seed_call(
        &token,
        &guid(1),
        call_body("2026-11-02T10:00:00Z", "+1", "2", "a1", "inbound"),
        500,
    )
    .await;
    let (_, status) = json_of(s.get(&token, "/transcripts/status").await).await;
    assert_eq!(
        (status["engine"].as_str(), status["on"].as_bool()),
        (Some("none"), Some(false))
    );
    assert_eq!(status["jobs"], json!({}), "nothing queued while off");
    let (_, ready) = json_of(s.http.get(s.url("/readyz")).send().await.unwrap()).await;
    assert_eq!(ready["transcription"]["state"], "off", "{ready}");
    let r = s
        .http
        .post(s.url(&format!("/transcripts/{}/retranscribe", guid(1))))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let (code, e) = json_of(r).await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE, "{e}");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("transcription is off"),
        "{e}"
    );
}

/// `callvault transcribe` with the built-in engine, on an embedded data directory.
fn transcribe(dir: &std::path::Path, args: &[&str]) -> Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_callvault"))
        .env("CALLVAULT_TRANSCRIPTION_ENGINE", "pocketsphinx")
        .args(["transcribe", "--tenant", "acme", "--json", "--data-dir"])
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap()
}

#[test]
fn the_cli_backfills_a_tenant_and_a_second_run_resumes_with_nothing_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert!(crate::process::cli(d, &["tenant", "create", "acme"]).0);
    let src = d.join("in");
    std::fs::create_dir_all(&src).unwrap();
    let mut manifest = String::from("guid,start,direction,connectFrom,connectTo,file,type\n");
    for (n, name) in ["voicemail-1", "voicemail-2"].iter().enumerate() {
        let audio = std::fs::read(format!(
            "{}/../services/demo-audio/{name}.mp3",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        std::fs::write(src.join(format!("{name}.mp3")), audio).unwrap();
        manifest.push_str(&format!(
            "{},2026-11-0{}T10:00:00Z,inbound,+15550100,2000,{name}.mp3,callRecording\n",
            guid(n as u32 + 1),
            n + 1
        ));
    }
    std::fs::write(src.join("manifest.csv"), manifest).unwrap();
    let (ok, r, err) =
        crate::process::cli(d, &["ingest", "--tenant", "acme", src.to_str().unwrap()]);
    assert!(ok, "{r} {err}");

    let first = transcribe(d, &[]);
    assert_eq!(
        (first["queued"].as_u64(), first["transcribedHere"].as_u64()),
        (Some(2), Some(2)),
        "{first}"
    );
    assert_eq!(first["jobs"], json!({"ready": 2}));
    let again = transcribe(d, &[]);
    assert_eq!(again["queued"], 0, "{again}");
    let one = transcribe(d, &["--interaction", &guid(1), "--queue-only"]);
    assert_eq!(one["jobs"], json!({"pending": 1, "ready": 1}), "{one}");
}
