//! The interaction page: who may open it, its transcript, the player's audio and
//! waveform (audited as plays and downloads), and deleting with holds obeyed.

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{Acme, TRANSCRIPT};
use crate::common::guid;

fn page(n: u32) -> String {
    format!("/calls/{}", guid(n))
}

fn audio(n: u32) -> String {
    format!("/calls/{}/content/callRecording", guid(n))
}

fn player(n: u32) -> String {
    format!("/calls/{}/play/callRecording", guid(n))
}

#[tokio::test]
async fn an_agent_gets_not_found_for_another_agents_call() {
    let a = Acme::new().await;
    let bob = a.session("bob").await;
    assert_eq!(a.get(&bob, &page(2)).await.status(), StatusCode::OK);
    for path in [
        page(3),
        audio(3),
        player(3),
        format!("/calls/{}/peaks/callRecording", guid(3)),
        page(1),
    ] {
        let r = a.get(&bob, &path).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        let html = r.text().await.unwrap();
        assert!(html.contains("There is no such call"), "{path}");
        assert!(!html.contains("+4420700003"), "{path}: nothing of the call");
    }
}

#[tokio::test]
async fn a_call_that_does_not_exist_is_the_same_not_found() {
    let a = Acme::new().await;
    let ann = a.session("ann").await;
    for path in [page(99), "/calls/not-a-guid".to_string()] {
        let r = a.get(&ann, &path).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(r.text().await.unwrap().contains("There is no such call"));
    }
}

#[tokio::test]
async fn the_page_shows_the_transcript_lines_with_their_times() {
    let a = Acme::new().await;
    let ann = a.session("ann").await;
    let html = a.get(&ann, &page(1)).await.text().await.unwrap();
    for (at, who, text) in TRANSCRIPT {
        assert!(html.contains(&format!("data-start-ms=\"{at}\"")), "{at}");
        assert!(html.contains(who) && html.contains(text), "{text}");
    }
    assert!(html.contains(&format!("src=\"{}\"", player(1))), "{html}");
    assert!(html.contains(&format!("href=\"{}\"", audio(1))), "{html}");
}

#[tokio::test]
async fn the_players_reads_are_audited_as_plays_by_the_user_even_from_byte_0() {
    let a = Acme::new().await;
    let ann = a.session("ann").await;
    let r = a
        .web
        .get(a.s.url(&player(1)))
        .header("Cookie", &ann)
        .header("Range", "bytes=0-")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    r.bytes().await.unwrap();
    let plays = a.audited("play", 1).await;
    assert_eq!(plays.len(), 1, "{plays:?}");
    assert_eq!(plays[0]["principal"], "user:ann");
    assert_eq!(plays[0]["dialect"], "console");
}

#[tokio::test]
async fn a_screen_recording_plays_in_the_page_through_the_audited_play_route() {
    let a = Acme::new().await;
    let video: Vec<u8> = (0..4096u32).map(|n| n as u8).collect();
    let r =
        a.s.put_content(
            &a.token,
            &guid(1),
            &guid(9),
            "?type=screenRecording",
            "video/mp4",
            video.clone(),
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
    let ann = a.session("ann").await;
    let html = a.get(&ann, &page(1)).await.text().await.unwrap();
    let src = format!("/calls/{}/play/{}", guid(1), guid(9));
    assert!(
        html.contains(&format!(
            "<video class=\"screen\" controls preload=\"metadata\" src=\"{src}\""
        )),
        "{html}"
    );
    let r = a
        .web
        .get(a.s.url(&src))
        .header("Cookie", &ann)
        .header("Range", "bytes=1000-1999")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.headers()["content-type"], "video/mp4");
    assert_eq!(r.bytes().await.unwrap(), video[1000..2000]);
    let plays = a.audited("play", 1).await;
    assert_eq!(plays[0]["principal"], "user:ann");
}

