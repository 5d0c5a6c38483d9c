//! Fixed tables behind the demo data, and the JSON documents built from them. The tables
//! do not depend on the seed, so every demo tenant has the same staff and queues and only
//! the traffic differs between seeds. Word lists are `|`-separated strings to keep them
//! readable at a glance.
//!
//! Phone numbers come from ranges reserved for drama and documentation (Ofcom's 07700 900xxx
//! and 0113 496 0xxx style ranges, the North American 555-01xx block) so that a demo can
//! never show or dial a real subscriber.

use rand::seq::{IteratorRandom, SliceRandom};
use rand::Rng;
use serde_json::{json, Value};

pub struct Agent {
    pub id: &'static str,
    pub name: &'static str,
    pub extension: &'static str,
}

macro_rules! agents {
    ($(($id:literal, $name:literal, $ext:literal)),* $(,)?) => {
        &[$(Agent { id: $id, name: $name, extension: $ext }),*]
    };
}

/// Agents 0..10 take sales work, 10..20 service work, 20.. billing and collections.
pub const AGENTS: &[Agent] = agents![
    ("1342", "Priya Shah", "2101"),
    ("1357", "Tom Gallagher", "2102"),
    ("1388", "Aisha Bello", "2103"),
    ("1401", "Marcus Reid", "2104"),
    ("1419", "Hannah Kowalski", "2105"),
    ("1436", "Daniel Okafor", "2106"),
    ("1452", "Sophie Turner", "2107"),
    ("1467", "Liam Brennan", "2108"),
    ("1483", "Chloe Martin", "2109"),
    ("1490", "Ravi Patel", "2110"),
    ("1512", "Emily Clarke", "2201"),
    ("1528", "Jamal Hussain", "2202"),
    ("1533", "Grace O'Neill", "2203"),
    ("1547", "Oliver Price", "2204"),
    ("1561", "Zara Ahmed", "2205"),
    ("1574", "Ben Harris", "2206"),
    ("1589", "Niamh Walsh", "2207"),
    ("1596", "Lucas Silva", "2208"),
    ("1603", "Freya Evans", "2209"),
    ("1618", "Samuel Adeyemi", "2210"),
    ("1624", "Megan Hughes", "2301"),
    ("1639", "Kieran Doyle", "2302"),
    ("1645", "Isla Robertson", "2303"),
    ("1652", "Arjun Mehta", "2304"),
    ("1667", "Ruth Campbell", "2305"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    Sales,
    Support,
    Billing,
}

pub struct Queue {
    /// Last part of the `tenant~~queue~~media~~number` identifier the Recordings API shows.
    pub number: u16,
    pub media: &'static str,
    pub name: &'static str,
    pub agents: std::ops::Range<usize>,
    /// The company number customers dial (UK) and its North American twin.
    pub ddi_uk: &'static str,
    pub ddi_us: &'static str,
    pub topic: Topic,
    pub weight: u32,
}

macro_rules! queues {
    ($(($n:literal, $media:literal, $name:literal, $agents:expr, $uk:literal, $us:literal,
        $topic:ident, $weight:literal)),* $(,)?) => {
        &[$(Queue {
            number: $n, media: $media, name: $name, agents: $agents, ddi_uk: $uk, ddi_us: $us,
            topic: Topic::$topic, weight: $weight,
        }),*]
    };
}

pub const INBOUND_QUEUES: &[Queue] = queues! {
    (101, "phone", "Sales", 0..10, "442079460100", "12125550101", Sales, 30),
    (102, "phone", "Support", 10..20, "442079460200", "12125550102", Support, 35),
    (103, "phone", "Billing", 20..25, "442079460300", "12125550103", Billing, 20),
    (104, "phone", "Technical Support", 14..20, "442079460400", "12125550104", Support, 10),
    (105, "phone", "Retentions", 5..12, "442079460500", "12125550105", Sales, 5),
};

pub const OUTBOUND_QUEUES: &[Queue] = queues! {
    (201, "outbound", "Sales Outbound", 0..10, "442079460600", "12125550106", Sales, 50),
    (202, "outbound", "Collections", 20..25, "442079460700", "12125550107", Billing, 30),
    (203, "outbound", "Renewals", 5..12, "442079460800", "12125550108", Sales, 20),
};

pub const CHAT_QUEUE: &[Queue] = queues! {
    (301, "chat", "Web Chat", 10..20, "chat-support", "chat-support", Support, 1),
};

const FIRST_NAMES: &str = "James|Olivia|Mohammed|Amelia|Jack|Isabella|Harry|Ava|George|Mia|\
    Noah|Evie|Leo|Lily|Arthur|Sienna|Oscar|Poppy|Charlie|Florence|Michael|Jennifer|David|\
    Maria|Robert|Linda|Carlos|Wei|Fatima|Anjali|Tomasz|Agnieszka|Seun|Chidi|Kofi|Yuki";

const LAST_NAMES: &str = "Smith|Jones|Williams|Taylor|Brown|Davies|Evans|Wilson|Thomas|\
    Johnson|Roberts|Walker|Wright|Thompson|White|Edwards|Green|Hall|Wood|Khan|Lewis|Jackson|\
    Garcia|Martinez|Nowak|Chen|Okoye|Mensah|Murphy|O'Brien|MacDonald|Singh";

/// UK drama ranges, 9 digits of prefix before 3 free digits; mobiles are listed thrice for
/// their share of callers. London's 020 7946 0xxx is kept for the company's own numbers.
const UK_PREFIXES: &str = "447700900|447700900|447700900|441134960|441144960|441154960|\
    441174960|441184960|441214960|441314960|441414960|441614960|441914980|441632960";

const US_AREAS: &str = "212|312|415|617|702|732";

pub const OUT_DIAL_CODES: &str =
    "Follow-up|Quote Chase|Renewal Reminder|Arrears Contact|Appointment Reminder";

pub const TIERS: &str = "Bronze|Silver|Gold|Platinum";

/// Company rules on the Call Recording API side: record all inbound, all outbound, and
/// everything on the billing lines (payments are a compliance requirement).
pub const RULE_INBOUND: &str = "1989";
pub const RULE_OUTBOUND: &str = "2012";
pub const RULE_BILLING: &str = "449";

/// Interaction plans with an IVR Data Collector step, in the shape `001` shows.
pub const INTERACTION_PLANS: &str =
    "816f1144-ac27-4bba-a280-cc66|2c9a07e1-5d3b-41f0-9e62-aa41|f03b6d2e-8817-4c55-b1d9-7e02";

pub fn wrap_up_codes(topic: Topic) -> &'static str {
    match topic {
        Topic::Sales => "Sale|No Sale|Quote Sent|Callback Requested|Not Interested",
        Topic::Support => "Resolved|Escalated|Engineer Booked|Callback Requested|Known Issue",
        Topic::Billing => {
            "Payment Taken|Payment Plan Agreed|Refund Issued|Query Answered|Dispute Raised"
        }
    }
}

