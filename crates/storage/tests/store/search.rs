//! Every search filter, in both paging modes.

use super::*;

/// The fixture of the search test: what each interaction is, so the expected answer of a
/// query is computed here rather than written out.
pub(crate) struct Fixture {
    stored: Vec<Interaction>,
}

impl Fixture {
    fn expect(&self, pred: impl Fn(&Interaction) -> bool, newest_first: bool) -> Vec<String> {
        let mut hits: Vec<&Interaction> = self
            .stored
            .iter()
            .filter(|i| !i.content.is_empty() && pred(i))
            .collect();
        hits.sort_by_key(|i| (i.meta.start, i.id));
        if newest_first {
            hits.reverse();
        }
        hits.iter().map(|i| i.meta.guid.to_string()).collect()
    }
}

pub(crate) async fn keyset_all(store: &SqlStore, t: TenantId, q: &InteractionQuery) -> Vec<String> {
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .search(t, q, PageStart::After(cursor), 4)
            .await
            .unwrap();
        seen.extend(guids(&page));
        match page.last() {
            Some(last) if page.len() == 4 => {
                cursor = Some(SearchCursor {
                    start_us: last.meta.start.timestamp_micros(),
                    id: last.id,
                })
            }
            _ => return seen,
        }
    }
}

pub(crate) async fn offset_all(store: &SqlStore, t: TenantId, q: &InteractionQuery) -> Vec<String> {
    let mut seen = Vec::new();
    for page_no in 0.. {
        let page = store
            .search(t, q, PageStart::Offset(page_no * 3), 3)
            .await
            .unwrap();
        seen.extend(guids(&page));
        if page.len() < 3 {
            break;
        }
    }
    seen
}

/// The search test's interactions: varied in every filtered field, triples sharing a
/// start (so the id decides their order), the last one without content.
pub(crate) fn search_fixture() -> Vec<(InteractionMeta, Vec<ContentItem>)> {
    (0..30i64)
        .map(|i| {
            let mut m = meta((i / 3) * 10);
            m.direction = if i % 3 == 0 {
                Direction::Outbound
            } else {
                Direction::Inbound
            };
            m.handling_agents = if i % 2 == 0 {
                vec!["a1".into()]
            } else {
                vec!["a2".into(), "a1".into()]
            };
            m.connect_from = match i % 4 {
                0 => format!("+1555%_x{i}"),
                1 => format!("+1555Abc{i}"),
                _ => format!("+1666{i}"),
            }
            .into();
            m.connect_to = format!("to{}", i % 2).into();
            m.caller_name = (i % 6 == 0).then(|| "Ann".into());
            m.extensions = if i % 3 == 1 {
                vec!["x1".into(), "ext7".into()]
            } else {
                vec![]
            };
            if i % 5 == 0 {
                m.attributes.recording_kind = Some(RecordingKind::OnDemand);
                m.attributes.owning_user_id = Some("u9".into());
            }
            let mut content = Vec::new();
            if i != 29 {
                let mut rec = item(
                    "callRecording",
                    ContentType::CallRecording,
                    &format!("r{i}"),
                );
                rec.duration_ms = Some(i as u64 * 1000);
                content.push(rec);
            }
            if i % 7 == 0 {
                content.push(item(
                    "transcript",
                    ContentType::Transcript,
                    &format!("tr{i}"),
                ));
            }
            (m, content)
        })
        .collect()
}

/// Stores the fixture in `t` (and contentless noise in `noise`); answers what each
/// upsert and put answered, and the stored interactions.
pub(crate) async fn load_fixture(
    store: &dyn Store,
    t: TenantId,
    noise: TenantId,
    fixture: &[(InteractionMeta, Vec<ContentItem>)],
) -> (Vec<String>, Vec<Interaction>) {
    let mut answers = Vec::new();
    let mut stored = Vec::new();
    for (n, (m, content)) in fixture.iter().enumerate() {
        let (i, created) = store.upsert_interaction(t, m).await.unwrap();
        answers.push(format!("{} {created}", i.number));
        let mut other = meta(n as i64);
        other.guid = Guid::parse("g", &format!("00000000-0000-4000-8000-{n:012}")).unwrap();
        store.upsert_interaction(noise, &other).await.unwrap();
        for c in content {
            // Every fifth recording is queued for transcription.
            let derived = Derived {
                text: Vec::new(),
                transcribe: queued(n),
            };
            let out = store
                .put_content_derived(t, &m.guid, c, &derived)
                .await
                .unwrap();
            answers.push(format!("{out:?}"));
        }
        stored.push(store.get_interaction(t, &m.guid).await.unwrap().unwrap());
    }
    (answers, stored)
}

