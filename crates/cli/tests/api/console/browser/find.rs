//! Every filter of the find page, set through the form in the browser and sent with its
//! Search button: what a person does, not a URL a test writes.

use serde_json::json;

use super::Browser;
use crate::common::{call_body, guid};
use crate::console::Acme;

impl Browser {
    /// Sets a form field by its id, as a person would type or choose it. Date inputs take
    /// their value by script: what typing into one means depends on the browser's locale.
    async fn set(&self, id: &str, value: &str) {
        let script = format!(
            "const e = document.getElementById({}); e.value = {}; return e.value;",
            json!(id),
            json!(value)
        );
        assert_eq!(self.js(&script).await, json!(value), "#{id} takes {value}");
    }
}

/// The form's fields by id with their values, and the calls (by number) then listed.
type Case = (Vec<(&'static str, &'static str)>, Vec<u32>);

#[tokio::test]
async fn each_filter_set_in_the_form_narrows_the_calls() {
    let a = Acme::new().await;
    let mut body = call_body(
        "2019-11-23T10:00:00Z",
        "+15550199",
        "+4930123456",
        "a-4",
        "outbound",
    );
    body["queueId"] = json!("sales");
    a.s.seed_call(&a.token, &guid(4), body, 2000).await;
    let b = Browser::start().await;
    b.sign_in(&a, "ann").await;

    let any = ("period", "any");
    let cases: Vec<Case> = vec![
        (
            vec![
                ("period", "custom"),
                ("from", "2019-11-21"),
                ("to", "2019-11-22"),
            ],
            vec![3, 2],
        ),
        (vec![any, ("agent", "a-3")], vec![3]),
        (vec![any, ("queue", "sales")], vec![4]),
        (vec![any, ("direction", "outbound")], vec![4]),
        (vec![any, ("from_number", "+4420700001")], vec![1]),
        (vec![any, ("to_number", "+4930")], vec![4]),
        (vec![any, ("content", "transcript")], vec![1]),
        (vec![any, ("q", "refund")], vec![1]),
        (vec![any, ("order", "oldest")], vec![1, 2, 3, 4]),
    ];
    for (fields, want) in cases {
        b.c.goto(&a.s.url("/")).await.unwrap();
        for (id, value) in &fields {
            b.set(id, value).await;
        }
        b.click_to_load("form[role='search'] button[type='submit']")
            .await;
        let want: Vec<String> = want.into_iter().map(guid).collect();
        assert_eq!(b.listed().await, want, "{fields:?}");
    }
    b.close().await;
}
