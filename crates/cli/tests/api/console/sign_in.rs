//! Signing in and out, the session cookie, forms' CSRF checks and the security headers.

use reqwest::StatusCode;

use super::Acme;

#[tokio::test]
async fn signing_in_sets_an_http_only_same_site_session_cookie() {
    let a = Acme::new().await;
    let r = a.sign_in_as("acme", "ann", "ann-password").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/");
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("cv_session=cvat_"), "{cookie}");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=3600"] {
        assert!(cookie.contains(flag), "{flag} missing: {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
}

#[tokio::test]
async fn the_cookie_is_secure_when_the_public_address_is_https() {
    let s = crate::common::TestServer::start_with(|c| {
        c.public_base_url = Some("https://vault.example.com".into())
    })
    .await;
    let a = Acme::on(s).await;
    let r = a
        .web
        .post(a.s.url("/sign-in"))
        .header("Origin", "https://vault.example.com")
        .form(&[
            ("tenant", "acme"),
            ("login", "ann"),
            ("password", "ann-password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let cookie = r.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
}

#[tokio::test]
async fn a_wrong_password_is_refused_with_the_same_words_as_an_unknown_tenant() {
    let a = Acme::new().await;
    let wrong = a.sign_in_as("acme", "ann", "not-her-password").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.headers().get("set-cookie").is_none());
    let wrong = wrong.text().await.unwrap();
    let unknown = a.sign_in_as("nobody", "ann", "ann-password").await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    let unknown = unknown.text().await.unwrap();
    assert!(
        wrong.contains("Wrong tenant, login or password."),
        "{wrong}"
    );
    assert!(
        unknown.contains("Wrong tenant, login or password."),
        "{unknown}"
    );
}

#[tokio::test]
async fn repeated_failed_sign_ins_are_refused_even_with_the_right_password() {
    let a = Acme::new().await;
    for _ in 0..10 {
        let r = a.sign_in_as("acme", "ann", "guess").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    a.sign_in_as("acme", "ann", "guess").await;
    let r = a.sign_in_as("acme", "ann", "ann-password").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    assert!(r.text().await.unwrap().contains("Too many failed sign-ins"));
}

#[tokio::test]
async fn a_failed_sign_in_is_in_the_audit_trail() {
    let a = Acme::new().await;
    a.sign_in_as("acme", "ann", "guess").await;
    let path = "/admin/audit?action=authFailure&principal=user:ann%20via%20console";
    let mut found = Vec::new();
    for _ in 0..50 {
        let (_, v) = crate::common::json_of(a.s.get(&a.token, path).await).await;
        found = v["records"].as_array().unwrap().clone();
        if !found.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(found.len(), 1, "{found:?}");
}

#[tokio::test]
async fn a_sign_in_posted_from_another_site_is_refused() {
    let a = Acme::new().await;
    let r = a
        .web
        .post(a.s.url("/sign-in"))
        .header("Origin", "https://evil.example")
        .form(&[
            ("tenant", "acme"),
            ("login", "ann"),
            ("password", "ann-password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.headers().get("set-cookie").is_none());
}

#[tokio::test]
async fn pages_without_a_session_send_the_browser_to_sign_in() {
    let a = Acme::new().await;
    for path in ["/", "/calls/00000001-0000-4000-8000-000000000000"] {
        let r = a.web.get(a.s.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(r.headers()["location"], "/sign-in", "{path}");
    }
}

#[tokio::test]
async fn signing_out_makes_the_cookie_useless() {
    let a = Acme::new().await;
    let cookie = a.session("ann").await;
    assert_eq!(a.get(&cookie, "/").await.status(), StatusCode::OK);
    let csrf = a.csrf(&cookie).await;
    let r = a.post(&cookie, "/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let after = a.get(&cookie, "/").await;
    assert_eq!(after.status(), StatusCode::SEE_OTHER);
    assert_eq!(after.headers()["location"], "/sign-in");
}

#[tokio::test]
async fn a_form_without_its_csrf_token_is_refused() {
    let a = Acme::new().await;
    let cookie = a.session("ann").await;
    let r = a.post(&cookie, "/sign-out", &[]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        a.get(&cookie, "/").await.status(),
        StatusCode::OK,
        "still signed in"
    );
}

#[tokio::test]
async fn a_form_with_another_sessions_csrf_token_is_refused() {
    let a = Acme::new().await;
    let ann = a.session("ann").await;
    let bob = a.session("bob").await;
    let bobs = a.csrf(&bob).await;
    let r = a.post(&ann, "/sign-out", &[("csrf", &bobs)]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        a.get(&ann, "/").await.status(),
        StatusCode::OK,
        "still signed in"
    );
}

#[tokio::test]
async fn a_form_with_its_token_from_another_origin_is_refused() {
    let a = Acme::new().await;
    let cookie = a.session("ann").await;
    let csrf = a.csrf(&cookie).await;
    let r = a
        .web
        .post(a.s.url("/sign-out"))
        .header("Cookie", &cookie)
        .header("Origin", "https://evil.example")
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn every_page_sends_a_strict_content_security_policy() {
    let a = Acme::new().await;
    let cookie = a.session("ann").await;
    let call = format!("/calls/{}", crate::common::guid(1));
    for path in ["/sign-in", "/", call.as_str(), "/calls/not-a-call"] {
        let r = a.get(&cookie, path).await;
        let h = r.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self';"), "{path}: {csp}");
        assert!(csp.contains("style-src 'self';"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "same-origin", "{path}");
    }
}

#[tokio::test]
async fn no_page_has_inline_script_or_style() {
    let a = Acme::new().await;
    let cookie = a.session("ann").await;
    let call = format!("/calls/{}", crate::common::guid(1));
    for path in ["/", call.as_str()] {
        let html = a.get(&cookie, path).await.text().await.unwrap();
        assert!(!html.contains("<script>"), "{path}");
        assert!(!html.contains("style="), "{path}");
        assert!(!html.contains("<style"), "{path}");
        assert!(!html.contains("cvat_"), "{path}: no token in the page");
    }
}
