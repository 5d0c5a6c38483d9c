//! The find page: who sees which calls, the filters, words said, paging and escaping.

use reqwest::StatusCode;
use serde_json::json;

use super::Acme;
use crate::common::guid;

/// The interactions a page links to, in order.
fn linked(html: &str) -> Vec<String> {
    html.split("href=\"/calls/")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_string())
        .collect()
}

const ANY_TIME: &str = "/?period=any";

#[tokio::test]
async fn an_agent_finds_only_their_own_recordings() {
    let a = Acme::new().await;
    let bob = a.session("bob").await;
    let html = a.get(&bob, ANY_TIME).await.text().await.unwrap();
    assert_eq!(linked(&html), vec![guid(2)]);
}

#[tokio::test]
async fn an_admin_finds_the_tenants_calls_newest_first() {
    let a = Acme::new().await;
    let ann = a.session("ann").await;
    let html = a.get(&ann, ANY_TIME).await.text().await.unwrap();
    assert_eq!(linked(&html), vec![guid(3), guid(2), guid(1)]);
    let html = a
        .get(&ann, "/?period=any&order=oldest")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(linked(&html), vec![guid(1), guid(2), guid(3)]);
}

#[tokio::test]
async fn the_landing_page_lists_the_last_30_days() {
    let a = Acme::new().await;
    let today = chrono::Utc::now().format("%Y-%m-%dT08:00:00Z").to_string();
    a.call(9, &today, "+4420700009", "a-9", json!({}), 1000)
        .await;
    let ann = a.session("ann").await;
    let r = a.get(&ann, "/").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(linked(&r.text().await.unwrap()), vec![guid(9)]);
}

#[tokio::test]
async fn filters_narrow_by_dates_agent_number_and_content() {
    let a = Acme::new().await;
    let ann = a.session("ann").await;
    let find = |q: &'static str| {
        let a = &a;
        let ann = ann.clone();
        async move { linked(&a.get(&ann, q).await.text().await.unwrap()) }
    };
    assert_eq!(
        find("/?period=custom&from=2019-11-21&to=2019-11-21").await,
        vec![guid(2)]
    );
    assert_eq!(find("/?period=any&agent=a-3").await, vec![guid(3)]);
    assert_eq!(
        find("/?period=any&from_number=%2B4420700001").await,
        vec![guid(1)]
    );
    assert_eq!(find("/?period=any&content=transcript").await, vec![guid(1)]);
    assert_eq!(
        find("/?period=any&direction=outbound").await,
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn a_queue_narrows_to_its_calls() {
    let a = Acme::new().await;
    for (n, queue) in [(4, "sales"), (5, "support")] {
        let mut body = crate::common::call_body(
            "2019-11-23T10:00:00Z",
            "+4420700004",
            "+4420700005",
            "a-4",
            "inbound",
        );
        body["queueId"] = json!(queue);
        a.s.seed_call(&a.token, &guid(n), body, 1000).await;
    }
    let ann = a.session("ann").await;
    let html = a
        .get(&ann, "/?period=any&queue=sales")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(linked(&html), vec![guid(4)]);
    assert!(
        html.contains(r#"name="queue" value="sales""#),
        "the form keeps it"
    );
}

#[tokio::test]
async fn words_said_find_the_call_and_mark_them() {
    let a = Acme::new().await;
    let ann = a.session("ann").await;
    let html = a
        .get(&ann, "/?period=any&q=refund")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(linked(&html), vec![guid(1)]);
    assert!(html.contains("<mark>refund</mark>"), "{html}");
}

#[tokio::test]
async fn a_bad_date_is_explained_not_failed() {
    let a = Acme::new().await;
    let ann = a.session("ann").await;
    let r = a.get(&ann, "/?period=custom&from=yesterday").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("From must be a date like"));
}

#[tokio::test]
async fn pages_go_through_every_call_once() {
    let a = Acme::new().await;
    for n in 10..70 {
        let start = format!("2019-10-01T{:02}:{:02}:00Z", n / 60, n % 60);
        a.call(n, &start, "+4420700100", "a-p", json!({}), 500)
            .await;
    }
    let ann = a.session("ann").await;
    let mut seen = Vec::new();
    let mut next = Some("/?period=any&agent=a-p".to_string());
    let mut pages = 0;
    while let Some(path) = next.take() {
        assert!(pages < 5, "paging does not end");
        let html = a
            .get(&ann, &path.replace("&#38;", "&"))
            .await
            .text()
            .await
            .unwrap();
        seen.extend(linked(&html));
        pages += 1;
        next = html
            .split("rel=\"next\"")
            .next()
            .filter(|_| html.contains("rel=\"next\""))
            .and_then(|before| before.rsplit("href=\"").next())
            .map(|h| h.split('"').next().unwrap().to_string());
    }
    assert_eq!(pages, 2);
    let want: Vec<String> = (10..70).rev().map(guid).collect();
    assert_eq!(seen, want);
}

#[tokio::test]
async fn hostile_metadata_is_escaped() {
    let a = Acme::new().await;
    let mut body = crate::common::call_body(
        "2019-11-23T10:00:00Z",
        "<script>alert(1)</script>",
        "+15550100",
        "a-4",
        "inbound",
    );
    body["callerName"] = json!("\"><img src=x>");
    a.s.seed_call(&a.token, &guid(4), body, 1000).await;
    let ann = a.session("ann").await;
    let html = a.get(&ann, ANY_TIME).await.text().await.unwrap();
    assert!(
        html.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "{html}"
    );
    assert!(!html.contains("<script>alert(1)"));
    let page = a
        .get(&ann, &format!("/calls/{}", guid(4)))
        .await
        .text()
        .await
        .unwrap();
    assert!(!page.contains("<script>alert(1)"));
    assert!(!page.contains("<img src=x>"));
    assert!(page.contains("&#34;&#62;&#60;img src=x&#62;"), "{page}");
}

#[tokio::test]
async fn an_agents_words_search_finds_only_their_own_recordings() {
    let a = Acme::new().await;
    let doc = serde_json::to_vec(&super::transcript_doc()).unwrap();
    let r =
        a.s.put_content(
            &a.token,
            &guid(2),
            "transcript",
            "",
            "application/json",
            doc,
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let bob = a.session("bob").await;
    let html = a
        .get(&bob, "/?period=any&q=refund")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(linked(&html), vec![guid(2)], "not the company call 1");
}
