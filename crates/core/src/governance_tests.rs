use chrono::TimeZone;
use proptest::prelude::*;

use super::*;
use crate::{Attributes, InteractionMeta};

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2020, 1, 1, 12, 0, 0).unwrap()
}

fn item(key: &str, content_type: ContentType) -> ContentItem {
    ContentItem {
        key: key.into(),
        content_type,
        media_type: "audio/wav".into(),
        length: 10,
        sha256: "00".into(),
        last_modified: start(),
        duration_ms: None,
        version: None,
        owning_agent: None,
        owning_interaction_plan: None,
        blob_key: "b".into(),
    }
}

fn interaction() -> Interaction {
    Interaction {
        id: 1,
        tenant_id: TenantId(1),
        number: 1,
        meta: InteractionMeta {
            guid: Guid::parse("guid", "6ba7b810-9dad-11d1-80b4-00c04fd430c8").unwrap(),
            start: start(),
            end: None,
            direction: Direction::Inbound,
            connect_from: "+15551230001".into(),
            connect_to: "+15559990000".into(),
            caller_name: None,
            handling_agents: vec!["agent-7".into()],
            extensions: vec![],
            queue_id: Some("sales".into()),
            queue_name: None,
            channel: None,
            attributes: Attributes {
                case_id: Some("C-1".into()),
                ..Attributes::default()
            },
        },
        content: vec![
            item("callRecording", ContentType::CallRecording),
            item("screenRecording", ContentType::ScreenRecording),
        ],
        created_at: start(),
        updated_at: start(),
    }
}

fn policy(
    name: &str,
    min: Option<u32>,
    max: Option<u32>,
    types: &[ContentType],
) -> RetentionPolicy {
    RetentionPolicy {
        id: Uuid::nil(),
        tenant_id: TenantId(1),
        name: name.into(),
        selector: Selector {
            content_types: types.to_vec(),
            ..Selector::default()
        },
        min_days: min,
        max_days: max,
        enabled: true,
        created_at: start(),
        updated_at: start(),
    }
}

fn hold(selector: Selector) -> LegalHold {
    LegalHold {
        id: Uuid::nil(),
        tenant_id: TenantId(1),
        case_name: "Doe v. Acme".into(),
        reason: "litigation".into(),
        selector,
        created_by: "client-1".into(),
        created_at: start(),
        released_at: None,
        released_by: None,
    }
}

fn days(n: i64) -> DateTime<Utc> {
    start() + Duration::days(n)
}

#[test]
fn no_rules_allow_every_delete() {
    let i = interaction();
    let rules = Rules::default();
    assert!(rules
        .may_delete_interaction(&i, DeleteCause::Request, days(0))
        .is_ok());
    assert_eq!(rules.expired(&i, days(10_000)), Expired::Nothing);
}

#[test]
fn a_hold_on_the_number_refuses_every_cause() {
    let i = interaction();
    let rules = Rules {
        holds: vec![hold(Selector {
            number: Some("+15551230001".into()),
            ..Selector::default()
        })],
        policies: vec![policy("short", None, Some(1), &[])],
    };
    for cause in [
        DeleteCause::Request,
        DeleteCause::Retention,
        DeleteCause::Erasure,
    ] {
        let refused = rules.may_delete_interaction(&i, cause, days(400));
        assert!(matches!(refused, Err(Refusal::Held { .. })), "{cause:?}");
    }
    assert_eq!(rules.expired(&i, days(400)), Expired::Nothing);
}

#[test]
fn a_released_hold_protects_nothing() {
    let i = interaction();
    let mut h = hold(Selector::default());
    h.released_at = Some(days(1));
    let rules = Rules {
        holds: vec![h],
        policies: vec![],
    };
    assert!(rules
        .may_delete_interaction(&i, DeleteCause::Request, days(2))
        .is_ok());
}

#[test]
fn a_hold_on_one_content_type_keeps_the_interaction_but_not_other_items() {
    let i = interaction();
    let rules = Rules {
        holds: vec![hold(Selector {
            content_types: vec![ContentType::CallRecording],
            ..Selector::default()
        })],
        policies: vec![],
    };
    assert!(rules
        .may_delete_interaction(&i, DeleteCause::Request, days(0))
        .is_err());
    assert!(rules
        .may_delete_item(&i, &i.content[0], DeleteCause::Request, days(0))
        .is_err());
    assert!(rules
        .may_delete_item(&i, &i.content[1], DeleteCause::Request, days(0))
        .is_ok());
}

#[test]
fn a_hold_that_does_not_match_protects_nothing() {
    let i = interaction();
    let rules = Rules {
        holds: vec![hold(Selector {
            attributes: [("caseId".to_string(), "C-2".to_string())].into(),
            ..Selector::default()
        })],
        policies: vec![],
    };
    assert!(rules
        .may_delete_interaction(&i, DeleteCause::Request, days(0))
        .is_ok());
}