#[tokio::test]
async fn a_ranged_read_through_the_download_link_is_audited_as_a_play() {
    let a = Acme::new().await;
    let ann = a.session("ann").await;
    let r = a
        .web
        .get(a.s.url(&audio(1)))
        .header("Cookie", &ann)
        .header("Range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.bytes().await.unwrap().len(), 100);
    let plays = a.audited("play", 1).await;
    assert_eq!(plays.len(), 1, "{plays:?}");
    assert_eq!(plays[0]["principal"], "user:ann");
}

#[tokio::test]
async fn a_download_is_the_uploaded_bytes_audited_as_a_download() {
    let a = Acme::new().await;
    let ann = a.session("ann").await;
    let r = a.get(&ann, &audio(2)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let got = r.bytes().await.unwrap();
    let uploaded = callvault_services::audio::synth_wav(3000, 8000, 440.0);
    assert_eq!(got.as_ref(), uploaded.as_slice());
    let downloads = a.audited("download", 2).await;
    assert!(
        downloads.iter().any(|d| d["principal"] == "user:ann"),
        "{downloads:?}"
    );
}

#[tokio::test]
async fn the_waveform_covers_the_whole_recording() {
    let a = Acme::new().await;
    let ann = a.session("ann").await;
    let r = a
        .get(&ann, &format!("/calls/{}/peaks/callRecording", guid(1)))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["durationMs"], 12_000);
    let peaks = v["peaks"].as_array().unwrap();
    assert!(peaks.len() > 500 && peaks.len() <= 1000, "{}", peaks.len());
    assert!(peaks.iter().all(|p| p.as_f64().unwrap() > 0.0));
}

#[tokio::test]
async fn an_admin_deletes_a_call_and_it_is_gone() {
    let a = Acme::new().await;
    let ann = a.session("ann").await;
    let csrf = a.csrf(&ann).await;
    let r = a
        .post(&ann, &format!("{}/delete", page(2)), &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], format!("/?deleted={}", guid(2)));
    assert_eq!(a.get(&ann, &page(2)).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(a.audited("delete", 2).await[0]["principal"], "user:ann");
}

#[tokio::test]
async fn an_agent_cannot_delete_even_their_own_call() {
    let a = Acme::new().await;
    let bob = a.session("bob").await;
    assert!(!a
        .get(&bob, &page(2))
        .await
        .text()
        .await
        .unwrap()
        .contains("Delete permanently"));
    let csrf = a.csrf(&bob).await;
    let r = a
        .post(&bob, &format!("{}/delete", page(2)), &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(a.get(&bob, &page(2)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_delete_without_the_csrf_token_is_refused() {
    let a = Acme::new().await;
    let ann = a.session("ann").await;
    let r = a
        .post(&ann, &format!("{}/delete", page(2)), &[("csrf", "forged")])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(a.get(&ann, &page(2)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_held_call_is_not_deleted_and_the_page_says_why() {
    let a = Acme::new().await;
    let hold = json!({"caseName": "Doe v. Acme", "reason": "litigation", "selector": {"guids": [guid(1)]}});
    let r =
        a.s.http
            .post(a.s.url("/admin/governance/holds"))
            .bearer_auth(&a.token)
            .json(&hold)
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let ann = a.session("ann").await;
    let csrf = a.csrf(&ann).await;
    let r = a
        .post(&ann, &format!("{}/delete", page(1)), &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let html = r.text().await.unwrap();
    assert!(html.contains("This call cannot be deleted"), "{html}");
    assert!(html.contains("Doe v. Acme"), "{html}");
    assert_eq!(a.get(&ann, &page(1)).await.status(), StatusCode::OK);
}

/// Call 1's page as the admin sees it, once these JSON documents are stored with it.
async fn call_1_with<const N: usize>(a: &Acme, docs: [(&str, Value); N]) -> String {
    for (key, doc) in docs {
        let bytes = serde_json::to_vec(&doc).unwrap();
        let r =
            a.s.put_content(&a.token, &guid(1), key, "", "application/json", bytes)
                .await;
        assert_eq!(r.status(), StatusCode::CREATED, "{key}");
    }
    let ann = a.session("ann").await;
    a.get(&ann, &page(1)).await.text().await.unwrap()
}

#[tokio::test]
async fn sentiment_and_categorisation_read_as_labelled_values() {
    let a = Acme::new().await;
    let sentiment = json!({"overall": {"label": "negative", "score": -0.4}});
    let categories = json!({"categories": [{"name": "<b>Refunds</b>", "confidence": 0.91}]});
    let html = call_1_with(
        &a,
        [
            ("sentimentSummary", sentiment),
            ("categorizationResult", categories),
        ],
    )
    .await;
    for shown in [
        "<dt>Overall › label</dt><dd>negative</dd>",
        "<dt>Overall › score</dt><dd>-0.4</dd>",
        "<dt>Categories › 1 › name</dt><dd>&#60;b&#62;Refunds&#60;/b&#62;</dd>",
        "<dt>Categories › 1 › confidence</dt><dd>0.91</dd>",
    ] {
        assert!(html.contains(shown), "{shown}");
    }
}

#[tokio::test]
async fn a_chat_and_a_summary_are_shown_as_text_and_other_items_as_downloads() {
    let a = Acme::new().await;
    let chat = json!({"messages": [
        {"from": "customer", "offsetMs": 0, "text": "my parcel never came"},
        {"from": "agent", "offsetMs": 5000, "text": "I will send another today"},
    ]});
    let summary = json!({"language": "en-US", "summary": "Parcel lost; resent.", "actionItems": ["Track the new parcel"]});
    let html = call_1_with(
        &a,
        [("chatTranscript", chat), ("conversationSummary", summary)],
    )
    .await;
    for text in [
        "my parcel never came",
        "I will send another today",
        "Parcel lost; resent.",
        "Track the new parcel",
    ] {
        assert!(html.contains(text), "{text}");
    }
    for key in [
        "callRecording",
        "transcript",
        "chatTranscript",
        "conversationSummary",
    ] {
        let link = format!("href=\"/calls/{}/content/{key}\" download", guid(1));
        assert!(html.contains(&link), "{key}");
    }
}