/// Whether the fixture queues the `n`th interaction's recording for transcription.
pub(crate) fn queued(n: usize) -> bool {
    n % 5 == 1
}

pub(crate) type Pred = Box<dyn Fn(&Interaction) -> bool>;

/// Every search filter, each with the predicate that says what it should find.
pub(crate) fn search_cases(stored: &[Interaction]) -> Vec<(&'static str, InteractionQuery, Pred)> {
    let all = InteractionQuery::default();
    let has = |i: &Interaction, t: ContentType| i.content.iter().any(|c| c.content_type == t);
    let rec_ms = |i: &Interaction| {
        i.content
            .iter()
            .find(|c| c.content_type == ContentType::CallRecording)
            .and_then(|c| c.duration_ms)
    };
    let sample = stored[4].meta.guid.clone();
    let jobs: std::collections::HashSet<Guid> = stored
        .iter()
        .enumerate()
        .filter(|(n, i)| queued(*n) && has(i, ContentType::CallRecording))
        .map(|(_, i)| i.meta.guid.clone())
        .collect();
    let pending = jobs.clone();
    vec![
        ("everything", all.clone(), Box::new(|_| true)),
        (
            "start window",
            InteractionQuery {
                start: Some((ts(30), ts(70))),
                ..all.clone()
            },
            Box::new(|i| i.meta.start >= ts(30) && i.meta.start <= ts(70)),
        ),
        (
            "end window",
            InteractionQuery {
                end: Some((ts(100), ts(150))),
                ..all.clone()
            },
            Box::new(|i| i.meta.end.is_some_and(|e| e >= ts(100) && e <= ts(150))),
        ),
        (
            "direction",
            InteractionQuery {
                direction: Some(Direction::Outbound),
                ..all.clone()
            },
            Box::new(|i| i.meta.direction == Direction::Outbound),
        ),
        (
            "agent",
            InteractionQuery {
                handling_agent: Some("a2".into()),
                ..all.clone()
            },
            Box::new(|i| i.meta.handled_by("a2")),
        ),
        (
            "prefix with % and _ as plain characters",
            InteractionQuery {
                connect_from_prefix: Some("+1555%_".into()),
                ..all.clone()
            },
            Box::new(|i| i.meta.connect_from.starts_with("+1555%_")),
        ),
        (
            "% is no wildcard",
            InteractionQuery {
                connect_from_prefix: Some("+1555%".into()),
                ..all.clone()
            },
            Box::new(|i| i.meta.connect_from.starts_with("+1555%")),
        ),
        (
            "prefixes are case-sensitive",
            InteractionQuery {
                connect_from_prefix: Some("+1555abc".into()),
                ..all.clone()
            },
            Box::new(|_| false),
        ),
        (
            "prefix in its case",
            InteractionQuery {
                connect_from_prefix: Some("+1555Abc".into()),
                ..all.clone()
            },
            Box::new(|i| i.meta.connect_from.starts_with("+1555Abc")),
        ),
        (
            "exact values are case-sensitive",
            InteractionQuery {
                caller_name: Some("ann".into()),
                ..all.clone()
            },
            Box::new(|_| false),
        ),
        (
            "to prefix",
            InteractionQuery {
                connect_to_prefix: Some("to1".into()),
                ..all.clone()
            },
            Box::new(|i| i.meta.connect_to == "to1"),
        ),
        (
            "exact caller name and to",
            InteractionQuery {
                caller_name: Some("Ann".into()),
                connect_to: Some("to0".into()),
                ..all.clone()
            },
            Box::new(|i| {
                i.meta.caller_name.as_deref() == Some("Ann") && i.meta.connect_to == "to0"
            }),
        ),
        (
            "guid",
            InteractionQuery {
                guid: Some(sample.clone()),
                ..all.clone()
            },
            Box::new(move |i| i.meta.guid == sample),
        ),
        (
            "extension",
            InteractionQuery {
                extension: Some("ext7".into()),
                ..all.clone()
            },
            Box::new(|i| i.meta.extensions.contains(&"ext7".to_string())),
        ),
        (
            "with content",
            InteractionQuery {
                with_content: Some(ContentType::Transcript),
                ..all.clone()
            },
            Box::new(move |i| has(i, ContentType::Transcript)),
        ),
        (
            "recording duration",
            InteractionQuery {
                recording_ms: (Some(5000), Some(12000)),
                ..all.clone()
            },
            Box::new(move |i| rec_ms(i).is_some_and(|d| (5000..=12000).contains(&d))),
        ),
        (
            "on demand",
            InteractionQuery {
                recording_kind: Some(RecordingKind::OnDemand),
                ..all.clone()
            },
            Box::new(|i| i.meta.attributes.recording_kind == Some(RecordingKind::OnDemand)),
        ),
        (
            "company",
            InteractionQuery {
                recording_kind: Some(RecordingKind::Company),
                ..all.clone()
            },
            Box::new(|i| i.meta.attributes.recording_kind != Some(RecordingKind::OnDemand)),
        ),
        (
            "owning user",
            InteractionQuery {
                owning_user: Some("u9".into()),
                ..all.clone()
            },
            Box::new(|i| i.meta.attributes.owning_user_id.as_deref() == Some("u9")),
        ),
        (
            "an agent's own on-demand recordings",
            InteractionQuery {
                visible_to_agent: Some("u9".into()),
                ..all.clone()
            },
            Box::new(|i| i.meta.attributes.owning_user_id.as_deref() == Some("u9")),
        ),
        (
            "an agent's handled calls",
            InteractionQuery {
                visible_to_agent: Some("a2".into()),
                ..all.clone()
            },
            Box::new(|i| i.meta.handled_by("a2")),
        ),
        (
            "transcription pending",
            InteractionQuery {
                transcription: Some(TranscriptionFilter::Pending),
                ..all.clone()
            },
            Box::new(move |i| !has(i, ContentType::Transcript) && pending.contains(&i.meta.guid)),
        ),
        (
            "transcription any",
            InteractionQuery {
                transcription: Some(TranscriptionFilter::Any),
                ..all.clone()
            },
            Box::new(move |i| has(i, ContentType::Transcript) || jobs.contains(&i.meta.guid)),
        ),
        (
            "a value PostgreSQL cannot hold matches nothing",
            InteractionQuery {
                caller_name: Some("A\0nn".into()),
                ..all.clone()
            },
            Box::new(|_| false),
        ),
    ]
}

