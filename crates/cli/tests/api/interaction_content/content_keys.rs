//! Getting an interaction with its content items, and the forms a content key takes:
//! unique identifiers in any case, legacy `type-agent` keys, and type names (`001`).

use crate::common::*;
use reqwest::StatusCode;

/// A voicemail under a unique-identifier key.
const VM: &str = "017f2106-ff1b-8d35-89e5-1e01b327a159";

/// Interaction 1 with its call recording and two voicemails, one under [`VM`] owned by
/// agent 1342 and one under the legacy key `voicemail-123`; returns the voicemails' WAV.
async fn two_voicemails() -> (TestServer, String, Vec<u8>) {
    let s = TestServer::start().await;
    let t = s.token("acme", ALL_SCOPES).await;
    s.seed_call(
        &t,
        &guid(1),
        call_body("2021-02-01T09:00:00Z", "1", "2", "5", "inbound"),
        200,
    )
    .await;
    let wav = callvault_services::audio::synth_wav(700, 8000, 300.0);
    let r = s
        .put_content(
            &t,
            &guid(1),
            VM,
            "?type=voicemail&owningAgent=1342",
            "audio/wav",
            wav.clone(),
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
    let r = s
        .put_content(&t, &guid(1), "voicemail-123", "", "audio/wav", wav.clone())
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    (s, t, wav)
}

/// Interaction 1's content items, as its GET lists them.
async fn content_items(s: &TestServer, t: &str) -> Vec<serde_json::Value> {
    let (status, body) = json_of(
        s.get(t, &format!("/interaction-content/interactions/{}", guid(1)))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["guid"], guid(1));
    body["content"].as_array().unwrap().clone()
}

fn content_path(key: &str) -> String {
    format!(
        "/interaction-content/interactions/{}/content/{key}",
        guid(1)
    )
}

#[tokio::test]
async fn an_interaction_lists_all_its_content_items() {
    let (s, t, _) = two_voicemails().await;
    assert_eq!(content_items(&s, &t).await.len(), 3);
}

#[tokio::test]
async fn a_unique_key_item_carries_its_type_owner_and_duration() {
    let (s, t, _) = two_voicemails().await;
    let content = content_items(&s, &t).await;
    let v = content.iter().find(|c| c["contentKey"] == VM).unwrap();
    assert_eq!(v["type"], "voicemail");
    assert_eq!(v["owningAgent"]["id"], "1342");
    assert_eq!(v["properties"]["duration"]["value"], 700);
}

#[tokio::test]
async fn a_legacy_key_names_the_owning_agent() {
    let (s, t, _) = two_voicemails().await;
    let content = content_items(&s, &t).await;
    let legacy = content
        .iter()
        .find(|c| c["contentKey"] == "voicemail-123")
        .unwrap();
    assert_eq!(legacy["owningAgent"]["id"], "123");
}

/// Unique identifiers in any case, and the legacy form, all download.
#[tokio::test]
async fn unique_keys_in_any_case_and_legacy_keys_download() {
    let (s, t, wav) = two_voicemails().await;
    for key in [VM.to_uppercase().as_str(), "voicemail-123"] {
        let r = s.get(&t, &content_path(key)).await;
        assert_eq!(r.status(), StatusCode::OK, "{key}");
        assert_eq!(r.bytes().await.unwrap().to_vec(), wav);
    }
}

/// Two voicemails: the type name is ambiguous.
#[tokio::test]
async fn a_type_name_shared_by_two_items_is_ambiguous() {
    let (s, t, _) = two_voicemails().await;
    let (status, body) = json_of(s.get(&t, &content_path("voicemail")).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["field"], "contentKey");
}

#[tokio::test]
async fn a_type_the_interaction_has_no_item_of_is_not_found() {
    let (s, t, _) = two_voicemails().await;
    let (status, _) = json_of(s.get(&t, &content_path("transcript")).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_content_key_that_climbs_out_of_its_path_is_refused() {
    let (s, t, _) = two_voicemails().await;
    let (status, body) = json_of(s.get(&t, &content_path("..%2F..%2Fetc")).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["field"], "contentKey");
}

#[tokio::test]
async fn a_malformed_guid_is_refused_naming_it() {
    let s = TestServer::start().await;
    let t = s.token("acme", ALL_SCOPES).await;
    for path in [
        "/interaction-content/interactions/abc",
        "/interaction-content/interactions/2480fc2c-bbd7-427c-9439-02f76583aefz",
    ] {
        let (status, body) = json_of(s.get(&t, path).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert_eq!(body["field"], "guid");
    }
    let (_, body) = json_of(s.get(&t, "/interaction-content/interactions/abc").await).await;
    assert_eq!(body["message"], "GUID must be 36 characters in length");
}

#[tokio::test]
async fn an_unknown_interaction_is_not_found() {
    let s = TestServer::start().await;
    let t = s.token("acme", ALL_SCOPES).await;
    let path = "/interaction-content/interactions/2480fc2c-bbd7-427c-9439-02f76583aef5";
    let (status, body) = json_of(s.get(&t, path).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
}
