//! Drawing the demo's interactions from the seeded RNG. Nothing here does I/O, so one seed
//! always yields the same plan, whatever the uploads' interleaving later.

use bytes::Bytes;
use callvault_core::interaction::RecordingKind;
use callvault_core::{Attributes, ContentKey, ContentType, Direction, Guid, InteractionMeta};
use chrono::{DateTime, Datelike, DurationRound, TimeDelta, Timelike, Utc, Weekday};
use rand::distributions::WeightedIndex;
use rand::rngs::StdRng;
use rand::seq::{IteratorRandom, SliceRandom};
use rand::{Rng, SeedableRng};

use super::audio::{Clip, Kind};
use super::data::{self, pick, Queue, Topic, AGENTS};
use super::DAYS;
use crate::error::ServiceResult;
use crate::ingest::ContentUpload;

pub(super) struct Plan {
    pub(super) meta: InteractionMeta,
    pub(super) items: Vec<Item>,
}

pub(super) struct Item {
    pub(super) key: ContentKey,
    pub(super) upload: ContentUpload,
    pub(super) body: Body,
}

pub(super) enum Body {
    /// An index into the recording pool.
    Audio(usize),
    Json(Bytes),
}

pub(super) struct Planner<'a> {
    rng: StdRng,
    now: DateTime<Utc>,
    tenant: &'a str,
    pool: &'a [Clip],
    hours: Vec<DateTime<Utc>>,
    hour_weights: WeightedIndex<f64>,
}

impl<'a> Planner<'a> {
    pub(super) fn new(seed: u64, now: DateTime<Utc>, tenant: &'a str, pool: &'a [Clip]) -> Self {
        let this_hour = now
            .duration_trunc(TimeDelta::hours(1))
            .expect("an hour divides any instant");
        let hours: Vec<_> = (0..DAYS * 24)
            .rev()
            .map(|h| this_hour - TimeDelta::hours(h))
            .collect();
        let weights = hours.iter().map(|&h| {
            let open = (now - h).num_seconds().min(3600) as f64 / 3600.0;
            busy_factor(h) * open.max(0.01)
        });
        Self {
            rng: StdRng::seed_from_u64(seed),
            now,
            tenant,
            pool,
            hour_weights: WeightedIndex::new(weights).expect("every hour has a positive weight"),
            hours,
        }
    }

    /// A recording of the kind, at random.
    fn clip(&mut self, kind: Kind) -> usize {
        let of_kind = (0..self.pool.len()).filter(|&i| self.pool[i].kind == kind);
        of_kind.choose(&mut self.rng).unwrap_or(0)
    }