async fn search_filters_and_both_paging_modes(db: TestDb) {
    let store = db.store().await;
    let t = store.create_tenant("acme", "UTC").await.unwrap().id;
    let noise = store.create_tenant("globex", "UTC").await.unwrap().id;
    let (_, stored) = load_fixture(&store, t, noise, &search_fixture()).await;
    let cases = search_cases(&stored);
    let fx = Fixture { stored };
    let all = InteractionQuery::default();
    for (name, q, pred) in &cases {
        for newest_first in [false, true] {
            let q = InteractionQuery {
                newest_first,
                ..q.clone()
            };
            let want = fx.expect(pred, newest_first);
            assert_eq!(keyset_all(&store, t, &q).await, want, "{name}: keyset");
            assert_eq!(offset_all(&store, t, &q).await, want, "{name}: offset");
            assert_eq!(
                store.count(t, &q).await.unwrap(),
                want.len() as u64,
                "{name}: count"
            );
        }
    }
    assert_eq!(
        fx.expect(|_| true, false).len(),
        29,
        "no content, not found"
    );
    assert!(!fx
        .expect(|i| i.meta.connect_from.starts_with("+1555%_"), false)
        .is_empty());

    // Keyset paging neither skips nor repeats while interactions are added before the
    // cursor.
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .search(t, &all, PageStart::After(cursor), 5)
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        cursor = Some(SearchCursor {
            start_us: last.meta.start.timestamp_micros(),
            id: last.id,
        });
        seen.extend(guids(&page));
        let early = meta(-100);
        store.upsert_interaction(t, &early).await.unwrap();
        let rec = item("callRecording", ContentType::CallRecording, "early");
        store.put_content(t, &early.guid, &rec).await.unwrap();
    }
    assert_eq!(seen, fx.expect(|_| true, false));
    store.close().await;
}

