//! `GET /interactions`: every parameter and rule of `001`.

use crate::common::*;
use reqwest::StatusCode;
use serde_json::Value;

const WINDOW: &str = "start=2021-02-01T00:00:00Z&end=2021-02-07T23:59:59Z";

async fn seeded() -> (TestServer, String) {
    let s = TestServer::start().await;
    let t = s.token("acme", ALL_SCOPES).await;
    s.seed_call(
        &t,
        &guid(1),
        call_body(
            "2021-02-01T09:00:00Z",
            "01473111222",
            "33890022",
            "1342",
            "inbound",
        ),
        300,
    )
    .await;
    s.seed_call(
        &t,
        &guid(2),
        call_body(
            "2021-02-02T10:00:00Z",
            "14154204204",
            "22222",
            "1342",
            "outbound",
        ),
        300,
    )
    .await;
    s.seed_call(
        &t,
        &guid(3),
        call_body(
            "2021-02-03T11:00:00Z",
            "01473999888",
            "33890099",
            "77",
            "inbound",
        ),
        300,
    )
    .await;
    // An interaction without content never appears in search.
    let r = s
        .put_interaction(
            &t,
            &guid(4),
            call_body("2021-02-03T12:00:00Z", "1", "2", "1", "inbound"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    (s, t)
}

async fn guids(s: &TestServer, t: &str, query: &str) -> Vec<String> {
    let (status, body) = json_of(
        s.get(t, &format!("/interaction-content/interactions?{query}"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["guid"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn filters_and_shape() {
    let (s, t) = seeded().await;
    assert_eq!(guids(&s, &t, WINDOW).await, vec![guid(1), guid(2), guid(3)]);
    assert_eq!(
        guids(&s, &t, &format!("{WINDOW}&direction=outbound")).await,
        vec![guid(2)]
    );
    assert_eq!(
        guids(&s, &t, &format!("{WINDOW}&handlingAgentId=77")).await,
        vec![guid(3)]
    );
    // Starts-with, and case-insensitive parameter names as in the seed's own example.
    assert_eq!(
        guids(&s, &t, &format!("{WINDOW}&connectfrom=01473")).await,
        vec![guid(1), guid(3)]
    );
    assert_eq!(
        guids(&s, &t, &format!("{WINDOW}&connectTo=3389002")).await,
        vec![guid(1)]
    );
    // Both ends inclusive.
    assert_eq!(
        guids(
            &s,
            &t,
            "start=2021-02-01T09:00:00Z&end=2021-02-02T10:00:00Z"
        )
        .await,
        vec![guid(1), guid(2)]
    );

    let (_, body) = json_of(
        s.get(
            &t,
            &format!("/interaction-content/interactions?{WINDOW}&direction=outbound"),
        )
        .await,
    )
    .await;
    let item = &body["items"][0];
    assert_eq!(item["start"], "2021-02-02T10:00:00Z");
    assert_eq!(item["connectFrom"], Value::from(14154204204u64));
    assert_eq!(item["connectTo"], Value::from(22222));
    assert_eq!(item["direction"], "outbound");
    assert_eq!(item["handlingAgents"][0]["id"], "1342");
    let c = &item["content"][0];
    assert_eq!(c["contentKey"], "callRecording");
    assert_eq!(c["type"], "callRecording");
    assert_eq!(c["contentType"], "audio/wav");
    assert_eq!(c["contentLength"], Value::from(44 + 2400 * 2));
    assert_eq!(c["properties"]["duration"]["value"], 300);
    assert!(c["lastModified"].as_str().unwrap().ends_with('Z'));
    assert!(body["meta"]["nextContinuationToken"].is_null());
    // Leading zeros are kept by writing the address as a string.
    let (_, body) = json_of(
        s.get(
            &t,
            &format!("/interaction-content/interactions?{WINDOW}&connectFrom=01473"),
        )
        .await,
    )
    .await;
    assert_eq!(body["items"][0]["connectFrom"], "01473111222");
}

#[tokio::test]
async fn continuation_tokens_page_through_everything_once() {
    let (s, t) = seeded().await;
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut q = format!("{WINDOW}&limit=1");
        if let Some(tok) = &token {
            q.push_str(&format!("&continuationToken={}", urlencode(tok)));
        }
        let (status, body) = json_of(
            s.get(&t, &format!("/interaction-content/interactions?{q}"))
                .await,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        for i in body["items"].as_array().unwrap() {
            seen.push(i["guid"].as_str().unwrap().to_string());
        }
        match body["meta"]["nextContinuationToken"].as_str() {
            Some(next) => token = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, vec![guid(1), guid(2), guid(3)]);
    // A token is bound to its search: another filter rejects it.
    let (_, body) = json_of(
        s.get(
            &t,
            &format!("/interaction-content/interactions?{WINDOW}&limit=1"),
        )
        .await,
    )
    .await;
    let tok = body["meta"]["nextContinuationToken"]
        .as_str()
        .unwrap()
        .to_string();
    let r = s
        .get(
            &t,
            &format!(
                "/interaction-content/interactions?{WINDOW}&direction=inbound&continuationToken={}",
                urlencode(&tok)
            ),
        )
        .await;
    let (status, body) = json_of(r).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["field"], "continuationToken");
}

#[tokio::test]
async fn v2_pages_with_counts() {
    let (s, t) = seeded().await;
    let get = |q: String| {
        let s = &s;
        let t = &t;
        async move {
            let r = s
                .http
                .get(s.url(&format!("/interaction-content/interactions?{q}")))
                .bearer_auth(t)
                .header("Accept", V2)
                .send()
                .await
                .unwrap();
            json_of(r).await
        }
    };
    let (status, body) = get(format!("{WINDOW}&limit=2&page=2")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["items"].as_array().unwrap().len(), 1);
    assert_eq!(body["items"][0]["guid"], guid(3));
    assert_eq!(body["meta"]["page"], 2);
    assert_eq!(body["meta"]["count"], 1);
    assert_eq!(body["meta"]["pageCount"], 2);
    assert_eq!(body["meta"]["totalCount"], 3);
    let (_, body) = get(format!("{WINDOW}&limit=2&page=9")).await;
    assert_eq!(body["items"].as_array().unwrap().len(), 0);
    let (status, body) = get(format!("{WINDOW}&page=0")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["field"], "page");
}

#[tokio::test]
async fn every_bad_parameter_is_a_named_400() {
    let (s, t) = seeded().await;
    let cases = [
        ("end=2021-02-02T00:00:00Z", "start"),
        ("start=2021-02-01T00:00:00Z", "end"),
        ("start=yesterday&end=2021-02-02T00:00:00Z", "start"),
        ("start=2021-02-01T00:00:00Z&end=2021-02-31T00:00:00Z", "end"),
        ("start=2021-02-01T00:00:00Z&end=2021-02-08T00:00:01Z", "end"),
        ("start=2021-02-02T00:00:00Z&end=2021-02-01T00:00:00Z", "end"),
        (
            "start=2021-02-01T00:00:00Z&end=2021-02-02T00:00:00Z&limit=0",
            "limit",
        ),
        (
            "start=2021-02-01T00:00:00Z&end=2021-02-02T00:00:00Z&limit=1001",
            "limit",
        ),
        (
            "start=2021-02-01T00:00:00Z&end=2021-02-02T00:00:00Z&limit=x",
            "limit",
        ),
        (
            "start=2021-02-01T00:00:00Z&end=2021-02-02T00:00:00Z&direction=sideways",
            "direction",
        ),
        (
            "start=2021-02-01T00:00:00Z&end=2021-02-02T00:00:00Z&connectFrom=",
            "connectFrom",
        ),
        (
            "start=2021-02-01T00:00:00Z&end=2021-02-02T00:00:00Z&continuationToken=abc",
            "continuationToken",
        ),
    ];
    let long = "1".repeat(51);
    let long_case = format!("start=2021-02-01T00:00:00Z&end=2021-02-02T00:00:00Z&connectTo={long}");
    for (q, field) in cases
        .iter()
        .map(|(q, f)| (q.to_string(), *f))
        .chain([(long_case, "connectTo")])
    {
        let (status, body) = json_of(
            s.get(&t, &format!("/interaction-content/interactions?{q}"))
                .await,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{q}: {body}");
        assert_eq!(body["field"], field, "{q}: {body}");
        assert!(body["message"].as_str().unwrap().len() > 5);
    }
    // Seven days exactly is allowed.
    let (status, _) = json_of(
        s.get(
            &t,
            "/interaction-content/interactions?start=2021-02-01T00:00:00Z&end=2021-02-08T00:00:00Z",
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn accept_version_is_required() {
    let (s, t) = seeded().await;
    for accept in [
        None,
        Some("application/json"),
        Some("application/vnd.newvoicemedia.v9+json"),
    ] {
        let mut req = s
            .http
            .get(s.url(&format!("/interaction-content/interactions?{WINDOW}")))
            .bearer_auth(&t);
        if let Some(a) = accept {
            req = req.header("Accept", a);
        }
        let (status, body) = json_of(req.send().await.unwrap()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .starts_with("Invalid api-version! Valid values: "),
            "{body}"
        );
    }
}

/// `page` is an int32 in the document; the server refuses what the document calls invalid.
#[tokio::test]
async fn a_page_beyond_int32_is_refused() {
    let s = TestServer::start().await;
    let t = s.token("acme", ALL_SCOPES).await;
    let window = "start=2021-03-01T00:00:00Z&end=2021-03-07T00:00:00Z";
    for (page, want) in [
        ("2147483647", StatusCode::OK),
        ("2147483648", StatusCode::BAD_REQUEST),
    ] {
        let r = s
            .http
            .get(s.url(&format!(
                "/interaction-content/interactions?{window}&page={page}"
            )))
            .bearer_auth(&t)
            .header("Accept", V2)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), want, "page={page}");
        let r = s
            .http
            .get(s.url(&format!(
                "/interaction-content-export/interactions/jobs?page={page}"
            )))
            .bearer_auth(&t)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), want, "export jobs page={page}");
    }
}
