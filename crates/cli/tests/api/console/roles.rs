//! Roles in the console: an agent finds and opens the calls they handled beside their
//! own recordings; a reviewer sees every call, with no delete or hold control anywhere,
//! and forged forms are refused.

use callvault_core::Role;
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::Acme;
use crate::common::{guid, json_of};

fn page(n: u32) -> String {
    format!("/calls/{}", guid(n))
}

/// The interactions a page links to, in order.
fn linked(html: &str) -> Vec<String> {
    html.split("href=\"/calls/")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_string())
        .collect()
}

/// Acme with call 4, a company call that bob handled.
async fn bob_handled_call_4() -> Acme {
    let a = Acme::new().await;
    let bob = a.bob.clone();
    a.call(
        4,
        "2019-11-23T10:00:00Z",
        "+4420700004",
        &bob,
        json!({}),
        3000,
    )
    .await;
    a
}

#[tokio::test]
async fn an_agent_finds_and_opens_a_call_they_handled_but_not_one_they_did_not() {
    let a = bob_handled_call_4().await;
    let bob = a.session("bob").await;
    let html = a.get(&bob, "/?period=any").await.text().await.unwrap();
    assert_eq!(linked(&html), vec![guid(4), guid(2)], "handled, then owned");
    assert!(html.contains("(agent)"), "the nav names the role");
    let r = a.get(&bob, &page(4)).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("+4420700004"));
    let audio = format!("{}/content/callRecording", page(4));
    assert_eq!(a.get(&bob, &audio).await.status(), StatusCode::OK);
    // Call 1 is a company call bob did not handle; call 4 is nothing of cy's.
    assert_eq!(a.get(&bob, &page(1)).await.status(), StatusCode::NOT_FOUND);
    let cy = a.session("cy").await;
    let html = a.get(&cy, "/?period=any").await.text().await.unwrap();
    assert_eq!(linked(&html), vec![guid(3)]);
    for path in [page(4), audio] {
        assert_eq!(
            a.get(&cy, &path).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}

async fn api_holds(a: &Acme) -> Vec<Value> {
    let (status, v) = json_of(a.s.get(&a.token, "/admin/governance/holds").await).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v["holds"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_reviewer_sees_every_call_but_no_control_and_forged_forms_are_refused() {
    let a = bob_handled_call_4().await;
    a.s.tenant("acme")
        .await
        .user_as("rita", Role::Reviewer)
        .await;
    let rita = a.session("rita").await;
    let html = a.get(&rita, "/?period=any").await.text().await.unwrap();
    assert_eq!(linked(&html), vec![guid(4), guid(3), guid(2), guid(1)]);
    assert!(html.contains("(reviewer)"), "the nav names the role");
    for n in 1..=4 {
        let r = a.get(&rita, &page(n)).await;
        assert_eq!(r.status(), StatusCode::OK, "call {n}");
        let html = r.text().await.unwrap();
        for hidden in [
            "Delete this call",
            "Delete permanently",
            "/delete\"",
            "Place a hold",
            "Legal holds",
            "Audit trail",
            "href=\"/holds\"",
            "href=\"/audit\"",
        ] {
            assert!(!html.contains(hidden), "call {n}: {hidden}");
        }
    }
    for path in ["/holds", "/audit", "/audit.csv"] {
        assert_eq!(
            a.get(&rita, path).await.status(),
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }

    // Forms forged with the reviewer's own valid form token.
    let csrf = a.csrf(&rita).await;
    let r = a
        .post(&rita, &format!("{}/delete", page(1)), &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("Only an account admin"));
    let ann = a.session("ann").await;
    assert_eq!(a.get(&ann, &page(1)).await.status(), StatusCode::OK, "kept");
    let hold = [("csrf", csrf.as_str()), ("case_name", "x"), ("reason", "y")];
    let r = a.post(&rita, &format!("{}/holds", page(1)), &hold).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(api_holds(&a).await.is_empty());

    let admin_csrf = a.csrf(&ann).await;
    let placed = [
        ("csrf", admin_csrf.as_str()),
        ("case_name", "kept"),
        ("reason", "held"),
    ];
    let r = a.post(&ann, &format!("{}/holds", page(1)), &placed).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let hold_id = api_holds(&a).await[0]["id"].as_str().unwrap().to_string();
    let r = a
        .post(
            &rita,
            &format!("/holds/{hold_id}/release"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(api_holds(&a).await[0]["active"], true);
}
