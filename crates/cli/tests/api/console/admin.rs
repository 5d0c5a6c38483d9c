//! The administrator's pages: API clients (created with chosen scopes, the secret shown
//! once; a new secret; revoked), users, and the Recordings API token; each checked where
//! it is used (the token endpoint, the console's sign-in, the Recordings files API), and
//! refused to agents, to forms without their token, and for another tenant's clients.

use reqwest::{Response, StatusCode};
use serde_json::Value;

use super::Acme;
use crate::common::json_of;

const READ_AUDIT: [&str; 2] = ["interaction-content:read", "callvault:audit"];

/// The text of the element with `id` on a page (a `<code>` or `<dd>` without markup).
fn by_id(html: &str, id: &str) -> String {
    let open = format!("id=\"{id}\">");
    let at = html
        .find(&open)
        .unwrap_or_else(|| panic!("no #{id}: {html}"))
        + open.len();
    html[at..].split('<').next().unwrap().to_string()
}

/// A page that shows a secret: 200, never stored by a cache.
async fn shown_once(r: Response) -> String {
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert!(r.headers().get("location").is_none());
    r.text().await.unwrap()
}

/// A token request with HTTP Basic credentials and an optional `scope`.
async fn token(a: &Acme, id: &str, secret: &str, scope: Option<&str>) -> (StatusCode, Value) {
    let mut form = vec![("grant_type", "client_credentials")];
    if let Some(s) = scope {
        form.push(("scope", s));
    }
    let r =
        a.s.http
            .post(a.s.url("/Auth/connect/token"))
            .basic_auth(id, Some(secret))
            .form(&form)
            .send()
            .await
            .unwrap();
    json_of(r).await
}

impl Acme {
    async fn acme(&self) -> callvault_core::TenantId {
        self.s.tenant("acme").await.tenant.id
    }

    /// Creates a client through the form; answers its id and secret as the page shows them.
    async fn new_client(&self, cookie: &str, name: &str, scopes: &[&str]) -> (String, String) {
        let csrf = self.csrf(cookie).await;
        let mut form = vec![("csrf", csrf.as_str()), ("name", name)];
        form.extend(scopes.iter().map(|s| ("scope", *s)));
        let html = shown_once(self.post(cookie, "/clients", &form).await).await;
        (by_id(&html, "client-id"), by_id(&html, "client-secret"))
    }

    async fn recordings_files(&self, token: &str) -> StatusCode {
        self.s
            .http
            .get(self.s.url("/api/recordings/files"))
            .basic_auth("acme", Some(token))
            .send()
            .await
            .unwrap()
            .status()
    }
}

