//! Legal holds in the browser: placed through the call page's form, listed on the Holds
//! page, obeyed by the delete; the Holds and Audit pages at both widths and under axe-core.

use serde_json::json;

use super::{axe_check, axe_source, Browser};
use crate::common::guid;
use crate::console::Acme;

#[tokio::test]
async fn an_admin_places_a_hold_and_then_cannot_delete_the_call() {
    let a = Acme::new().await;
    let b = Browser::start().await;
    b.sign_in(&a, "ann").await;
    b.c.goto(&a.s.url(&format!("/calls/{}", guid(1))))
        .await
        .unwrap();
    b.click("#holds-h ~ details summary").await;
    b.fill("#case_name", "Doe v. Acme").await;
    b.fill("#reason", "Litigation notice of 2026-11-02").await;
    b.click_to_load("#place-hold").await;
    assert!(b.text().await.contains("Litigation notice of 2026-11-02"));

    b.click_to_load("a[href='/holds']").await;
    let listed = b.text().await;
    assert!(
        listed.contains("Doe v. Acme") && listed.contains("Active"),
        "{listed}"
    );

    b.c.goto(&a.s.url(&format!("/calls/{}", guid(1))))
        .await
        .unwrap();
    b.click("#delete-h ~ details summary").await;
    b.click_to_load("#confirm-delete").await;
    let refused = b.text().await;
    assert!(refused.contains("This call cannot be deleted"), "{refused}");
    assert!(
        refused.contains("under legal hold ('Doe v. Acme')"),
        "{refused}"
    );
    assert!(
        refused.contains("Litigation notice of 2026-11-02"),
        "{refused}"
    );
    b.js("document.getElementById('holds-h').scrollIntoView(); return true;")
        .await;
    b.screenshot("interaction-governance-1280").await;

    let axe = axe_source();
    for (width, height) in [(1280, 900), (390, 844)] {
        b.c.set_window_size(width, height).await.unwrap();
        for (name, path) in [("holds", "/holds"), ("audit", "/audit")] {
            b.c.goto(&a.s.url(path)).await.unwrap();
            let overflow = b
                .js("return document.documentElement.scrollWidth - document.documentElement.clientWidth;")
                .await;
            assert_eq!(overflow, json!(0), "{name} at {width} px scrolls sideways");
            b.screenshot(&format!("{name}-{width}")).await;
            if width == 1280 {
                axe_check(&b, &axe, name).await;
            }
        }
    }
    b.close().await;
}
