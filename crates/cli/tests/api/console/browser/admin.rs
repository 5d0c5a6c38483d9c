//! The administration pages in the browser: an API client created through the form, its
//! secret shown once and working at the token endpoint; the pages at both widths and
//! under axe-core.

use fantoccini::Locator;
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{axe_check, axe_source, Browser};
use crate::console::Acme;

impl Browser {
    async fn text_of(&self, css: &str) -> String {
        let e = self.c.find(Locator::Css(css)).await.unwrap();
        e.text().await.unwrap()
    }

    async fn sideways(&self) -> Value {
        self.js(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
        )
        .await
    }
}

#[tokio::test]
async fn an_admin_creates_a_client_through_the_form() {
    let a = Acme::new().await;
    let b = Browser::start().await;
    let axe = axe_source();
    b.sign_in(&a, "ann").await;
    b.click_to_load("header nav a[href='/clients']").await;
    b.js("document.getElementById('new-client-h').scrollIntoView(); return true;")
        .await;
    b.screenshot("client-form-1280").await;
    b.fill("#name", "recorder sync").await;
    b.click("input[value='interaction-content:read']").await;
    b.click("input[value='callvault:audit']").await;
    b.click_to_load("#create-client").await;
    assert_eq!(b.path().await, "/clients", "no secret in the URL");
    let id = b.text_of("#client-id").await;
    let secret = b.text_of("#client-secret").await;
    let r =
        a.s.http
            .post(a.s.url("/Auth/connect/token"))
            .basic_auth(&id, Some(&secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["scope"], "interaction-content:read callvault:audit");
    axe_check(&b, &axe, "client-created").await;
    b.screenshot("client-created-1280").await;
    b.c.set_window_size(390, 844).await.unwrap();
    assert_eq!(b.sideways().await, json!(0), "the secret wraps at 390 px");
    b.screenshot("client-created-390").await;

    b.c.set_window_size(1280, 900).await.unwrap();
    b.click_to_load("a[href='/clients'][aria-current='page']")
        .await;
    let listed = b.text().await;
    assert!(
        listed.contains("recorder sync") && listed.contains(&id),
        "{listed}"
    );
    assert!(!listed.contains(&secret), "shown once");

    for (width, height) in [(1280, 900), (390, 844)] {
        b.c.set_window_size(width, height).await.unwrap();
        for (name, path) in [
            ("clients", "/clients"),
            ("users", "/users"),
            ("api-token", "/api-token"),
        ] {
            b.c.goto(&a.s.url(path)).await.unwrap();
            if name == "clients" {
                b.click("details.manage summary").await;
            }
            assert_eq!(
                b.sideways().await,
                json!(0),
                "{name} at {width} px scrolls sideways"
            );
            b.screenshot(&format!("{name}-{width}")).await;
            if width == 1280 {
                axe_check(&b, &axe, name).await;
            }
        }
    }
    b.close().await;
}
