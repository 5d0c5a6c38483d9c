//! Exports in the browser: a ZIP export started from the find page's form, followed on
//! the Exports page by reloading it until it is ready, and downloaded; the Exports and
//! Export API pages at both widths and under axe-core.

use std::time::Duration;

use serde_json::{json, Value};

use super::{axe_check, axe_source, Browser};
use crate::console::Acme;
use crate::export::{everything, local_storage, schedule, Span};

#[tokio::test]
async fn an_admin_exports_found_calls_downloads_the_zip_and_sees_the_export_api_jobs() {
    let a = Acme::new().await;
    let sid = local_storage(&a.s, &a.token, "console-browser").await;
    let span = Span {
        start_days: 30,
        end_days: Some(2),
    };
    schedule(&a.s, &a.token, &sid, span, everything()).await;

    let b = Browser::start().await;
    b.sign_in(&a, "ann").await;
    b.c.goto(&a.s.url("/?period=any")).await.unwrap();
    b.click_to_load("#export-zip").await;
    assert_eq!(b.path().await, "/exports");
    assert!(b.text().await.contains("Your export has started"));

    let status = "return document.querySelector('#exports tr[data-status]').dataset.status;";
    let mut ready = false;
    for _ in 0..100 {
        if b.js(status).await == json!("complete") {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        b.click_to_load("#refresh").await;
    }
    assert!(ready, "the export completed");
    let text = b.text().await;
    assert!(text.contains("Ready") && text.contains("3 of 3"), "{text}");

    let got = b
        .js_async(
            "const a = document.querySelector('#exports a[download]');
             fetch(a.href)
               .then(r => r.arrayBuffer().then(buf => done({
                 status: r.status,
                 disposition: r.headers.get('content-disposition'),
                 magic: Array.from(new Uint8Array(buf.slice(0, 2))),
                 size: buf.byteLength,
               })))
               .catch(e => done({ failed: String(e) }));",
        )
        .await;
    assert_eq!(got["status"], json!(200), "{got}");
    assert!(
        got["disposition"]
            .as_str()
            .is_some_and(|d| d.starts_with("attachment; filename=\"recordings-")),
        "{got}"
    );
    assert_eq!(got["magic"], json!([0x50, 0x4b]), "a ZIP: {got}");
    assert!(got["size"].as_u64().unwrap() > 3 * 44, "{got}");

    b.click_to_load("a[href='/export-api']").await;
    let text = b.text().await;
    assert!(
        text.contains("nas") && text.contains("Directory on the server"),
        "{text}"
    );

    let axe = axe_source();
    for (width, height) in [(1280, 900), (390, 844)] {
        b.c.set_window_size(width, height).await.unwrap();
        for (name, path) in [("exports", "/exports"), ("export-api", "/export-api")] {
            b.c.goto(&a.s.url(path)).await.unwrap();
            let overflow: Value = b
                .js("return document.documentElement.scrollWidth - document.documentElement.clientWidth;")
                .await;
            assert_eq!(overflow, json!(0), "{name} at {width} px scrolls sideways");
            b.screenshot(&format!("{name}-{width}")).await;
            axe_check(&b, &axe, &format!("{name} at {width} px")).await;
        }
    }
    b.close().await;
}
