//! The courier signs and posts webhook notifications, on a thread of its own whose CPU
//! priority is below the request threads'.
//!
//! Why a thread of its own: a signed POST costs CPU (about 90 µs on loopback, most of it
//! the HTTP client and the kernel's TCP), and on a busy node that CPU came out of the
//! requests that caused the events: three subscriptions to every upload cost ingest
//! 11–14 % of its throughput on two cores (docs/benchmarks.md). So the courier runs on a
//! thread below the request threads' priority ([`crate::background`]): when a core is
//! idle it sends at full speed, and when every core is busy the outbox holds the rest a
//! little longer.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};

use super::Delivery;
use crate::clock::Clock;
use crate::egress::EgressPolicy;
use crate::error::{ServiceError, ServiceResult};
use crate::remote::{quote, with_causes, QUOTE_MAX};

/// How long one delivery may take before it counts as failed and is retried, at most: a
/// third of the lease where that is shorter (see [`crate::Vault::run_next_delivery`]).
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// The name of the courier's thread (and of its runtime's helper threads).
const THREAD_NAME: &str = "webhook-send";

/// One subscription's batch, to post in order.
pub(super) struct Parcel {
    /// The receiver's URL, parsed once per batch (by the egress check), not per event.
    pub url: url::Url,
    /// The raw (unsealed) signing key.
    pub key: Vec<u8>,
    pub deliveries: Vec<Delivery>,
    /// The most one request may take.
    pub timeout: Duration,
    /// No request starts after this.
    pub send_until: Instant,
}

/// What became of a parcel: its deliveries, and the outcome of each one tried, in order.
/// Posting stops at the first failure (the rest wait behind it, to keep the order) and
/// at the parcel's deadline, so the outcomes may be fewer than the deliveries.
pub(super) type Posted = (Vec<Delivery>, Vec<Result<(), String>>);

struct Job {
    parcel: Parcel,
    reply: oneshot::Sender<Posted>,
}

/// The handle the senders hand their batches to. Its thread starts with the first batch,
/// so a node without subscriptions spends no memory on it; dropping the handle ends it.
pub struct Courier {
    egress: EgressPolicy,
    clock: Arc<dyn Clock>,
    jobs: OnceLock<Result<mpsc::Sender<Job>, String>>,
}

impl Courier {
    /// A courier whose HTTP client resolves and connects only where the egress policy
    /// allows and follows no redirect.
    pub fn new(egress: &EgressPolicy, clock: Arc<dyn Clock>) -> Courier {
        Courier {
            egress: egress.clone(),
            clock,
            jobs: OnceLock::new(),
        }
    }

    fn jobs(&self) -> Result<&mpsc::Sender<Job>, String> {
        self.jobs
            .get_or_init(|| start(&self.egress, self.clock.clone()))
            .as_ref()
            .map_err(Clone::clone)
    }

    pub(super) async fn deliver(&self, parcel: Parcel) -> ServiceResult<Posted> {
        let jobs = self.jobs().map_err(ServiceError::Unavailable)?;
        let gone = || ServiceError::Unavailable("webhook sending has stopped".into());
        let (reply, answer) = oneshot::channel();
        jobs.send(Job { parcel, reply }).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())
    }
}

/// Starts the courier's thread and answers where to send it batches.
fn start(egress: &EgressPolicy, clock: Arc<dyn Clock>) -> Result<mpsc::Sender<Job>, String> {
    let http = egress
        .http_client(SEND_TIMEOUT)
        .map_err(|e| format!("webhooks cannot be sent: no HTTP client: {e}"))?;
    let (jobs, mut queue) = mpsc::channel::<Job>(16);
    crate::background::spawn_below_requests(THREAD_NAME, move || async move {
        while let Some(Job { parcel, reply }) = queue.recv().await {
            let (http, clock) = (http.clone(), clock.clone());
            tokio::spawn(async move {
                let _ = reply.send(post_all(&http, &*clock, parcel).await);
            });
        }
    })
    .map_err(|e| format!("webhooks cannot be sent: no thread for them: {e}"))?;
    Ok(jobs)
}

async fn post_all(http: &reqwest::Client, clock: &dyn Clock, p: Parcel) -> Posted {
    let mut tried = Vec::with_capacity(p.deliveries.len());
    for d in &p.deliveries {
        if Instant::now() > p.send_until {
            break;
        }
        let result = post(http, clock, d, &p.url, &p.key, p.timeout).await;
        let failed = result.is_err();
        tried.push(result);
        if failed {
            break;
        }
    }
    (p.deliveries, tried)
}

