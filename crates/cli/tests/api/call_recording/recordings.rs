//! Company recordings: the HAL listing, its filters and paging, and path ids.

use super::*;

/// Five calls on 1–5 January 2019, call `n` lasting `n` seconds; call 2 is outbound.
async fn five_calls() -> Vbc {
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
    v
}

fn company(query: &str) -> String {
    format!("{P}/accounts/self/company_call_recordings?{query}")
}

/// Each query lists exactly `want`, in that order.
async fn assert_lists(v: &Vbc, queries: &[(&str, Vec<i64>)]) {
    for (query, want) in queries {
        let (status, page) = v.get(&v.admin, &company(query)).await;
        assert_eq!(status, StatusCode::OK, "{query}: {page}");
        assert_eq!(&ids(&page, "recordings"), want, "{query}");
    }
}

#[tokio::test]
async fn lists_newest_first_in_one_page_of_ten_by_default() {
    let v = five_calls().await;
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
}

#[tokio::test]
async fn a_listed_recording_carries_its_links_and_the_calls_fields() {
    let v = five_calls().await;
    let (status, page) = v
        .get(
            &v.admin,
            &format!("{P}/accounts/self/company_call_recordings"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
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
}

#[tokio::test]
async fn filters_by_direction_in_either_order() {
    let v = five_calls().await;
    assert_lists(
        &v,
        &[
            ("call_direction=OUTBOUND", vec![2]),
            ("call_direction=INBOUND&order=start:ASC", vec![1, 3, 4, 5]),
        ],
    )
    .await;
}

#[tokio::test]
async fn filters_by_a_duration_range() {
    let v = five_calls().await;
    assert_lists(
        &v,
        &[("duration:gte=2000&duration:lte=4000", vec![4, 3, 2])],
    )
    .await;
}

/// Start bounds take an offset or `Z`, the `+` of an offset escaped or not.
#[tokio::test]
async fn filters_by_a_start_range() {
    let v = five_calls().await;
    assert_lists(
        &v,
        &[
            (
                "start:gte=2019-01-03T00:00:00+0000&start:lte=2019-01-04T23:00:00Z",
                vec![4, 3],
            ),
            ("start:gte=2019-01-03T00:00:00%2B0000", vec![5, 4, 3]),
        ],
    )
    .await;
}

#[tokio::test]
async fn filters_by_extension_caller_id_cnam_and_dnis() {
    let v = five_calls().await;
    assert_lists(
        &v,
        &[
            (
                "extension=999&caller_id=17325550100&cnam=JOHN%20SMITH&dnis=17325550199&order=asc",
                vec![1, 2, 3, 4, 5],
            ),
            ("extension=1000", vec![]),
        ],
    )
    .await;
}

#[tokio::test]
async fn filters_by_call_id() {
    let v = five_calls().await;
    assert_lists(&v, &[(&format!("call_id={}", guid(3)), vec![3])]).await;
}

/// Pages of two cover everything once, with links that keep the filters.
#[tokio::test]
async fn paging_links_walk_every_recording_once() {
    let v = five_calls().await;
    let mut seen = Vec::new();
    let mut next = Some(format!(
        "{}{}",
        v.s.base,
        company("order=start:ASC&page_size=2")
    ));
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
}

#[tokio::test]
async fn the_last_page_links_back_and_not_on() {
    let v = five_calls().await;
    let (_, last) = v.get(&v.admin, &company("page=3&page_size=2")).await;
    assert!(last["_links"]["next"].is_null() && last["_links"]["prev"].is_object());
}

#[tokio::test]
async fn the_long_prefix_works_and_its_links_keep_it() {
    let v = five_calls().await;
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
}

#[tokio::test]
async fn a_bad_query_value_is_refused_naming_its_field() {
    let v = Vbc::new().await;
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
        let (status, body) = v.get(&v.admin, &company(query)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(body["field"], field, "{query}: {body}");
    }
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
        let (status, page) = v.get(&v.admin, &company(q)).await;
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