fn categories(topic: Topic) -> &'static str {
    match topic {
        Topic::Sales => "New Business|Pricing Enquiry|Contract Terms",
        Topic::Support => "Fault Report|Connectivity|Handset Issue",
        Topic::Billing => "Invoice Query|Payment|Disputed Charge",
    }
}

pub fn uk_number(rng: &mut impl Rng) -> String {
    format!("{}{:03}", one_of(rng, UK_PREFIXES), rng.gen_range(0..1000))
}

pub fn us_number(rng: &mut impl Rng) -> String {
    format!(
        "1{}55501{:02}",
        one_of(rng, US_AREAS),
        rng.gen_range(0..100)
    )
}

pub fn person(rng: &mut impl Rng) -> String {
    format!("{} {}", one_of(rng, FIRST_NAMES), one_of(rng, LAST_NAMES))
}

pub fn one_of(rng: &mut impl Rng, words: &'static str) -> &'static str {
    words
        .split('|')
        .choose(rng)
        .expect("demo word lists are never empty")
}

pub fn pick<'a, T>(rng: &mut impl Rng, items: &'a [T]) -> &'a T {
    items.choose(rng).expect("demo tables are never empty")
}

const AGENT_LINES: &[&str] = &[
    "Thank you for calling, you're through to {name}. How can I help today?",
    "Can I take your account number, please?",
    "Thanks, and just to confirm security, could you give me the first line of your address?",
    "I can see that on the account now.",
    "Let me just check that for you, bear with me one moment.",
    "I've made a note of that on your record.",
    "Is there anything else I can help you with today?",
    "Thanks for your patience, I'm back with you now.",
    "I'll send a confirmation over by email within the hour.",
    "Thanks for calling, have a lovely rest of your day.",
];

