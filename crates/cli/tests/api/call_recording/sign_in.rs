//! Signing in at `/token`: the password grant, refresh tokens, the vendor's login realm and
//! the budget of failed sign-ins.

use super::*;

/// The refresh grant at `/token` through `client`.
async fn refresh(v: &Vbc, client: &(String, String), token: &str) -> reqwest::Response {
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", token),
        ("client_id", &client.0),
        ("client_secret", &client.1),
    ];
    v.s.http
        .post(v.s.url("/token"))
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// Ann's refresh token from a password grant through the fixture's client.
async fn anns_refresh_token(v: &Vbc) -> String {
    let (status, body) = v.password("ann", "ann-password").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["refresh_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn the_password_grant_issues_a_bearer_token() {
    let v = Vbc::new().await;
    let (status, body) = v.password("ann", "ann-password").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["token_type"], "Bearer");
}

#[tokio::test]
async fn a_wrong_password_or_an_unknown_login_is_an_invalid_grant() {
    let v = Vbc::new().await;
    for (u, p) in [("ann", "wrong-password"), ("nobody", "ann-password")] {
        let (status, body) = v.password(u, p).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant"))
        );
    }
}

#[tokio::test]
async fn refresh_tokens_rotate() {
    let v = Vbc::new().await;
    let old = anns_refresh_token(&v).await;
    let (status, body) = json_of(refresh(&v, &v.client, &old).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body["refresh_token"].as_str().unwrap() != old,
        "refresh tokens rotate"
    );
}

#[tokio::test]
async fn a_refresh_token_works_once() {
    let v = Vbc::new().await;
    let old = anns_refresh_token(&v).await;
    let (status, body) = json_of(refresh(&v, &v.client, &old).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = json_of(refresh(&v, &v.client, &old).await).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a refresh token works once"
    );
}

#[tokio::test]
async fn a_refreshed_access_token_reads_recordings() {
    let v = Vbc::new().await;
    let old = anns_refresh_token(&v).await;
    let (status, body) = json_of(refresh(&v, &v.client, &old).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let fresh = body["access_token"].as_str().unwrap();
    let (status, _) = v
        .get(
            fresh,
            &format!("{P}/accounts/self/users/self/call_recordings"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

/// A refresh token presented by another client is refused and stays usable by its own.
#[tokio::test]
async fn a_refresh_token_presented_by_another_client_is_not_burned() {
    let v = Vbc::new().await;
    let token = anns_refresh_token(&v).await;
    let other = v.s.tenant_client("acme", ALL_SCOPES).await;
    let (status, body) = json_of(refresh(&v, &other, &token).await).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert_eq!(
        refresh(&v, &v.client, &token).await.status(),
        StatusCode::OK,
        "the owner's refresh still works"
    );
}

/// Failed sign-ins are limited per login (and per source): past the budget every attempt
/// is refused with 429 and `Retry-After`, the right password too, while other logins and
/// clients go on.
#[tokio::test]
async fn failed_sign_ins_are_limited_per_login() {
    let v = Vbc::new().await;
    for _ in 0..10 {
        let (status, _) = v.password("ann", "wrong-password").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    let (status, _) = v.password("ann", "wrong-password").await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "the failure that exhausts the budget"
    );
    let r = v.sign_in(&v.client, "ann", "ann-password").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=10).contains(&wait), "{wait}");
    let (status, _) = v.password("boss", "boss-password").await;
    assert_eq!(status, StatusCode::OK, "another login is not locked out");
}

/// The vendor's tutorials sign in as `name@vbc.prod`.
#[tokio::test]
async fn sign_in_accepts_the_vendor_realm_suffix() {
    let v = Vbc::new().await;
    let (status, body) = v.password("ann@vbc.prod", "ann-password").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["access_token"].as_str().unwrap();
    let (status, me) = v
        .get(
            token,
            &format!("{P}/accounts/self/users/self/call_recordings"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{me}");
}

/// Only the vendor's realm is stripped: another realm, or half of a login, names nobody.
#[tokio::test]
async fn sign_in_strips_no_other_realm() {
    let v = Vbc::new().await;
    for login in ["ann@vbc.qa", "ann@", "@vbc.prod"] {
        let (status, body) = v.password(login, "ann-password").await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant")),
            "{login}"
        );
    }
}
