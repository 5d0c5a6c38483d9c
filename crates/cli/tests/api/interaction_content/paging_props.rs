//! Property tests: paging returns every matching interaction exactly once, in order, for
//! any data, page size and filter, and keeps doing so while other clients insert.

use std::collections::HashSet;

use crate::common::*;
use callvault_core::{
    Attributes, ContentKey, ContentType, Direction, Guid, InteractionMeta, TenantId,
};
use callvault_services::ingest::ContentUpload;
use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use serde_json::Value;

#[derive(Debug, Clone)]
struct Row {
    minute: u32,
    inbound: bool,
    from: &'static str,
}

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2021, 5, 1, 0, 0, 0).unwrap()
        + chrono::Duration::minutes(i64::from(minute))
}

async fn insert(s: &TestServer, tenant: TenantId, n: u32, row: &Row) -> String {
    let meta = InteractionMeta {
        guid: Guid::parse("g", &guid(n)).unwrap(),
        start: at(row.minute),
        end: None,
        direction: if row.inbound {
            Direction::Inbound
        } else {
            Direction::Outbound
        },
        connect_from: format!("{}{n}", row.from).into(),
        connect_to: "100".into(),
        caller_name: None,
        handling_agents: vec!["1".into()],
        extensions: vec![],
        queue_id: None,
        queue_name: None,
        channel: None,
        attributes: Attributes::default(),
    };
    s.vault.upsert_interaction(tenant, &meta).await.unwrap();
    let upload = ContentUpload {
        media_type: "application/json".into(),
        ..Default::default()
    };
    let body = futures::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"{}"))]);
    s.vault
        .put_content(
            tenant,
            &meta.guid,
            &ContentKey::Type(ContentType::Transcript),
            upload,
            body,
        )
        .await
        .unwrap();
    guid(n)
}

fn rows() -> impl Strategy<Value = Vec<Row>> {
    prop::collection::vec(
        (
            0u32..30,
            any::<bool>(),
            prop::sample::select(vec!["0147", "0148", "4415"]),
        )
            .prop_map(|(minute, inbound, from)| Row {
                minute,
                inbound,
                from,
            }),
        0..30,
    )
}

async fn page_v3(
    s: &TestServer,
    t: &str,
    q: &str,
    token: Option<&str>,
) -> (Vec<String>, Option<String>) {
    let mut url = format!("/interaction-content/interactions?{q}");
    if let Some(tok) = token {
        url.push_str(&format!("&continuationToken={tok}"));
    }
    let (status, body) = json_of(s.get(t, &url).await).await;
    assert_eq!(status, 200, "{body}");
    let ids = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["guid"].as_str().unwrap().to_string())
        .collect();
    (
        ids,
        body["meta"]["nextContinuationToken"]
            .as_str()
            .map(str::to_string),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10, ..ProptestConfig::default() })]

    #[test]
    fn pages_cover_everything_once(data in rows(), limit in 1u32..8, direction in prop::option::of(any::<bool>()), prefix in prop::option::of(prop::sample::select(vec!["014", "0147", "44"])), extra in rows()) {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async move {
            let s = TestServer::start().await;
            let t = s.token("acme", "interaction-content:read").await;
            let tenant = s.store.tenant_by_name("acme").await.unwrap().unwrap().id;
            let mut expected = Vec::new();
            for (n, row) in data.iter().enumerate() {
                let g = insert(&s, tenant, n as u32, row).await;
                let dir_ok = direction.is_none_or(|d| d == row.inbound);
                let prefix_ok = prefix.is_none_or(|p| format!("{}{n}", row.from).starts_with(p));
                if dir_ok && prefix_ok {
                    expected.push((row.minute, n, g));
                }
            }
            expected.sort();
            let expected: Vec<String> = expected.into_iter().map(|(_, _, g)| g).collect();
            let mut q = format!("start={}&end={}&limit={limit}", at(0).to_rfc3339(), at(29).to_rfc3339()).replace('+', "%2B");
            if let Some(d) = direction {
                q.push_str(if d { "&direction=inbound" } else { "&direction=outbound" });
            }
            if let Some(p) = prefix {
                q.push_str(&format!("&connectFrom={p}"));
            }

            // v3 while another client inserts between pages.
            let mut seen = Vec::new();
            let mut token = None;
            let mut pending = extra.iter().enumerate();
            loop {
                let (ids, next) = page_v3(&s, &t, &q, token.as_deref()).await;
                assert!(ids.len() <= limit as usize);
                seen.extend(ids);
                if let Some((k, row)) = pending.next() {
                    insert(&s, tenant, 1000 + k as u32, row).await;
                }
                match next {
                    Some(n) => token = Some(n),
                    None => break,
                }
            }
            let unique: HashSet<&String> = seen.iter().collect();
            assert_eq!(unique.len(), seen.len(), "an item was returned twice");
            let seen_original: Vec<String> = seen.iter().filter(|g| expected.contains(g)).cloned().collect();
            assert_eq!(seen_original, expected, "every original item exactly once, in order");

            // v2 over the now-settled data: pages partition the total.
            let total = {
                let r = s.http.get(s.url(&format!("/interaction-content/interactions?{q}"))).bearer_auth(&t).header("Accept", V2).send().await.unwrap();
                json_of(r).await.1["meta"]["totalCount"].as_u64().unwrap()
            };
            let mut all = Vec::new();
            let mut page = 1;
            loop {
                let r = s.http.get(s.url(&format!("/interaction-content/interactions?{q}&page={page}"))).bearer_auth(&t).header("Accept", V2).send().await.unwrap();
                let (_, body) = json_of(r).await;
                let items = body["items"].as_array().unwrap().clone();
                if items.is_empty() {
                    break;
                }
                all.extend(items.iter().map(|i| i["guid"].clone()));
                page += 1;
            }
            assert_eq!(all.len() as u64, total);
            let unique: HashSet<String> = all.iter().map(Value::to_string).collect();
            assert_eq!(unique.len(), all.len());
        });
    }
}