    pub(super) fn interaction(&mut self) -> ServiceResult<Plan> {
        let guid = Guid::parse("guid", &self.uuid().to_string())?;
        let direction = *[Direction::Inbound, Direction::Outbound, Direction::Internal]
            .choose_weighted(&mut self.rng, |d| match d {
                Direction::Inbound => 60,
                Direction::Outbound => 35,
                Direction::Internal => 5,
            })
            .expect("weights are positive");
        let roll = self.rng.gen::<f64>();
        let chat = direction == Direction::Inbound && roll < 1.0 / 6.0;
        let voicemail = direction == Direction::Inbound && !chat && roll < 1.0 / 6.0 + 0.135;
        // Direct agent access: the caller dialled an agent's own number, no queue.
        let direct = direction == Direction::Inbound && !chat && !voicemail && roll > 0.92;
        let queue = match direction {
            Direction::Inbound if chat => Some(&data::CHAT_QUEUE[0]),
            Direction::Inbound if direct => None,
            Direction::Inbound => Some(self.queue(data::INBOUND_QUEUES)),
            Direction::Outbound => Some(self.queue(data::OUTBOUND_QUEUES)),
            Direction::Internal => None,
        };
        let agent = match queue {
            Some(q) => &AGENTS[self.rng.gen_range(q.agents.clone())],
            None => pick(&mut self.rng, AGENTS),
        };
        let mut agents = vec![agent];
        if !voicemail && (direction == Direction::Internal || self.rng.gen_bool(0.15)) {
            let others = AGENTS.iter().filter(|a| a.id != agent.id);
            agents.extend(others.choose(&mut self.rng));
        }
        let uk = self.rng.gen_bool(0.75);
        let customer = if uk {
            data::uk_number(&mut self.rng)
        } else {
            data::us_number(&mut self.rng)
        };
        let customer_name = data::person(&mut self.rng);
        let ddi = match queue {
            Some(q) => (if uk { q.ddi_uk } else { q.ddi_us }).to_string(),
            None if direct => format!("44207946{}", agent.extension),
            None => String::new(),
        };
        let (connect_from, connect_to, caller_name, channel) = match direction {
            Direction::Inbound if chat => {
                let email = customer_name.to_lowercase().replace([' ', '\''], ".");
                (format!("{email}@example.com"), ddi, customer_name, "Chat")
            }
            Direction::Inbound => (customer, ddi, customer_name, "Inbound"),
            Direction::Outbound => (ddi, customer, agent.name.to_string(), "Outbound"),
            Direction::Internal => (
                agent.extension.to_string(),
                agents[agents.len() - 1].extension.to_string(),
                agent.name.to_string(),
                "Internal",
            ),
        };
        let topic = queue.map_or(Topic::Support, |q| q.topic);
        let language = if uk { "en-GB" } else { "en-US" };
        let mut items = Vec::new();
        let mut attributes = self.attributes(direction, queue, agent.id);
        let talk_ms = if chat {
            let ms = self.rng.gen_range(90_000..900_000);
            let body = data::chat_transcript(&mut self.rng, agent.id, ms, topic);
            items.push(json_item(ContentType::ChatTranscript, body, |u| {
                u.version = Some(1);
                u.duration_ms = Some(ms);
            }));
            not_a_call_recording(&mut attributes);
            ms
        } else if voicemail {
            let clip = self.clip(Kind::Voicemail);
            items.push(Item {
                key: ContentKey::Unique(self.uuid()),
                upload: audio_upload(ContentType::Voicemail, |u| {
                    u.owning_agent = Some(agent.id.to_string())
                }),
                body: Body::Audio(clip),
            });
            attributes.wrap_up_code = None;
            not_a_call_recording(&mut attributes);
            u64::from(self.pool[clip].ms)
        } else {
            let rec = self.clip(Kind::Call(topic));
            let ms = u64::from(self.pool[rec].ms);
            items.push(Item {
                key: ContentKey::Type(ContentType::CallRecording),
                upload: audio_upload(ContentType::CallRecording, |_| {}),
                body: Body::Audio(rec),
            });
            if self.rng.gen_bool(0.12) {
                attributes.recording_kind = Some(RecordingKind::OnDemand);
                attributes.owning_user_id = Some(agent.id.to_string());
                attributes.recording_rule_ids.clear();
            }
            if direction == Direction::Inbound && self.rng.gen_bool(0.06) {
                let clip = self.clip(Kind::Ivr);
                let plan = data::one_of(&mut self.rng, data::INTERACTION_PLANS).to_string();
                items.push(Item {
                    key: ContentKey::Unique(self.uuid()),
                    upload: audio_upload(ContentType::IvrAudioRecording, |u| {
                        u.owning_interaction_plan = Some(plan)
                    }),
                    body: Body::Audio(clip),
                });
            }
            ms
        };
        if items
            .iter()
            .any(|i| i.upload.content_type.is_some_and(is_text))
        {
            self.analytics(&mut items, topic, language);
        }
        let call_ms = talk_ms + self.rng.gen_range(3_000..25_000);
        let start = self.start(call_ms);
        Ok(Plan {
            meta: InteractionMeta {
                guid,
                start,
                end: Some(start + TimeDelta::milliseconds(call_ms as i64)),
                direction,
                connect_from: connect_from.into(),
                connect_to: connect_to.into(),
                caller_name: Some(caller_name.into()),
                extensions: agents.iter().map(|a| a.extension.to_string()).collect(),
                handling_agents: agents.iter().map(|a| a.id.into()).collect(),
                queue_id: queue
                    .map(|q| format!("{}~~queue~~{}~~{}", self.tenant, q.media, q.number).into()),
                queue_name: queue.map(|q| q.name.into()),
                channel: Some(channel.into()),
                attributes,
            },
            items,
        })
    }

    fn uuid(&mut self) -> uuid::Uuid {
        uuid::Builder::from_random_bytes(self.rng.gen()).into_uuid()
    }