#[test]
fn a_minimum_refuses_requests_until_it_has_passed() {
    let i = interaction();
    let rules = Rules {
        holds: vec![],
        policies: vec![policy("mifid", Some(365), None, &[])],
    };
    let refused = rules.may_delete_interaction(&i, DeleteCause::Request, days(364));
    assert_eq!(
        refused,
        Err(Refusal::Retained {
            policy: "mifid".into(),
            until: days(365)
        })
    );
    assert!(rules
        .may_delete_interaction(&i, DeleteCause::Request, days(365))
        .is_ok());
    // A policy without a maximum asks for no deletion.
    assert_eq!(rules.expired(&i, days(100_000)), Expired::Nothing);
}

#[test]
fn the_longest_retention_wins() {
    let i = interaction();
    let rules = Rules {
        holds: vec![],
        policies: vec![
            policy("one year", None, Some(365), &[]),
            policy(
                "seven years",
                Some(7 * 365),
                None,
                &[ContentType::CallRecording],
            ),
        ],
    };
    // The screen recording goes after a year; the call recording, and so the
    // interaction, stay for seven.
    assert_eq!(
        rules.expired(&i, days(366)),
        Expired::Items(vec!["screenRecording".into()])
    );
    assert_eq!(rules.expiry(&i, Some(&i.content[0])), Some(days(7 * 365)));
    assert_eq!(rules.expired(&i, days(7 * 365)), Expired::Interaction);
}

#[test]
fn a_content_type_policy_never_deletes_the_interaction() {
    let i = interaction();
    let rules = Rules {
        holds: vec![],
        policies: vec![policy(
            "screens",
            None,
            Some(30),
            &[ContentType::ScreenRecording, ContentType::CallRecording],
        )],
    };
    assert_eq!(
        rules.expired(&i, days(31)),
        Expired::Items(vec!["callRecording".into(), "screenRecording".into()])
    );
}

#[test]
fn a_disabled_policy_neither_protects_nor_deletes() {
    let i = interaction();
    let mut p = policy("off", Some(100), Some(200), &[]);
    p.enabled = false;
    let rules = Rules {
        holds: vec![],
        policies: vec![p],
    };
    assert!(rules
        .may_delete_interaction(&i, DeleteCause::Request, days(1))
        .is_ok());
    assert_eq!(rules.expired(&i, days(300)), Expired::Nothing);
}

#[test]
fn policy_validation_names_the_field() {
    let cases = [
        (policy("p", None, None, &[]), "maxDays"),
        (policy("p", Some(10), Some(5), &[]), "maxDays"),
        (policy("p", None, Some(0), &[]), "maxDays"),
        (
            policy("p", Some(MAX_RETENTION_DAYS + 1), None, &[]),
            "minDays",
        ),
        (policy("", Some(1), None, &[]), "name"),
    ];
    for (p, field) in cases {
        assert_eq!(p.validate().unwrap_err().field, field, "{p:?}");
    }
    let mut bad = policy("p", Some(1), None, &[]);
    bad.selector
        .attributes
        .insert("colour".into(), "red".into());
    assert_eq!(bad.validate().unwrap_err().field, "selector.attributes");
}

#[test]
fn selectors_refuse_unknown_fields() {
    use serde::de::value::{Error, MapDeserializer};
    let map = MapDeserializer::<_, Error>::new([("guid", "x")].into_iter());
    let err = Selector::deserialize(map).unwrap_err().to_string();
    assert!(err.contains("unknown field `guid`"), "{err}");
}

proptest! {
    /// Whatever the policies, retention never takes an item a request could not delete
    /// at the same instant, and never before every matching minimum has passed.
    #[test]
    fn retention_never_breaks_a_minimum(
        specs in prop::collection::vec((prop::option::of(0u32..800), prop::option::of(1u32..800), any::<bool>()), 0..5),
        at in 0i64..2000,
    ) {
        let i = interaction();
        let policies = specs
            .into_iter()
            .map(|(min, max, screens_only)| {
                let (min, max) = match (min, max) {
                    (Some(a), Some(b)) if b < a => (Some(b), Some(a)),
                    other => other,
                };
                let types: &[ContentType] = if screens_only { &[ContentType::ScreenRecording] } else { &[] };
                policy("p", min, max, types)
            })
            .collect();
        let rules = Rules { holds: vec![], policies };
        let now = days(at);
        match rules.expired(&i, now) {
            Expired::Nothing => {}
            Expired::Interaction => prop_assert!(rules.may_delete_interaction(&i, DeleteCause::Request, now).is_ok()),
            Expired::Items(keys) => {
                for key in keys {
                    let item = i.content.iter().find(|c| c.key == key).unwrap();
                    prop_assert!(rules.may_delete_item(&i, item, DeleteCause::Request, now).is_ok());
                }
            }
        }
    }
}