/// What an agent sees (`visible_to_agent`): their own on-demand recordings and the calls
/// they handled, narrowed in the query, so every page but the last is full; nothing of
/// another tenant, where the same agent id means someone else.
async fn an_agents_calls_are_narrowed_in_the_query_and_page_in_full(db: TestDb) {
    let store = db.store().await;
    let t = store.create_tenant("acme", "UTC").await.unwrap().id;
    let other = store.create_tenant("globex", "UTC").await.unwrap().id;
    let mut stored = Vec::new();
    for n in 0..40i64 {
        let mut m = meta(n / 2 * 10);
        // Handled by agent 7 (alone or with others), by someone else, or on demand.
        m.handling_agents = match n % 5 {
            0 => vec!["7".into()],
            1 => vec!["3".into(), "7".into()],
            2 => vec!["3".into()],
            3 => vec!["70".into()],
            _ => Vec::new(),
        };
        if n % 4 == 3 {
            m.attributes.recording_kind = Some(RecordingKind::OnDemand);
            m.attributes.owning_user_id = Some(if n % 8 == 3 { "7" } else { "77" }.into());
        }
        if n % 10 == 9 {
            // Not on demand, though it names the agent as its owner.
            m.attributes.recording_kind = None;
            m.attributes.owning_user_id = Some("7".into());
        }
        store.upsert_interaction(t, &m).await.unwrap();
        if n != 20 {
            let rec = item(
                "callRecording",
                ContentType::CallRecording,
                &format!("r{n}"),
            );
            store.put_content(t, &m.guid, &rec).await.unwrap();
        }
        stored.push(store.get_interaction(t, &m.guid).await.unwrap().unwrap());

        // The same agent id in another tenant, handling and owning.
        let mut theirs = meta(n * 10);
        theirs.handling_agents = vec!["7".into()];
        theirs.attributes.recording_kind = Some(RecordingKind::OnDemand);
        theirs.attributes.owning_user_id = Some("7".into());
        store.upsert_interaction(other, &theirs).await.unwrap();
        let rec = item(
            "callRecording",
            ContentType::CallRecording,
            &format!("o{n}"),
        );
        store.put_content(other, &theirs.guid, &rec).await.unwrap();
    }
    let fx = Fixture { stored };
    let sees = |i: &Interaction| {
        let a = &i.meta.attributes;
        i.meta.handled_by("7")
            || (a.recording_kind == Some(RecordingKind::OnDemand)
                && a.owning_user_id.as_deref() == Some("7"))
    };
    let agent = InteractionQuery {
        visible_to_agent: Some("7".into()),
        ..Default::default()
    };
    let company = InteractionQuery {
        recording_kind: Some(RecordingKind::Company),
        ..agent.clone()
    };
    let with_3 = InteractionQuery {
        handling_agent: Some("3".into()),
        ..agent.clone()
    };
    let cases: [(&str, &InteractionQuery, Pred); 3] = [
        ("all", &agent, Box::new(sees)),
        (
            "company",
            &company,
            Box::new(move |i| {
                sees(i) && i.meta.attributes.recording_kind != Some(RecordingKind::OnDemand)
            }),
        ),
        (
            "handled with agent 3",
            &with_3,
            Box::new(move |i| sees(i) && i.meta.handled_by("3")),
        ),
    ];
    for (name, q, pred) in &cases {
        for newest_first in [false, true] {
            let q = InteractionQuery {
                newest_first,
                ..(*q).clone()
            };
            let want = fx.expect(pred, newest_first);
            assert!(want.len() > 4, "{name}: more than a page");
            // Both walks stop at the first page shorter than asked for, so a page cut
            // short by rows dropped after the query would lose the rest.
            assert_eq!(keyset_all(&store, t, &q).await, want, "{name}: keyset");
            assert_eq!(offset_all(&store, t, &q).await, want, "{name}: offset");
            assert_eq!(
                store.count(t, &q).await.unwrap(),
                want.len() as u64,
                "{name}"
            );
        }
    }
    // In the other tenant the same id sees only that tenant's calls.
    assert_eq!(store.count(other, &agent).await.unwrap(), 40);
    let nobody = InteractionQuery {
        visible_to_agent: Some("8".into()),
        ..Default::default()
    };
    assert_eq!(store.count(t, &nobody).await.unwrap(), 0);
    store.close().await;
}

on_both!(
    search_filters_and_both_paging_modes,
    an_agents_calls_are_narrowed_in_the_query_and_page_in_full,
);
