//! Transcription jobs and the text index, on both backends.

use callvault_core::transcript::{IndexedText, TextQuery, HIT_END, HIT_START};
use callvault_core::transcription::{TranscriptionState, MAX_TRANSCRIPTION_ATTEMPTS};
use callvault_storage::transcription::Settle;

use super::*;

fn said(start_ms: u64, speaker: &str, text: &str) -> IndexedText {
    IndexedText {
        start_ms,
        end_ms: start_ms + 1000,
        speaker: Some(speaker.into()),
        text: text.into(),
    }
}

/// A tenant with one interaction holding a recording queued for transcription.
async fn queued(store: &SqlStore, name: &str, start: i64) -> (TenantId, Interaction) {
    let t = match store.tenant_by_name(name).await.unwrap() {
        Some(t) => t.id,
        None => store.create_tenant(name, "UTC").await.unwrap().id,
    };
    let m = meta(start);
    store.upsert_interaction(t, &m).await.unwrap();
    let rec = item(
        "callRecording",
        ContentType::CallRecording,
        &format!("r{start}"),
    );
    let derived = Derived {
        text: Vec::new(),
        transcribe: true,
    };
    store
        .put_content_derived(t, &m.guid, &rec, &derived)
        .await
        .unwrap()
        .unwrap();
    (t, store.get_interaction(t, &m.guid).await.unwrap().unwrap())
}

async fn state(store: &SqlStore, t: TenantId, id: i64) -> Option<TranscriptionJob> {
    store
        .transcription_jobs(t, &[id])
        .await
        .unwrap()
        .into_iter()
        .next()
}

use callvault_core::transcription::TranscriptionJob;