    fn queue(&mut self, queues: &'static [Queue]) -> &'static Queue {
        queues
            .choose_weighted(&mut self.rng, |q| q.weight)
            .expect("queue weights are positive")
    }

    /// A start inside a business-weighted hour, moved back if the call would not have
    /// ended by `now`: the vault only holds finished interactions.
    fn start(&mut self, call_ms: u64) -> DateTime<Utc> {
        let hour = self.hours[self.rng.sample(&self.hour_weights)];
        let start = hour + TimeDelta::seconds(self.rng.gen_range(0..3600));
        start.min(self.now - TimeDelta::milliseconds(call_ms as i64))
    }

    fn attributes(
        &mut self,
        direction: Direction,
        queue: Option<&Queue>,
        agent: &str,
    ) -> Attributes {
        let r = &mut self.rng;
        // Calls between colleagues are only recorded when one of them asks for it.
        let Some(q) = queue else {
            return Attributes {
                transaction_id: Some(r.gen_range(4_100_000..4_900_000u32).to_string()),
                recording_kind: Some(RecordingKind::OnDemand),
                owning_user_id: Some(agent.to_string()),
                ..Attributes::default()
            };
        };
        let mut rules = vec![match direction {
            Direction::Outbound => data::RULE_OUTBOUND,
            _ => data::RULE_INBOUND,
        }];
        if q.topic == Topic::Billing {
            rules.push(data::RULE_BILLING);
        }
        Attributes {
            case_id: (q.topic != Topic::Sales && r.gen_bool(0.5))
                .then(|| format!("CS-{:06}", r.gen_range(0..1_000_000))),
            account_number: r
                .gen_bool(0.85)
                .then(|| format!("{:08}", r.gen_range(10_000_000..100_000_000))),
            transaction_id: Some(r.gen_range(4_100_000..4_900_000u32).to_string()),
            ext_var1: Some(data::one_of(r, data::TIERS).to_string()),
            ext_var2: (q.topic == Topic::Sales)
                .then(|| format!("OPP-{:05}", r.gen_range(0..100_000))),
            wrap_up_code: Some(data::one_of(r, data::wrap_up_codes(q.topic)).to_string()),
            out_dial_code: (direction == Direction::Outbound)
                .then(|| data::one_of(r, data::OUT_DIAL_CODES).to_string()),
            recording_rule_ids: rules.into_iter().map(str::to_string).collect(),
            recording_kind: Some(RecordingKind::Company),
            owning_user_id: None,
        }
    }

    fn analytics(&mut self, items: &mut Vec<Item>, topic: Topic, language: &str) {
        if self.rng.gen_bool(0.35) {
            let body = data::sentiment(&mut self.rng);
            items.push(json_item(ContentType::SentimentSummary, body, |_| {}));
        }
        if self.rng.gen_bool(0.3) {
            let body = data::categorization(&mut self.rng, topic);
            items.push(json_item(ContentType::CategorizationResult, body, |_| {}));
        }
        if self.rng.gen_bool(0.25) {
            let body = data::conversation_summary(language, topic);
            items.push(json_item(ContentType::ConversationSummary, body, |_| {}));
        }
    }
}

/// Chats and voicemails are not captured by recording rules, so the Call Recording
/// dialect must not list them as company or on-demand recordings.
fn not_a_call_recording(attributes: &mut Attributes) {
    attributes.recording_rule_ids.clear();
    attributes.recording_kind = None;
    attributes.owning_user_id = None;
}

/// Analytics are derived from text, so only interactions with a transcript get them.
fn is_text(t: ContentType) -> bool {
    matches!(t, ContentType::Transcript | ContentType::ChatTranscript)
}

/// Relative call volume of an hour (UTC, within an hour of the demo tenant's London time):
/// office hours with a lunch dip, a quiet evening, little at night or at weekends.
fn busy_factor(hour: DateTime<Utc>) -> f64 {
    let by_hour = match hour.hour() {
        8 | 14 | 15 => 1.0,
        9..=11 => 0.95,
        13 => 0.85,
        12 | 16 => 0.75,
        7 | 17 => 0.45,
        18 => 0.2,
        19..=21 => 0.08,
        _ => 0.02,
    };
    match hour.weekday() {
        Weekday::Sat => by_hour * 0.3,
        Weekday::Sun => by_hour * 0.15,
        _ => by_hour,
    }
}

fn audio_upload(t: ContentType, set: impl FnOnce(&mut ContentUpload)) -> ContentUpload {
    let mut upload = ContentUpload {
        content_type: Some(t),
        media_type: "audio/mpeg".into(),
        ..ContentUpload::default()
    };
    set(&mut upload);
    upload
}

fn json_item(
    t: ContentType,
    body: serde_json::Value,
    set: impl FnOnce(&mut ContentUpload),
) -> Item {
    let mut upload = ContentUpload {
        content_type: Some(t),
        media_type: "application/json".into(),
        ..ContentUpload::default()
    };
    set(&mut upload);
    Item {
        key: ContentKey::Type(t),
        upload,
        body: Body::Json(Bytes::from(body.to_string())),
    }
}