#[derive(Serialize)]
struct Claims<'a> {
    iat: i64,
    exp: i64,
    jti: &'a str,
    payload_hash: String,
}

async fn post(
    http: &reqwest::Client,
    clock: &dyn Clock,
    d: &Delivery,
    url: &reqwest::Url,
    key: &[u8],
    timeout: Duration,
) -> Result<(), String> {
    let body = cloudevent(d)?;
    let now = clock.now().timestamp();
    let claims = Claims {
        iat: now,
        exp: now + 300,
        jti: &d.event_id,
        payload_hash: hex::encode(Sha256::digest(&body)),
    };
    let jwt = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(key),
    )
    .map_err(|e| format!("signing: {e}"))?;
    let resp = http
        .post(url.clone())
        .header("Content-Type", "application/cloudevents+json")
        .header("Vonage-Signature", jwt)
        .timeout(timeout)
        .body(body)
        .send()
        .await
        .map_err(|e| with_causes(&e))?;
    let status = resp.status();
    let said = drain(resp).await;
    if status.is_success() {
        Ok(())
    } else if said.is_empty() {
        Err(format!("the receiver answered HTTP {status}"))
    } else {
        Err(format!("the receiver answered HTTP {status}: {said}"))
    }
}

/// The most of an answer's body that is read: enough for any acknowledgement or error
/// page a receiver sends, little enough that a receiver cannot make the courier read for
/// long.
const ANSWER_MAX: usize = 16 * 1024;

/// Reads the answer's body to its end (at most [`ANSWER_MAX`]) and gives its start as
/// one line of text ([`quote`]). A body left unread closes the connection when the answer is dropped, so a
/// receiver that answers with a body (`200 OK` and a word, a JSON acknowledgement) would
/// cost every delivery a new connection, and over https a new TLS handshake; read to its
/// end, the connection goes back to the client's pool for the next delivery.
async fn drain(mut resp: reqwest::Response) -> String {
    let mut start = Vec::new();
    let mut read = 0;
    while let Ok(Some(chunk)) = resp.chunk().await {
        read += chunk.len();
        let room = QUOTE_MAX.saturating_sub(start.len());
        start.extend_from_slice(&chunk[..room.min(chunk.len())]);
        if read > ANSWER_MAX {
            break;
        }
    }
    quote(&start)
}

/// The CloudEvents 1.0 structured-mode body. The stored data is written into it as
/// stored (checked to be JSON, not decoded and encoded again).
#[derive(Serialize)]
struct CloudEvent<'a> {
    specversion: &'static str,
    id: &'a str,
    source: String,
    #[serde(rename = "type")]
    kind: String,
    time: String,
    datacontenttype: &'static str,
    data: &'a RawValue,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<&'a str>,
}

fn cloudevent(d: &Delivery) -> Result<Vec<u8>, String> {
    let data: &RawValue =
        serde_json::from_str(&d.data).map_err(|e| format!("stored event data: {e}"))?;
    serde_json::to_vec(&CloudEvent {
        specversion: "1.0",
        id: &d.event_id,
        source: format!("/callvault/tenants/{}", d.tenant_id.0),
        kind: d.event_type.cloudevent_type(),
        time: d
            .event_at
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        datacontenttype: "application/json",
        data,
        subject: d.subject.as_deref(),
    })
    .map_err(|e| e.to_string())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use crate::background::{below_this_thread, niceness_of};
    use crate::clock::SystemClock;

    #[test]
    fn a_courier_starts_no_thread_before_its_first_batch() {
        let _courier = Courier::new(&EgressPolicy::default(), Arc::new(SystemClock));
        assert_eq!(niceness_of(THREAD_NAME), Vec::<i32>::new());
    }

    #[test]
    fn the_courier_sends_from_a_thread_below_the_request_threads_priority() {
        let courier = Courier::new(&EgressPolicy::default(), Arc::new(SystemClock));
        courier.jobs().unwrap();
        let want = below_this_thread();
        let deadline = Instant::now() + Duration::from_secs(5);
        while niceness_of(THREAD_NAME) != [want] {
            assert!(
                Instant::now() < deadline,
                "courier threads' niceness: {:?}, want [{want}]",
                niceness_of(THREAD_NAME)
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