#[tokio::test]
async fn a_created_clients_secret_gets_tokens_of_exactly_its_scopes() {
    let a = Acme::new().await;
    let ann = a.session("ann").await;
    let page = a.get(&ann, "/clients").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    for scope in callvault_core::Scope::ALL {
        assert!(html.contains(&format!("value=\"{scope}\"")), "{scope}");
    }

    let (id, secret) = a.new_client(&ann, "recorder sync", &READ_AUDIT).await;
    assert!(id.starts_with("cvc_") && secret.starts_with("cvcs_"));
    let (status, body) = token(&a, &id, &secret, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["scope"], "interaction-content:read callvault:audit");
    let bearer = body["access_token"].as_str().unwrap();
    let (status, _) = json_of(a.s.get(bearer, "/admin/audit").await).await;
    assert_eq!(status, StatusCode::OK, "callvault:audit works");
    let (status, _) = json_of(a.s.get(bearer, "/admin/governance/holds").await).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no scope it was not given");
    let (status, body) = token(&a, &id, &secret, Some("interaction-content:delete")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_scope");

    // Listed with its name, id and scopes; the secret is never shown again.
    let html = a.get(&ann, "/clients").await.text().await.unwrap();
    for shown in [
        "recorder sync",
        id.as_str(),
        "interaction-content:read callvault:audit",
    ] {
        assert!(html.contains(shown), "{shown}: {html}");
    }
    assert!(!html.contains(&secret));
    assert!(html.contains("Active"));

    // A form the services refuse comes back with the reason and what was typed.
    let csrf = a.csrf(&ann).await;
    let r = a
        .post(&ann, "/clients", &[("csrf", &csrf), ("name", "no scopes")])
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let html = r.text().await.unwrap();
    assert!(html.contains("a client needs at least one scope"), "{html}");
    assert!(html.contains("value=\"no scopes\""), "{html}");
    let r = a
        .post(
            &ann,
            "/clients",
            &[("csrf", &csrf), ("name", " "), ("scope", READ_AUDIT[0])],
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let html = r.text().await.unwrap();
    assert!(html.contains("1 to 128 printable characters"), "{html}");
    assert!(
        html.contains("value=\"interaction-content:read\" checked"),
        "the ticked scope stays ticked: {html}"
    );
    let forged = [("csrf", csrf.as_str()), ("name", "x"), ("scope", "root")];
    let r = a.post(&ann, "/clients", &forged).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let clients = a.s.vault.list_clients(a.acme().await).await.unwrap();
    assert_eq!(
        clients.iter().filter(|c| c.name != "test").count(),
        2,
        "recorder sync and the console's own, nothing from refused forms: {clients:?}"
    );
}

#[tokio::test]
async fn a_new_secret_replaces_the_old_and_revoking_ends_the_client() {
    let a = Acme::new().await;
    let ann = a.session("ann").await;
    let (id, old) = a.new_client(&ann, "crm", &READ_AUDIT).await;
    let (status, body) = token(&a, &id, &old, None).await;
    assert_eq!(status, StatusCode::OK);
    let issued = body["access_token"].as_str().unwrap().to_string();

    let csrf = a.csrf(&ann).await;
    let rotate = format!("/clients/{id}/rotate");
    let html = shown_once(a.post(&ann, &rotate, &[("csrf", &csrf)]).await).await;
    assert_eq!(by_id(&html, "client-id"), id);
    let new = by_id(&html, "client-secret");
    assert!(new.starts_with("cvcs_") && new != old);
    assert!(html.contains("New secret for crm"), "{html}");
    assert_eq!(token(&a, &id, &old, None).await.0, StatusCode::UNAUTHORIZED);
    let (status, body) = token(&a, &id, &new, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["scope"], "interaction-content:read callvault:audit");
    assert_eq!(
        a.s.get(&issued, "/admin/audit").await.status(),
        StatusCode::OK,
        "a token issued before stays valid until it expires"
    );

    let r = a
        .post(&ann, &format!("/clients/{id}/revoke"), &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/clients");
    assert_eq!(token(&a, &id, &new, None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        a.s.get(&issued, "/admin/audit").await.status(),
        StatusCode::UNAUTHORIZED,
        "its tokens end with it"
    );
    let html = a.get(&ann, "/clients").await.text().await.unwrap();
    assert!(html.contains("Revoked "), "{html}");
    assert!(!html.contains(&format!("/clients/{id}/rotate")), "{html}");
    for path in [rotate, format!("/clients/{id}/revoke")] {
        let r = a.post(&ann, &path, &[("csrf", &csrf)]).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path} once revoked");
    }
}

#[tokio::test]
async fn another_tenants_client_and_the_consoles_own_are_not_found() {
    let a = Acme::new().await;
    let ann = a.session("ann").await;
    let csrf = a.csrf(&ann).await;
    let (theirs, their_secret) = a.s.tenant_client("globex", "callvault:audit").await;
    let console = callvault_services::console::console_client_id(a.acme().await);

    let html = a.get(&ann, "/clients").await.text().await.unwrap();
    assert!(
        !html.contains(&console),
        "the console's client is not listed"
    );
    assert!(!html.contains(&theirs));

    let unknown = "cvc_000000000000000000000000";
    let mut answers = Vec::new();
    for id in [unknown, theirs.as_str(), console.as_str()] {
        for action in ["rotate", "revoke"] {
            let path = format!("/clients/{id}/{action}");
            let r = a.post(&ann, &path, &[("csrf", &csrf)]).await;
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
            answers.push(r.text().await.unwrap());
        }
    }
    assert!(answers[0].contains("There is no such active API client."));
    assert!(
        answers.iter().all(|a| *a == answers[0]),
        "one answer for all"
    );
    assert_eq!(
        token(&a, &theirs, &their_secret, None).await.0,
        StatusCode::OK,
        "the other tenant's client still works"
    );
    assert_eq!(
        a.get(&ann, "/clients").await.status(),
        StatusCode::OK,
        "the console's sessions go on"
    );
    let fresh = a.sign_in_as("acme", "bob", "bob-password").await;
    assert_eq!(
        fresh.status(),
        StatusCode::SEE_OTHER,
        "and it still signs people in"
    );
}

/// What refused forms must leave as it was: ann's session, a client `crm` and its secret,
/// the tenant's Recordings API token.
struct Before {
    ann: String,
    id: String,
    secret: String,
    api_token: String,
}

impl Acme {
    async fn before(&self) -> Before {
        let ann = self.session("ann").await;
        let (id, secret) = self.new_client(&ann, "crm", &READ_AUDIT).await;
        let tenant = self.acme().await;
        let api_token = self
            .s
            .vault
            .auth
            .new_tenant_api_token(tenant)
            .await
            .unwrap();
        Before {
            ann,
            id,
            secret,
            api_token,
        }
    }

    /// The client still has its secret, the tenant's token still works, no user `login`
    /// exists, and no client was added besides the test's, `crm` and the console's.
    async fn nothing_changed(&self, b: &Before, login: &str) {
        assert_eq!(token(self, &b.id, &b.secret, None).await.0, StatusCode::OK);
        assert_eq!(self.recordings_files(&b.api_token).await, StatusCode::OK);
        let tenant = self.acme().await;
        let users = self.s.vault.list_users(tenant).await.unwrap();
        assert!(users.iter().all(|u| u.login != login), "{users:?}");
        let clients = self.s.vault.list_clients(tenant).await.unwrap();
        assert_eq!(
            clients.iter().filter(|c| c.name != "test").count(),
            2,
            "{clients:?}"
        );
    }
}

/// Every admin form with the fields (but the form token) that would make it change
/// something: a new client, `client`'s new secret and its revocation, an admin user
/// `login`, a new Recordings API token.
fn admin_forms(
    client: &str,
    login: &'static str,
) -> Vec<(String, Vec<(&'static str, &'static str)>)> {
    vec![
        (
            "/clients".into(),
            vec![("name", "mine"), ("scope", "callvault:tenant-admin")],
        ),
        (format!("/clients/{client}/rotate"), vec![]),
        (format!("/clients/{client}/revoke"), vec![]),
        (
            "/users".into(),
            vec![
                ("login", login),
                ("password", "long-enough"),
                ("role", "admin"),
            ],
        ),
        ("/api-token".into(), vec![]),
    ]
}

#[tokio::test]
async fn an_agent_is_refused_every_admin_page_and_form() {
    let a = Acme::new().await;
    let before = a.before().await;
    let bob = a.session("bob").await;
    let html = a.get(&bob, "/").await.text().await.unwrap();
    assert!(
        !html.contains("href=\"/clients\""),
        "no Admin link for agents"
    );
    let html = a.get(&before.ann, "/").await.text().await.unwrap();
    assert!(
        html.contains("href=\"/clients\""),
        "an Admin link for admins"
    );
    for path in ["/clients", "/users", "/api-token"] {
        let r = a.get(&bob, path).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
        assert!(r.text().await.unwrap().contains("Only an account admin"));
    }
    let csrf = a.csrf(&bob).await;
    for (path, fields) in admin_forms(&before.id, "bobby") {
        let mut form = vec![("csrf", csrf.as_str())];
        form.extend(fields);
        let r = a.post(&bob, &path, &form).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
        let html = r.text().await.unwrap();
        assert!(html.contains("Only an account admin"), "{path}: {html}");
        assert!(!html.contains("cvcs_") && !html.contains("cvtt_"), "{path}");
    }
    a.nothing_changed(&before, "bobby").await;
}

#[tokio::test]
async fn admin_forms_without_their_token_are_refused() {
    let a = Acme::new().await;
    let before = a.before().await;
    for csrf in [None, Some("forged")] {
        for (path, mut form) in admin_forms(&before.id, "mallory") {
            form.extend(csrf.map(|t| ("csrf", t)));
            let r = a.post(&before.ann, &path, &form).await;
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path} with {csrf:?}");
            let html = r.text().await.unwrap();
            assert!(html.contains("This form has expired"), "{path}: {html}");
        }
    }
    // The right token from another site is refused too.
    let csrf = a.csrf(&before.ann).await;
    let r = a
        .web
        .post(a.s.url("/api-token"))
        .header("Cookie", &before.ann)
        .header("Origin", "https://evil.example")
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    a.nothing_changed(&before, "mallory").await;
}

#[tokio::test]
async fn a_user_created_by_the_admin_signs_in_with_their_role() {
    let a = Acme::new().await;
    a.s.tenant("globex").await.user("zoe", true).await;
    let ann = a.session("ann").await;
    let csrf = a.csrf(&ann).await;

    let html = a.get(&ann, "/users").await.text().await.unwrap();
    for login in ["ann", "bob", "cy"] {
        assert!(
            html.contains(&format!("<td>{login}</td>")),
            "{login}: {html}"
        );
    }
    assert!(!html.contains("zoe"), "another tenant's user: {html}");

    let new = [
        ("csrf", csrf.as_str()),
        ("login", "dee"),
        ("password", "dee-password"),
    ];
    let r = a.post(&ann, "/users", &new).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = r.headers()["location"].to_str().unwrap().to_string();
    assert!(to.starts_with("/users?created="), "{to}");
    assert!(!to.contains("password"));
    let html = a.get(&ann, &to).await.text().await.unwrap();
    assert!(html.contains("User dee was created"), "{html}");
    assert!(html.contains("<td>dee</td>"), "{html}");
    // Signs in (the test users' password is `{login}-password`).
    let dee = a.session("dee").await;
    let home = a.get(&dee, "/").await.text().await.unwrap();
    assert!(
        home.contains("dee <span class=\"role\">(agent)</span>"),
        "{home}"
    );
    assert_eq!(
        a.get(&dee, "/clients").await.status(),
        StatusCode::FORBIDDEN
    );

    let admin = [
        ("csrf", csrf.as_str()),
        ("login", "eve"),
        ("password", "eve-password"),
        ("id", "agent-7"),
        ("role", "admin"),
    ];
    let r = a.post(&ann, "/users", &admin).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/users?created=agent-7");
    let eve = a.session("eve").await;
    assert_eq!(a.get(&eve, "/clients").await.status(), StatusCode::OK);
    let html = a.get(&ann, "/users").await.text().await.unwrap();
    assert!(
        html.contains("<td>eve</td><td><code>agent-7</code></td><td>admin</td>"),
        "{html}"
    );

    // The services' rules, said on the form, which keeps what was typed but the password.
    let short = [
        ("csrf", csrf.as_str()),
        ("login", "fay"),
        ("password", "short"),
    ];
    let r = a.post(&ann, "/users", &short).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("password must be at least 8 characters"),
        "{html}"
    );
    assert!(html.contains("value=\"fay\""), "{html}");
    assert!(!html.contains("short\""), "{html}");
    let taken = [
        ("csrf", csrf.as_str()),
        ("login", "dee"),
        ("password", "another-pass"),
    ];
    let r = a.post(&ann, "/users", &taken).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("login &#39;dee&#39; is taken"));
}