async fn jobs_run_newest_first_and_settle_by_their_lease(db: TestDb) {
    let store = db.store().await;
    let (t, old) = queued(&store, "acme", 0).await;
    let (_, new) = queued(&store, "acme", 100).await;
    let now = ts(1000);
    let first = store
        .claim_transcription(now, now + chrono::Duration::minutes(5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.interaction_id, new.id, "the newest call first");
    assert_eq!(first.state, TranscriptionState::InProgress);
    assert_eq!(first.attempts, 1);
    let second = store
        .claim_transcription(now, now + chrono::Duration::minutes(5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.interaction_id, old.id);
    assert!(store.claim_transcription(now, now).await.unwrap().is_none());

    // The engine was down: back to pending, the try not counted, not before the backoff.
    let retry = Settle::Retry {
        error: "unavailable".into(),
        not_before: ts(2000),
        counted: false,
    };
    assert!(store
        .settle_transcription(&first, &retry, ts(1001))
        .await
        .unwrap());
    let j = state(&store, t, new.id).await.unwrap();
    assert_eq!((j.state, j.attempts), (TranscriptionState::Pending, 0));
    assert_eq!(j.error.as_deref(), Some("unavailable"));
    assert!(store
        .claim_transcription(ts(1200), ts(3000))
        .await
        .unwrap()
        .is_none());
    // A settle with a lease that is no longer held changes nothing.
    assert!(!store
        .settle_transcription(&first, &retry, ts(1002))
        .await
        .unwrap());

    // A runner that died: its lease lapses and the job is taken over.
    let taken = store
        .claim_transcription(ts(1000 + 301), ts(5000))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(taken.interaction_id, old.id);
    assert_eq!(taken.attempts, 2);
    assert!(!store
        .settle_transcription(&second, &Settle::Failed { error: "x".into() }, ts(1302))
        .await
        .unwrap());
    let failed = Settle::Failed {
        error: "the audio cannot be decoded".into(),
    };
    assert!(store
        .settle_transcription(&taken, &failed, ts(1303))
        .await
        .unwrap());
    let j = state(&store, t, old.id).await.unwrap();
    assert_eq!(j.state, TranscriptionState::Failed);
    assert_eq!(j.error.as_deref(), Some("the audio cannot be decoded"));

    // Storing a transcript settles the job as ready, whoever stores it.
    let tr = item("transcript", ContentType::Transcript, "t1");
    store.put_content(t, &new.meta.guid, &tr).await.unwrap();
    let j = state(&store, t, new.id).await.unwrap();
    assert_eq!((j.state, j.error), (TranscriptionState::Ready, None));
    let counts = store.transcription_counts(Some(t)).await.unwrap();
    assert_eq!(
        counts,
        [
            (TranscriptionState::Failed, 1),
            (TranscriptionState::Ready, 1)
        ]
    );

    // Re-queued from scratch.
    assert!(store
        .queue_transcription(t, old.id, "callRecording", ts(4000))
        .await
        .unwrap());
    let j = state(&store, t, old.id).await.unwrap();
    assert_eq!(
        (j.state, j.attempts, j.error),
        (TranscriptionState::Pending, 0, None)
    );
    assert!(
        !store
            .queue_transcription(t, old.id, "voicemail", ts(4000))
            .await
            .unwrap(),
        "no such item"
    );
}

async fn counted_failures_give_up_at_the_limit(db: TestDb) {
    let store = db.store().await;
    let (t, i) = queued(&store, "acme", 0).await;
    for n in 1..=MAX_TRANSCRIPTION_ATTEMPTS {
        let at = ts(i64::from(n) * 10);
        let j = store.claim_transcription(at, at).await.unwrap().unwrap();
        assert_eq!(j.attempts, n);
        let retry = Settle::Retry {
            error: "engine said no".into(),
            not_before: at,
            counted: true,
        };
        store.settle_transcription(&j, &retry, at).await.unwrap();
    }
    let j = state(&store, t, i.id).await.unwrap();
    assert_eq!(j.state, TranscriptionState::Failed);
    assert_eq!(j.error.as_deref(), Some("engine said no"));
}

async fn deleting_reaches_the_job_and_the_index(db: TestDb) {
    let store = db.store().await;
    let (t, i) = queued(&store, "acme", 0).await;
    let tr = item("transcript", ContentType::Transcript, "t1");
    let derived = Derived {
        text: vec![
            said(0, "agent", "thank you for calling"),
            said(2000, "customer", "my invoice is wrong"),
        ],
        transcribe: false,
    };
    store
        .put_content_derived(t, &i.meta.guid, &tr, &derived)
        .await
        .unwrap();
    let q = TextQuery::parse("q", "invoice").unwrap();
    let all = InteractionQuery::default();
    let found = store
        .text_search(t, &all, &q, PageStart::After(None), 10)
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    // Replacing the transcript replaces its index rows.
    let derived = Derived {
        text: vec![said(0, "agent", "goodbye")],
        transcribe: false,
    };
    store
        .put_content_derived(t, &i.meta.guid, &tr, &derived)
        .await
        .unwrap();
    assert!(store
        .text_search(t, &all, &q, PageStart::After(None), 10)
        .await
        .unwrap()
        .is_empty());
    let bye = TextQuery::parse("q", "goodbye").unwrap();
    assert_eq!(store.text_hits(t, &[i.id], &bye).await.unwrap().len(), 1);
    // Deleting only the transcript: gone from the index, and the recording reads as
    // not transcribed (no job).
    store
        .delete_content(
            t,
            &i.meta.guid,
            "transcript",
            DeleteCause::Request,
            &audit_event(t),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(store.text_hits(t, &[i.id], &bye).await.unwrap().is_empty());
    assert!(state(&store, t, i.id).await.is_none());
    // Deleting the interaction takes its job and index rows with it.
    store
        .put_content_derived(t, &i.meta.guid, &tr, &derived)
        .await
        .unwrap();
    store
        .queue_transcription(t, i.id, "callRecording", ts(1))
        .await
        .unwrap();
    store
        .delete_interaction(t, &i.meta.guid, DeleteCause::Request, &audit_event(t))
        .await
        .unwrap()
        .unwrap();
    assert!(store.text_hits(t, &[i.id], &bye).await.unwrap().is_empty());
    assert!(state(&store, t, i.id).await.is_none());
    assert!(store.transcription_counts(None).await.unwrap().is_empty());
}

async fn text_search_pages_every_match_once_within_the_tenant(db: TestDb) {
    let store = db.store().await;
    let mut ids = Vec::new();
    for n in 0..7 {
        let (t, i) = queued(&store, "acme", n * 10).await;
        let words = if n % 2 == 0 {
            "the refund was approved"
        } else {
            "approved no refund"
        };
        let derived = Derived {
            text: vec![said(500, "agent", "hello"), said(1500, "customer", words)],
            transcribe: false,
        };
        let tr = item("transcript", ContentType::Transcript, &format!("t{n}"));
        store
            .put_content_derived(t, &i.meta.guid, &tr, &derived)
            .await
            .unwrap();
        ids.push(i.id);
    }
    // Another tenant says the same words.
    let (other, oi) = queued(&store, "globex", 5).await;
    let derived = Derived {
        text: vec![said(0, "agent", "the refund was approved")],
        transcribe: false,
    };
    let tr = item("transcript", ContentType::Transcript, "tx");
    store
        .put_content_derived(other, &oi.meta.guid, &tr, &derived)
        .await
        .unwrap();
    let t = store.tenant_by_name("acme").await.unwrap().unwrap().id;

    let phrase = TextQuery::parse("q", "\"refund was approved\"").unwrap();
    let words = TextQuery::parse("q", "approved REFUNDS").unwrap();
    for (q, want) in [(&phrase, 4), (&words, 7)] {
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = store
                .text_search(
                    t,
                    &InteractionQuery::default(),
                    q,
                    PageStart::After(after),
                    3,
                )
                .await
                .unwrap();
            let Some(last) = page.last() else { break };
            after = Some(SearchCursor::of(last));
            seen.extend(page.iter().map(|i| i.id));
        }
        let mut unique = seen.clone();
        unique.dedup();
        assert_eq!(seen.len(), want, "{q:?}: every match once");
        assert_eq!(unique.len(), want);
        assert!(!seen.contains(&oi.id), "never another tenant's");
    }
    let hits = store.text_hits(t, &ids, &phrase).await.unwrap();
    assert_eq!(hits.len(), 4);
    let h = &hits[0];
    assert_eq!((h.start_ms, h.speaker.as_deref()), (1500, Some("customer")));
    assert!(
        h.marked.contains(HIT_START) && h.marked.contains(HIT_END),
        "{:?}",
        h.marked
    );
    let (plain, ranges) = callvault_core::transcript::split_hits(&h.marked);
    assert_eq!(plain, "the refund was approved");
    // SQLite marks a phrase whole, PostgreSQL word by word: either covers the words.
    let marked: Vec<&str> = ranges.iter().map(|(a, b)| &plain[*a..*b]).collect();
    for word in ["refund", "approved"] {
        assert!(marked.iter().any(|m| m.contains(word)), "{marked:?}");
    }
    // The other tenant's hits are not reachable through this tenant.
    assert!(store
        .text_hits(t, &[oi.id], &phrase)
        .await
        .unwrap()
        .is_empty());
    // Filters combine with the words.
    let window = InteractionQuery {
        start: Some((ts(0), ts(25))),
        ..Default::default()
    };
    let found = store
        .text_search(t, &window, &phrase, PageStart::After(None), 10)
        .await
        .unwrap();
    assert_eq!(found.len(), 2, "starts 0 and 20 say the phrase");
}

async fn backfill_finds_recordings_without_a_transcript_or_a_job(db: TestDb) {
    let store = db.store().await;
    let t = store.create_tenant("acme", "UTC").await.unwrap().id;
    let mut plain = Vec::new();
    for n in 0..5 {
        let guid = recorded(&store, t, n * 10, &format!("r{n}")).await;
        if n == 1 {
            let tr = item("transcript", ContentType::Transcript, "t1");
            store.put_content(t, &guid, &tr).await.unwrap();
        }
        plain.push(store.get_interaction(t, &guid).await.unwrap().unwrap());
    }
    store
        .queue_transcription(t, plain[3].id, "callRecording", ts(0))
        .await
        .unwrap();
    let page = store.untranscribed(t, None, None, 2).await.unwrap();
    let got: Vec<i64> = page.iter().map(|u| u.interaction_id).collect();
    assert_eq!(got, [plain[0].id, plain[2].id]);
    let rest = store
        .untranscribed(t, Some(ts(0)), Some(page[1].cursor), 10)
        .await
        .unwrap();
    let got: Vec<i64> = rest.iter().map(|u| u.interaction_id).collect();
    assert_eq!(got, [plain[4].id]);
    let since = store
        .untranscribed(t, Some(ts(15)), None, 10)
        .await
        .unwrap();
    assert_eq!(since.len(), 2);
}

on_both!(
    jobs_run_newest_first_and_settle_by_their_lease,
    counted_failures_give_up_at_the_limit,
    deleting_reaches_the_job_and_the_index,
    text_search_pages_every_match_once_within_the_tenant,
    backfill_finds_recordings_without_a_transcript_or_a_job,
);
