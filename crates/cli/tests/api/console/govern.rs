//! The console's governance views: legal holds placed and released from a call's page
//! and listed for the tenant, the retention that applies to a call, and the audit trail;
//! all for admins only, refused server-side to agents whatever form token they hold.

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::Acme;
use crate::common::{guid, json_of};

fn page(n: u32) -> String {
    format!("/calls/{}", guid(n))
}

/// The id of the first release form on a page.
fn release_action(html: &str) -> String {
    let at = html.find("action=\"/holds/").expect("a release form") + 8;
    html[at..].split('"').next().unwrap().to_string()
}

async fn api_holds(a: &Acme) -> Vec<Value> {
    let (status, v) = json_of(a.s.get(&a.token, "/admin/governance/holds").await).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v["holds"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_hold_placed_from_the_page_stops_the_delete_until_it_is_released() {
    let a = Acme::new().await;
    let ann = a.session("ann").await;
    let csrf = a.csrf(&ann).await;
    let hold = [
        ("csrf", csrf.as_str()),
        ("case_name", "Doe v. Acme"),
        ("reason", "litigation pending"),
    ];
    let r = a.post(&ann, &format!("{}/holds", page(1)), &hold).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], format!("{}#holds-h", page(1)));
    let html = a.get(&ann, &page(1)).await.text().await.unwrap();
    for text in ["Doe v. Acme", "litigation pending", "by user:ann", "Active"] {
        assert!(html.contains(text), "{text}: {html}");
    }

    let delete = format!("{}/delete", page(1));
    let r = a.post(&ann, &delete, &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let html = r.text().await.unwrap();
    assert!(html.contains("This call cannot be deleted"), "{html}");
    assert!(
        html.contains("under legal hold (&#39;Doe v. Acme&#39;)"),
        "{html}"
    );

    let release = release_action(&a.get(&ann, &page(1)).await.text().await.unwrap());
    let call = guid(1);
    let r = a
        .post(&ann, &release, &[("csrf", &csrf), ("call", &call)])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], format!("{}#holds-h", page(1)));
    let holds = api_holds(&a).await;
    assert_eq!(holds.len(), 1);
    assert_eq!(holds[0]["active"], false);
    for action in ["holdPlaced", "holdReleased"] {
        let in_trail = a.audited(action, 1).await;
        assert_eq!(in_trail.len(), 1, "{action} is in the call's own trail");
        assert_eq!(in_trail[0]["principal"], "user:ann");
    }
    assert_eq!(holds[0]["releasedBy"], "user:ann");
    let html = a.get(&ann, &page(1)).await.text().await.unwrap();
    assert!(html.contains("Released "), "{html}");

    let r = a.post(&ann, &delete, &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(a.get(&ann, &page(1)).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_hold_by_query_says_its_release_reaches_every_call_it_covers() {
    let a = Acme::new().await;
    let ann = a.session("ann").await;
    let csrf = a.csrf(&ann).await;
    let hold = [
        ("csrf", csrf.as_str()),
        ("case_name", "One call"),
        ("reason", "r"),
    ];
    a.post(&ann, &format!("{}/holds", page(1)), &hold).await;
    let r =
        a.s.http
            .post(a.s.url("/admin/governance/holds"))
            .bearer_auth(&a.token)
            .json(&json!({"caseName": "Every inbound call", "reason": "r", "selector": {"direction": "inbound"}}))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let html = a.get(&ann, &page(1)).await.text().await.unwrap();
    assert!(
        html.contains(
            "Release for every call it covers <span class=\"sr\">hold Every inbound call"
        ),
        "{html}"
    );
    assert!(
        html.contains("Release <span class=\"sr\">hold One call"),
        "{html}"
    );
}

#[tokio::test]
async fn an_agent_is_refused_every_governance_page_and_form() {
    let a = Acme::new().await;
    let bob = a.session("bob").await;
    let html = a.get(&bob, &page(2)).await.text().await.unwrap();
    for hidden in [
        "Legal holds",
        "Audit trail",
        "href=\"/holds\"",
        "href=\"/audit\"",
    ] {
        assert!(!html.contains(hidden), "{hidden}");
    }
    for path in ["/holds", "/audit", "/audit.csv", "/audit?action=play"] {
        let r = a.get(&bob, path).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
        assert!(r.text().await.unwrap().contains("Only an account admin"));
    }
    let csrf = a.csrf(&bob).await;
    let hold = [
        ("csrf", csrf.as_str()),
        ("case_name", "mine"),
        ("reason", "because"),
    ];
    let r = a.post(&bob, &format!("{}/holds", page(2)), &hold).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(api_holds(&a).await.is_empty());

    let ann = a.session("ann").await;
    let admin_csrf = a.csrf(&ann).await;
    let placed = [
        ("csrf", admin_csrf.as_str()),
        ("case_name", "kept"),
        ("reason", "held"),
    ];
    a.post(&ann, &format!("{}/holds", page(2)), &placed).await;
    let release = release_action(&a.get(&ann, "/holds").await.text().await.unwrap());
    let r = a.post(&bob, &release, &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(api_holds(&a).await[0]["active"], true);
}

#[tokio::test]
async fn a_hold_form_without_the_csrf_token_is_refused() {
    let a = Acme::new().await;
    let ann = a.session("ann").await;
    let hold = [("case_name", "Doe v. Acme"), ("reason", "litigation")];
    let r = a.post(&ann, &format!("{}/holds", page(1)), &hold).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let forged = [("csrf", "forged"), ("case_name", "x"), ("reason", "y")];
    let r = a.post(&ann, &format!("{}/holds", page(1)), &forged).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(api_holds(&a).await.is_empty());
}

#[tokio::test]
async fn a_hostile_case_name_is_escaped_on_the_holds_page() {
    let a = Acme::new().await;
    let ann = a.session("ann").await;
    let csrf = a.csrf(&ann).await;
    let hold = [
        ("csrf", csrf.as_str()),
        ("case_name", "<script>alert(1)</script>"),
        ("reason", "<b>bold</b>"),
    ];
    let r = a.post(&ann, &format!("{}/holds", page(1)), &hold).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = a.get(&ann, "/holds").await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(!html.contains("<b>bold"), "{html}");
    assert!(
        html.contains("&#60;script&#62;alert(1)&#60;/script&#62;")
            || html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
}

#[tokio::test]
async fn the_page_shows_the_retention_that_applies() {
    let a = Acme::new().await;
    let policy = json!({"name": "Seven years", "minDays": 2557, "maxDays": 3000, "enabled": true});
    let r =
        a.s.http
            .post(a.s.url("/admin/governance/retention-policies"))
            .bearer_auth(&a.token)
            .json(&policy)
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let ann = a.session("ann").await;
    let html = a.get(&ann, &page(1)).await.text().await.unwrap();
    // The call started 2019-11-20T10:00:00Z; the tenant's zone is UTC.
    for text in [
        "Seven years",
        "minimum 2557 days, maximum 3000 days",
        "2026-11-20 10:00:00 UTC (policy &#39;Seven years&#39;)",
        "2028-02-06 10:00:00 UTC",
    ] {
        assert!(html.contains(text), "{text}: {html}");
    }
}

#[tokio::test]
async fn the_audit_page_lists_a_play_made_in_the_console_by_its_user() {
    let a = Acme::new().await;
    let ann = a.session("ann").await;
    let r = a
        .get(&ann, &format!("/calls/{}/play/callRecording", guid(1)))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    r.bytes().await.unwrap();
    assert!(!a.audited("play", 1).await.is_empty());

    let html = a
        .get(&ann, "/audit?principal=user%3Aann&action=play")
        .await
        .text()
        .await
        .unwrap();
    let row = format!("<td>user:ann</td><td>play</td><td><a href=\"/calls/{0}\">{0}</a></td><td>callRecording</td><td>ok</td>", guid(1));
    assert!(html.contains(&row), "{html}");
    assert!(!html.contains("<td>view</td>"), "filtered to plays: {html}");
    assert!(
        html.contains("href=\"/audit.csv?from=&#38;to=&#38;principal=user%3Aann&#38;action=play\""),
        "{html}"
    );

    let r = a
        .get(&ann, "/audit.csv?principal=user%3Aann&action=play")
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = r.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("seq,at,tenantId,principal"), "{csv}");
    assert!(
        lines.len() >= 2
            && lines[1..]
                .iter()
                .all(|l| l.contains(",user:ann,") && l.contains(",play,")),
        "{csv}"
    );

    let call = a.get(&ann, &page(1)).await.text().await.unwrap();
    assert!(
        call.contains("<td>user:ann</td><td>play</td>"),
        "the call's own trail: {call}"
    );
}

#[tokio::test]
async fn a_bad_audit_filter_says_what_is_wrong() {
    let a = Acme::new().await;
    let ann = a.session("ann").await;
    let r = a.get(&ann, "/audit?from=yesterday").await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("From must be a date like"), "{html}");
}

#[tokio::test]
async fn the_calls_trail_pages_back_from_the_newest_record() {
    let a = Acme::new().await;
    let ann = a.session("ann").await;
    // Each view of the page records a view and a read of its transcript.
    for _ in 0..11 {
        a.get(&ann, &page(1)).await.text().await.unwrap();
    }
    let html = a.get(&ann, &page(1)).await.text().await.unwrap();
    let rows = |html: &str| html.matches("<td>user:ann</td>").count();
    assert_eq!(rows(&html), 20, "a page of the trail");
    let at = html
        .find("?audit_before=")
        .expect("a link to older records");
    let before: i64 = html[at + 14..].split('#').next().unwrap().parse().unwrap();
    let older = a
        .get(&ann, &format!("{}?audit_before={before}", page(1)))
        .await
        .text()
        .await
        .unwrap();
    assert!(rows(&older) >= 2, "{older}");
    let (_, v) = json_of(
        a.s.get(
            &a.token,
            &format!("/admin/audit?interaction={}&limit=1", guid(1)),
        )
        .await,
    )
    .await;
    let oldest = v["records"][0]["seq"].as_i64().unwrap();
    assert!(
        oldest < before,
        "the older page goes back to the first record"
    );
}

#[tokio::test]
async fn a_hold_released_from_the_holds_page_returns_there() {
    let a = Acme::new().await;
    let ann = a.session("ann").await;
    let csrf = a.csrf(&ann).await;
    let hold = [
        ("csrf", csrf.as_str()),
        ("case_name", "Roe v. Acme"),
        ("reason", "subpoena"),
    ];
    a.post(&ann, &format!("{}/holds", page(3)), &hold).await;
    let release = release_action(&a.get(&ann, "/holds").await.text().await.unwrap());
    let r = a.post(&ann, &release, &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/holds");
    let html = a.get(&ann, "/holds").await.text().await.unwrap();
    assert!(
        html.contains("Released ") && html.contains("by user:ann"),
        "{html}"
    );
    assert!(
        !html.contains("action=\"/holds/"),
        "no release button left: {html}"
    );
}