#[tokio::test]
async fn a_new_recordings_api_token_works_and_the_old_one_does_not() {
    let a = Acme::new().await;
    let ann = a.session("ann").await;
    let html = a.get(&ann, "/api-token").await.text().await.unwrap();
    assert!(html.contains("This tenant has no token yet."), "{html}");
    let old =
        a.s.vault
            .auth
            .new_tenant_api_token(a.acme().await)
            .await
            .unwrap();
    assert_eq!(a.recordings_files(&old).await, StatusCode::OK);
    let html = a.get(&ann, "/api-token").await.text().await.unwrap();
    assert!(
        html.contains("stops the current one from working"),
        "{html}"
    );
    assert!(!html.contains(&old));

    let csrf = a.csrf(&ann).await;
    let html = shown_once(a.post(&ann, "/api-token", &[("csrf", &csrf)]).await).await;
    let new = by_id(&html, "api-token");
    assert!(new.starts_with("cvtt_") && new != old, "{new}");
    assert_eq!(by_id(&html, "api-user"), "acme");
    assert!(
        html.contains("The previous token has stopped working"),
        "{html}"
    );
    assert_eq!(a.recordings_files(&new).await, StatusCode::OK);
    assert_eq!(a.recordings_files(&old).await, StatusCode::FORBIDDEN);
    let html = a.get(&ann, "/api-token").await.text().await.unwrap();
    assert!(!html.contains(&new), "shown once");
}

/// The CLI's `client revoke` and `client rotate` go through these services: revoked, the
/// console's client would refuse every sign-in of the tenant from then on.
#[tokio::test]
async fn the_consoles_own_client_cannot_be_revoked_or_rotated_by_the_operator() {
    let a = Acme::new().await;
    let ann = a.session("ann").await;
    let tenant = a.acme().await;
    let console = callvault_services::console::console_client_id(tenant);
    let auth = &a.s.vault.auth;
    for refused in [
        auth.revoke(tenant, &console).await.err(),
        auth.rotate_secret(tenant, &console).await.err(),
    ] {
        let why = refused.expect("refused").to_string();
        assert!(why.contains("the console's own client"), "{why}");
    }
    assert_eq!(a.get(&ann, "/clients").await.status(), StatusCode::OK);
    a.session("bob").await;
}
