//! Who may see what: an agent's own on-demand recordings and the company calls they
//! handled, reviewers, admins, account ids, audio, client-credentials tokens and deletes.

use super::*;

/// Call 1 is a company recording; call 2 is an on-demand recording owned by the user.
async fn company_and_on_demand() -> Vbc {
    let v = Vbc::new().await;
    v.call(1, "2019-01-01T10:00:00Z", 500, json!({})).await;
    let owner = json!({"attributes": {"recordingKind": "onDemand", "owningUserId": v.user_id}});
    v.call(2, "2019-01-02T10:00:00Z", 600, owner).await;
    v
}

fn mine() -> String {
    format!("{P}/accounts/self/users/self/call_recordings")
}

#[tokio::test]
async fn a_user_lists_only_their_own_on_demand_recordings() {
    let v = company_and_on_demand().await;
    let (status, page) = v.get(&v.user, &mine()).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(ids(&page, "recordings"), vec![2]);
    assert!(page["_embedded"]["recordings"][0]["_links"]["self"]["href"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/users/{}/call_recordings/2", v.user_id)));
}

fn company(n: &str) -> String {
    format!("{P}/accounts/self/company_call_recordings{n}")
}

/// Call 3 is a company recording the agent handled (with another agent).
async fn handled_by_the_agent() -> Vbc {
    let v = company_and_on_demand().await;
    let handled = json!({"handlingAgents": ["1", v.user_id]});
    v.call(3, "2019-01-03T10:00:00Z", 700, handled).await;
    v
}

#[tokio::test]
async fn an_agent_lists_and_opens_the_company_calls_they_handled_and_no_other() {
    let v = handled_by_the_agent().await;
    let (status, page) = v.get(&v.user, &company("")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(ids(&page, "recordings"), vec![3]);
    assert_eq!(page["total_items"], 1, "counted in the query too");
    let (status, rec) = v.get(&v.user, &company("/3")).await;
    assert_eq!((status, rec["id"].as_i64()), (StatusCode::OK, Some(3)));
    assert_eq!(
        v.get(&v.user, &format!("{P}/audio/recording/3")).await.0,
        StatusCode::OK
    );
    // Call 1 was handled by agent 1 only: as if it did not exist.
    for path in [company("/1"), format!("{P}/audio/recording/1")] {
        assert_eq!(
            v.get(&v.user, &path).await.0,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    // Their own on-demand recording stays where it was.
    assert_eq!(ids(&v.get(&v.user, &mine()).await.1, "recordings"), vec![2]);
}

#[tokio::test]
async fn an_agent_who_handled_no_company_call_lists_none() {
    let v = company_and_on_demand().await;
    let (status, page) = v.get(&v.user, &company("")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(ids(&page, "recordings"), Vec::<i64>::new());
}

#[tokio::test]
async fn an_agent_cannot_delete_a_company_call_they_handled() {
    let v = handled_by_the_agent().await;
    let r =
        v.s.http
            .delete(v.s.url(&company("/3")))
            .bearer_auth(&v.user)
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(v.get(&v.admin, &company("/3")).await.0, StatusCode::OK);
}

/// A reviewer sees every recording of the account, the company's and every user's, and
/// deletes none: each delete is the dialect's 403, `{"message"}`, and nothing is gone.
#[tokio::test]
async fn a_reviewer_sees_every_recording_but_deletes_none() {
    let v = handled_by_the_agent().await;
    let reviewer =
        v.s.tenant("acme")
            .await
            .user_as("rita", callvault_core::Role::Reviewer)
            .await
            .access_token;
    let (status, page) = v.get(&reviewer, &company("")).await;
    assert_eq!(
        (status, ids(&page, "recordings")),
        (StatusCode::OK, vec![3, 1])
    );
    let theirs = format!("{P}/accounts/self/users/{}/call_recordings", v.user_id);
    assert_eq!(
        ids(&v.get(&reviewer, &theirs).await.1, "recordings"),
        vec![2]
    );
    for path in [
        company("/1"),
        format!("{theirs}/2"),
        format!("{P}/audio/recording/2"),
    ] {
        assert_eq!(v.get(&reviewer, &path).await.0, StatusCode::OK, "{path}");
    }
    for path in [company("/1"), format!("{theirs}/2")] {
        let r =
            v.s.http
                .delete(v.s.url(&path))
                .bearer_auth(&reviewer)
                .send()
                .await
                .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(
            body,
            json!({"message": "Reviewers may see recordings but not delete them"}),
            "{path}"
        );
        assert_eq!(
            v.get(&v.admin, &path).await.0,
            StatusCode::OK,
            "{path} is kept"
        );
    }
}

#[tokio::test]
async fn a_user_cannot_list_another_users_recordings() {
    let v = company_and_on_demand().await;
    assert_eq!(
        v.get(
            &v.user,
            &format!("{P}/accounts/self/users/100001/call_recordings")
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn admins_list_any_users_recordings() {
    let v = company_and_on_demand().await;
    let (status, page) = v
        .get(
            &v.admin,
            &format!("{P}/accounts/self/users/{}/call_recordings", v.user_id),
        )
        .await;
    assert_eq!(
        (status, ids(&page, "recordings")),
        (StatusCode::OK, vec![2]),
        "admins see every user's"
    );
}

#[tokio::test]
async fn an_on_demand_recording_is_not_a_company_recording() {
    let v = company_and_on_demand().await;
    assert_eq!(
        v.get(
            &v.admin,
            &format!("{P}/accounts/self/company_call_recordings/2")
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn another_accounts_id_is_not_found() {
    let v = company_and_on_demand().await;
    assert_eq!(
        v.get(
            &v.admin,
            &format!("{P}/accounts/424242/company_call_recordings")
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_callers_own_account_id_works_like_self() {
    let v = company_and_on_demand().await;
    let tenant_id =
        v.s.store
            .tenant_by_name("acme")
            .await
            .unwrap()
            .unwrap()
            .id
            .0;
    assert_eq!(
        v.get(
            &v.admin,
            &format!("{P}/accounts/{tenant_id}/company_call_recordings/1")
        )
        .await
        .0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_user_gets_ranges_of_their_own_audio() {
    let v = company_and_on_demand().await;
    let r =
        v.s.http
            .get(v.s.url(&format!("{P}/audio/recording/2")))
            .bearer_auth(&v.user)
            .header("Range", "bytes=0-3")
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"RIFF");
}

/// The company's audio is hidden from a plain user as if it did not exist, not from an
/// admin.
#[tokio::test]
async fn a_user_gets_no_company_audio_and_an_admin_does() {
    let v = company_and_on_demand().await;
    assert_eq!(
        v.get(&v.user, &format!("{P}/audio/recording/1")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        v.get(&v.admin, &format!("{P}/audio/recording/1")).await.0,
        StatusCode::OK
    );
}

/// A client-credentials token is account access but has no `self` user.
#[tokio::test]
async fn a_client_credentials_token_has_account_access_but_no_self_user() {
    let v = company_and_on_demand().await;
    assert_eq!(
        v.get(
            &v.writer,
            &format!("{P}/accounts/self/company_call_recordings")
        )
        .await
        .0,
        StatusCode::OK
    );
    assert_eq!(v.get(&v.writer, &mine()).await.0, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_user_deletes_their_own_recording_and_it_is_gone() {
    let v = company_and_on_demand().await;
    assert_eq!(
        v.delete(&v.user, &format!("{}/2", mine())).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        v.get(&v.user, &format!("{}/2", mine())).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn an_admin_deletes_a_company_recording_and_its_audio_is_gone() {
    let v = company_and_on_demand().await;
    assert_eq!(
        v.delete(
            &v.admin,
            &format!("{P}/accounts/self/company_call_recordings/1")
        )
        .await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        v.get(&v.admin, &format!("{P}/audio/recording/1")).await.0,
        StatusCode::NOT_FOUND
    );
}

/// A user's token follows the user's role, not the scopes of the client they signed in
/// through: an admin of a read-only client deletes company recordings.
#[tokio::test]
async fn a_users_rights_follow_the_user_not_the_client() {
    let v = Vbc::new().await;
    v.call(1, "2019-01-01T10:00:00Z", 1000, json!({})).await;
    let read_only = v.s.tenant_client("acme", "interaction-content:read").await;
    let (status, body) = json_of(
        v.sign_in(&read_only, "boss@vbc.prod", "boss-password")
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let admin = body["access_token"].as_str().unwrap();
    let path = format!("{P}/accounts/self/company_call_recordings/1");
    let deleted = v.delete(admin, &path).await;
    assert!(deleted.is_success(), "{deleted}");
    // A plain user of the same client still sees no company recording.
    let r =
        v.s.http
            .get(v.s.url(&path))
            .bearer_auth(&v.user)
            .send()
            .await
            .unwrap();
    assert!(r.status().is_client_error());
}

/// The other APIs apply no role, so a reviewer's or an agent's token is refused there,
/// reads and deletes alike, while an admin's works as a client's does.
#[tokio::test]
async fn only_an_admins_user_token_reaches_the_apis_without_roles() {
    let v = handled_by_the_agent().await;
    let acme = v.s.tenant("acme").await;
    let reviewer = acme
        .user_as("rita", callvault_core::Role::Reviewer)
        .await
        .access_token;
    let interaction = format!("/interaction-content/interactions/{}", guid(1));
    let search =
        "/interaction-content/interactions?start=2019-01-01T00:00:00Z&end=2019-01-05T00:00:00Z";
    for (who, token) in [("agent", &v.user), ("reviewer", &reviewer)] {
        for path in [search, interaction.as_str(), "/transcripts/search?q=refund"] {
            let (status, body) = json_of(v.s.get(token, path).await).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{who} {path}: {body}");
            assert!(
                body["message"]
                    .as_str()
                    .unwrap()
                    .contains("for the Call Recording API and the console"),
                "{body}"
            );
        }
        let r =
            v.s.http
                .delete(v.s.url(&interaction))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{who} delete");
    }
    assert_eq!(v.s.get(&v.admin, search).await.status(), StatusCode::OK);
    assert_eq!(
        v.s.get(&v.admin, &interaction).await.status(),
        StatusCode::OK,
        "kept"
    );
}