fn customer_lines(topic: Topic) -> &'static [&'static str] {
    match topic {
        Topic::Sales => &[
            "Hi, I'm calling about the business broadband offer I saw online.",
            "What would the monthly price be on a 24 month contract?",
            "Does that include the installation?",
            "We've got about fifteen people in the office.",
            "Could you send me a quote so I can run it past my manager?",
            "That sounds good, let's go ahead.",
        ],
        Topic::Support => &[
            "Hi, our phones have been dropping calls since this morning.",
            "It's happening on every handset, not just one.",
            "Yes, I've already tried restarting the router.",
            "The lights on the front are flashing orange.",
            "Okay, I'll hold while you run the line test.",
            "Great, that seems to be working again now.",
        ],
        Topic::Billing => &[
            "Hi, I've got a question about my latest invoice.",
            "There's a charge on there I don't recognise.",
            "It's the one for international calls on the twelfth.",
            "Can I pay the outstanding balance by card now?",
            "Could we spread it over three months instead?",
            "Thanks, that clears it up.",
        ],
    }
}

fn summary(topic: Topic) -> (&'static str, &'static [&'static str]) {
    match topic {
        Topic::Sales => (
            "Customer enquired about business broadband pricing; agent explained contract options and agreed to send a quote.",
            &["Send written quote", "Follow up in 3 working days"],
        ),
        Topic::Support => (
            "Customer reported dropped calls on all handsets; agent ran a line test and the fault cleared after a remote reset.",
            &["Monitor line for 48 hours"],
        ),
        Topic::Billing => (
            "Customer queried an international call charge; agent explained the charge and took payment for the balance.",
            &["Email payment receipt"],
        ),
    }
}

/// Chat messages spread over the declared duration, offsets relative to the chat's start.
pub fn chat_transcript(
    rng: &mut impl Rng,
    agent_id: &str,
    duration_ms: u64,
    topic: Topic,
) -> Value {
    let customer = customer_lines(topic);
    let turns = rng.gen_range(4..=10);
    let messages: Vec<Value> = (0..turns)
        .map(|i| {
            let from_agent = i % 2 == 1;
            let text = if from_agent {
                AGENT_LINES[(i / 2 + 1) % AGENT_LINES.len()].to_string()
            } else {
                customer[(i / 2) % customer.len()].to_string()
            };
            let mut m = json!({
                "from": if from_agent { "agent" } else { "customer" },
                "offsetMs": duration_ms * i as u64 / turns as u64,
                "text": text,
            });
            if from_agent {
                m["agentId"] = json!(agent_id);
            }
            m
        })
        .collect();
    json!({ "version": 1, "channel": "webchat", "messages": messages })
}

pub fn sentiment(rng: &mut impl Rng) -> Value {
    let mut score = || (rng.gen_range(-0.6..0.9f64) * 100.0).round() / 100.0;
    let (customer, agent) = (score(), score().abs());
    let overall = (customer + agent) / 2.0;
    let label = match overall {
        s if s > 0.25 => "positive",
        s if s < -0.1 => "negative",
        _ => "neutral",
    };
    json!({
        "overall": { "label": label, "score": (overall * 100.0).round() / 100.0 },
        "customer": { "score": customer },
        "agent": { "score": agent },
    })
}

pub fn categorization(rng: &mut impl Rng, topic: Topic) -> Value {
    let names: Vec<&str> = categories(topic).split('|').collect();
    let n = rng.gen_range(1..=names.len());
    let found: Vec<Value> = names[..n]
        .iter()
        .map(|name| json!({ "name": name, "confidence": (rng.gen_range(0.6..0.99f64) * 100.0).round() / 100.0 }))
        .collect();
    json!({ "categories": found })
}

pub fn conversation_summary(language: &str, topic: Topic) -> Value {
    let (text, actions) = summary(topic);
    json!({ "language": language, "summary": text, "actionItems": actions })
}
