//! The token endpoint, token checks, scopes per endpoint and tenant isolation.

use std::time::Duration;

use crate::common::*;
use reqwest::StatusCode;
use serde_json::Value;

type Form = Vec<(&'static str, String)>;

/// A server with an acme client allowed to read and delete: (server, client_id, secret).
async fn a_client() -> (TestServer, String, String) {
    let s = TestServer::start().await;
    let (id, secret) = s
        .tenant_client(
            "acme",
            "interaction-content:read interaction-content:delete",
        )
        .await;
    (s, id, secret)
}

/// Posts `form` to the token endpoint.
async fn token_request(s: &TestServer, form: &Form) -> (StatusCode, Value) {
    json_of(
        s.http
            .post(s.url("/Auth/connect/token"))
            .form(form)
            .send()
            .await
            .unwrap(),
    )
    .await
}

fn cc() -> (&'static str, String) {
    ("grant_type", "client_credentials".to_string())
}

/// Posts each form and checks the status and the OAuth error named.
async fn assert_refused(s: &TestServer, cases: Vec<(Form, StatusCode, &str)>) {
    for (form, want, error) in cases {
        let (status, body) = token_request(s, &form).await;
        assert_eq!(status, want, "{form:?}: {body}");
        assert_eq!(body["error"], error, "{form:?}");
    }
}

#[tokio::test]
async fn http_basic_with_a_narrower_scope_gets_an_uncached_bearer_token() {
    let (s, id, secret) = a_client().await;
    let r = s
        .http
        .post(s.url("/Auth/connect/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "interaction-content:read"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["cache-control"], "no-store");
    let (status, body) = json_of(r).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "interaction-content:read");
    assert!(body["access_token"].as_str().unwrap().len() > 40);
}

#[tokio::test]
async fn a_token_request_without_a_grant_type_is_invalid() {
    let (s, id, secret) = a_client().await;
    let cases: Vec<(Form, StatusCode, &str)> = vec![(
        vec![("client_id", id), ("client_secret", secret)],
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )];
    assert_refused(&s, cases).await;
}

#[tokio::test]
async fn a_grant_other_than_client_credentials_is_unsupported() {
    let (s, _, _) = a_client().await;
    let cases: Vec<(Form, StatusCode, &str)> = vec![(
        vec![("grant_type", "authorization_code".into())],
        StatusCode::BAD_REQUEST,
        "unsupported_grant_type",
    )];
    assert_refused(&s, cases).await;
}

#[tokio::test]
async fn a_missing_unknown_or_wrongly_authenticated_client_is_invalid() {
    let (s, id, secret) = a_client().await;
    let cases: Vec<(Form, StatusCode, &str)> = vec![
        (vec![cc()], StatusCode::UNAUTHORIZED, "invalid_client"),
        (
            vec![cc(), ("client_id", id), ("client_secret", "wrong".into())],
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            vec![
                cc(),
                ("client_id", "nobody".into()),
                ("client_secret", secret),
            ],
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
    ];
    assert_refused(&s, cases).await;
}

#[tokio::test]
async fn a_scope_beyond_the_clients_is_invalid() {
    let (s, id, secret) = a_client().await;
    let cases: Vec<(Form, StatusCode, &str)> = ["admin", "interaction-content:write"]
        .into_iter()
        .map(|scope| {
            let form = vec![
                cc(),
                ("client_id", id.clone()),
                ("client_secret", secret.clone()),
                ("scope", scope.into()),
            ];
            (form, StatusCode::BAD_REQUEST, "invalid_scope")
        })
        .collect();
    assert_refused(&s, cases).await;
}

#[tokio::test]
async fn without_a_scope_the_clients_scopes_are_granted() {
    let (s, id, secret) = a_client().await;
    let (status, body) = token_request(
        &s,
        &vec![cc(), ("client_id", id), ("client_secret", secret)],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["scope"],
        "interaction-content:read interaction-content:delete"
    );
}

#[tokio::test]
async fn bearer_token_rules() {
    let s = TestServer::start().await;
    let path =
        "/interaction-content/interactions?start=2021-01-01T00:00:00Z&end=2021-01-02T00:00:00Z";
    let r = s
        .http
        .get(s.url(path))
        .header("Accept", V3)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    for auth in [
        "Bearer nope",
        "Basic abc",
        "Bearer cvat_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "Bearer",
    ] {
        let r = s
            .http
            .get(s.url(path))
            .header("Authorization", auth)
            .header("Accept", V3)
            .send()
            .await
            .unwrap();
        let (status, body) = json_of(r).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{auth}");
        assert!(body["message"].is_string());
    }
    // A revoked client's tokens stop working at once.
    let (id, secret) = s.tenant_client("acme", "interaction-content:read").await;
    let r = s
        .http
        .post(s.url("/Auth/connect/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let token = json_of(r).await.1["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(s.get(&token, path).await.status(), StatusCode::OK);
    let acme = s.tenant("acme").await.tenant.id;
    s.vault.auth.revoke(acme, &id).await.unwrap();
    assert_eq!(s.get(&token, path).await.status(), StatusCode::UNAUTHORIZED);
    let r = s
        .http
        .post(s.url("/Auth/connect/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn tokens_expire() {
    let s = TestServer::start_with(|c| c.token_ttl = Duration::from_secs(1)).await;
    let t = s.token("acme", "interaction-content:read").await;
    let path =
        "/interaction-content/interactions?start=2021-01-01T00:00:00Z&end=2021-01-02T00:00:00Z";
    assert_eq!(s.get(&t, path).await.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, body) = json_of(s.get(&t, path).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["message"], "The access token has expired");
}

#[tokio::test]
async fn scopes_are_enforced_per_endpoint() {
    let s = TestServer::start().await;
    let writer = s.token("acme", ALL_SCOPES).await;
    s.seed_call(
        &writer,
        &guid(1),
        call_body("2021-01-01T09:00:00Z", "1", "2", "5", "inbound"),
        100,
    )
    .await;
    let read = s.token("acme", "interaction-content:read").await;
    let delete = s.token("acme", "interaction-content:delete").await;
    let g = guid(1);
    let search =
        "/interaction-content/interactions?start=2021-01-01T00:00:00Z&end=2021-01-02T00:00:00Z";
    let content = format!("/interaction-content/interactions/{g}/content/callRecording");
    let one = format!("/interaction-content/interactions/{g}");

    assert_eq!(s.get(&delete, search).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(s.get(&delete, &one).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        s.get(&delete, &content).await.status(),
        StatusCode::FORBIDDEN
    );
    let r = s
        .http
        .delete(s.url(&content))
        .bearer_auth(&read)
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(r).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("interaction-content:delete"));
    assert_eq!(
        s.http
            .delete(s.url(&one))
            .bearer_auth(&read)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
    let r = s
        .put_interaction(
            &read,
            &guid(2),
            call_body("2021-01-01T09:00:00Z", "1", "2", "5", "inbound"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = s
        .put_content(
            &delete,
            &g,
            "transcript",
            "",
            "application/json",
            b"{}".to_vec(),
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(s.get(&read, &content).await.status(), StatusCode::OK);
    assert_eq!(
        s.http
            .delete(s.url(&content))
            .bearer_auth(&delete)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn tenants_are_isolated() {
    let s = TestServer::start().await;
    let a = s.token("acme", ALL_SCOPES).await;
    let b = s.token("globex", ALL_SCOPES).await;
    s.seed_call(
        &a,
        &guid(1),
        call_body("2021-01-01T09:00:00Z", "1", "2", "5", "inbound"),
        100,
    )
    .await;
    let search =
        "/interaction-content/interactions?start=2021-01-01T00:00:00Z&end=2021-01-02T00:00:00Z";
    let (_, body) = json_of(s.get(&b, search).await).await;
    assert_eq!(body["items"], Value::Array(vec![]));
    let one = format!("/interaction-content/interactions/{}", guid(1));
    assert_eq!(s.get(&b, &one).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        s.get(&b, &format!("{one}/content/callRecording"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        s.http
            .delete(s.url(&one))
            .bearer_auth(&b)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    let r = s
        .put_content(
            &b,
            &guid(1),
            "transcript",
            "",
            "application/json",
            b"{}".to_vec(),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // The same GUID may exist in both tenants independently.
    s.seed_call(
        &b,
        &guid(1),
        call_body("2021-01-01T10:00:00Z", "3", "4", "6", "outbound"),
        100,
    )
    .await;
    let (_, body) = json_of(s.get(&a, &one).await).await;
    assert_eq!(body["direction"], "inbound");
    let (_, body) = json_of(s.get(&b, &one).await).await;
    assert_eq!(body["direction"], "outbound");
    assert_eq!(
        s.get(&a, &format!("{one}/content/callRecording"))
            .await
            .status(),
        StatusCode::OK
    );
}
