//! The engines for real: PocketSphinx from Debian's packages (installed by the test
//! command) on the demo's own recordings, and the OpenAI-compatible client against a
//! server on loopback that speaks that protocol.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::decode::decode_channels;
use super::engine::{Engine, EngineError, Speech};
use super::openai::{OpenAi, OpenAiSettings};
use super::pocketsphinx::{PocketSphinx, DEFAULT_MODEL_DIR};

const SUPPORT_1: &[u8] = include_bytes!("../../demo-audio/support-1.mp3");

fn words(text: &str) -> Vec<&str> {
    text.split_whitespace().collect()
}

#[tokio::test]
async fn pocketsphinx_hears_each_party_on_its_own_channel() {
    let engine = PocketSphinx::open(DEFAULT_MODEL_DIR.as_ref())
        .expect("PocketSphinx is installed by scripts/test.sh");
    let channels = decode_channels(SUPPORT_1.to_vec(), "audio/mpeg").unwrap();
    assert_eq!(channels.len(), 2);
    let mut said = Vec::new();
    for samples in channels {
        let heard = engine
            .transcribe(Speech {
                samples,
                language: "en-US".into(),
            })
            .await
            .unwrap();
        assert!(heard.windows(2).all(|w| w[0].end_ms <= w[1].start_ms));
        said.push(
            heard
                .iter()
                .map(|h| h.text.clone())
                .collect::<Vec<_>>()
                .join(" "),
        );
    }
    // The agent's channel holds the agent's words and none of the customer's.
    let (agent, customer) = (words(&said[0]), words(&said[1]));
    for w in ["calling", "support", "test"] {
        assert!(agent.contains(&w), "agent: {agent:?}");
    }
    for w in ["phones", "dropping", "calls", "orange", "hold"] {
        assert!(customer.contains(&w), "customer: {customer:?}");
        assert!(!agent.contains(&w), "agent: {agent:?}");
    }
}

#[tokio::test]
async fn pocketsphinx_hears_nothing_in_silence() {
    let engine = PocketSphinx::open(DEFAULT_MODEL_DIR.as_ref()).unwrap();
    let heard = engine
        .transcribe(Speech {
            samples: vec![0; 16_000 * 5],
            language: "en-US".into(),
        })
        .await
        .unwrap();
    assert!(heard.is_empty(), "{heard:?}");
}

#[tokio::test]
async fn pocketsphinx_is_loaded_only_once_something_is_transcribed() {
    let mapped = || {
        std::fs::read_to_string("/proc/self/maps")
            .unwrap()
            .contains("libpocketsphinx")
    };
    let engine = PocketSphinx::open(DEFAULT_MODEL_DIR.as_ref()).unwrap();
    assert!(!mapped(), "open only checks that the library loads");
    engine
        .transcribe(Speech {
            samples: vec![0; 16_000],
            language: "en-US".into(),
        })
        .await
        .unwrap();
    assert!(mapped());
}

/// A server speaking the OpenAI transcription protocol, answering from a script: each
/// request takes the next answer; every request's form fields are kept.
struct Script {
    answers: Vec<(u16, Option<&'static str>, serde_json::Value)>,
    next: AtomicUsize,
    forms: std::sync::Mutex<Vec<Vec<(String, usize)>>>,
}

async fn transcriptions(State(s): State<Arc<Script>>, mut form: Multipart) -> Response {
    let mut fields = Vec::new();
    while let Ok(Some(field)) = form.next_field().await {
        let name = field.name().unwrap_or_default().to_string();
        let bytes = field.bytes().await.unwrap_or_default();
        let shown = if name == "file" {
            bytes.len()
        } else {
            fields.push((format!("{name}={}", String::from_utf8_lossy(&bytes)), 0));
            continue;
        };
        fields.push((name, shown));
    }
    s.forms.lock().unwrap().push(fields);
    let n = s
        .next
        .fetch_add(1, Ordering::SeqCst)
        .min(s.answers.len() - 1);
    let (status, retry_after, body) = s.answers[n].clone();
    let mut r = (StatusCode::from_u16(status).unwrap(), Json(body)).into_response();
    if let Some(v) = retry_after {
        r.headers_mut().insert("retry-after", v.parse().unwrap());
    }
    r
}

async fn serve(
    answers: Vec<(u16, Option<&'static str>, serde_json::Value)>,
) -> (String, Arc<Script>) {
    let script = Arc::new(Script {
        answers,
        next: AtomicUsize::new(0),
        forms: Default::default(),
    });
    let app = axum::Router::new()
        .route(
            "/v1/audio/transcriptions",
            axum::routing::post(transcriptions),
        )
        .with_state(script.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, script)
}

fn engine(base_url: String) -> OpenAi {
    OpenAi::open(OpenAiSettings {
        base_url,
        model: "whisper-large-v3".into(),
        api_key: Some("k".into()),
        timeout_secs: 5,
    })
    .unwrap()
}

fn speech() -> Speech {
    Speech {
        samples: vec![0; 16_000],
        language: "en-US".into(),
    }
}

#[tokio::test]
async fn openai_engine_retries_overload_and_reads_verbose_segments() {
    let ok = json!({"text": " hello there", "language": "english", "duration": 1.0,
        "segments": [{"id": 0, "start": 0.25, "end": 0.9, "text": " hello there", "avg_logprob": -0.1}]});
    let (url, script) = serve(vec![
        (429, Some("0"), json!({"error": {"message": "slow down"}})),
        (503, None, json!({"error": "loading model"})),
        (200, None, ok),
    ])
    .await;
    let heard = engine(url).transcribe(speech()).await.unwrap();
    assert_eq!(heard.len(), 1);
    assert_eq!((heard[0].start_ms, heard[0].end_ms), (250, 900));
    assert_eq!(heard[0].text, "hello there");
    assert!((heard[0].confidence.unwrap() - 0.905).abs() < 0.01);
    let forms = script.forms.lock().unwrap();
    assert_eq!(forms.len(), 3, "two retries");
    let fields: Vec<&str> = forms[2].iter().map(|(f, _)| f.as_str()).collect();
    for want in [
        "model=whisper-large-v3",
        "language=en",
        "response_format=verbose_json",
        "file",
    ] {
        assert!(fields.contains(&want), "{fields:?}");
    }
    let file = forms[2].iter().find(|(f, _)| f == "file").unwrap();
    assert_eq!(file.1, 44 + 32_000, "one second of 16 kHz 16-bit WAV");
}

#[tokio::test]
async fn openai_engine_down_is_unavailable_and_a_refusal_is_a_failure() {
    let (url, script) = serve(vec![(
        500,
        None,
        json!({"error": {"message": "GPU on fire"}}),
    )])
    .await;
    let e = engine(url).transcribe(speech()).await.unwrap_err();
    assert_eq!(
        e,
        EngineError::Unavailable("HTTP 500 Internal Server Error: GPU on fire".into())
    );
    assert_eq!(script.forms.lock().unwrap().len(), 4, "every try used");

    let (url, script) = serve(vec![(
        400,
        None,
        json!({"error": {"message": "unsupported language"}}),
    )])
    .await;
    let e = engine(url).transcribe(speech()).await.unwrap_err();
    assert_eq!(
        e,
        EngineError::Failed("HTTP 400 Bad Request: unsupported language".into())
    );
    assert_eq!(script.forms.lock().unwrap().len(), 1, "not retried");

    // Nothing listening: unavailable, so the job waits instead of failing.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let e = engine(url).transcribe(speech()).await.unwrap_err();
    assert!(matches!(e, EngineError::Unavailable(_)), "{e:?}");
}

#[test]
fn a_base_url_that_is_not_http_is_refused_at_start() {
    for bad in ["not a url", "file:///etc", "ftp://x"] {
        let e = OpenAi::open(OpenAiSettings {
            base_url: bad.into(),
            model: "m".into(),
            api_key: None,
            timeout_secs: 1,
        })
        .err()
        .unwrap();
        assert!(e.contains("transcription.openai.base_url"), "{e}");
    }
}

mod pipeline {
    use std::convert::Infallible;

    use bytes::Bytes;
    use callvault_core::transcription::TranscriptionState;
    use callvault_core::{ContentKey, ContentType, Direction, Guid, InteractionMeta, TenantId};
    use futures::stream;

    use crate::ingest::ContentUpload;
    use crate::transcription::{EngineKind, OpenAiSettings, TranscriptionSettings, Turn};
    use crate::{Vault, VaultConfig};

    async fn vault(dir: &std::path::Path, t: TranscriptionSettings) -> std::sync::Arc<Vault> {
        let mut config = VaultConfig::embedded(dir);
        config.transcription = t;
        Vault::open_embedded(config).await.unwrap()
    }

    /// A tenant with one inbound call whose recording is `wav`.
    async fn call(v: &Vault, wav: Vec<u8>) -> (TenantId, Guid) {
        let t = v.store.create_tenant("acme", "UTC").await.unwrap().id;
        (t, call_in(v, t, wav).await)
    }

    /// One more inbound call of tenant `t`, whose recording is `wav`.
    async fn call_in(v: &Vault, t: TenantId, wav: Vec<u8>) -> Guid {
        let guid = Guid::new_random();
        let meta = InteractionMeta {
            guid: guid.clone(),
            start: chrono::Utc::now(),
            end: None,
            direction: Direction::Inbound,
            connect_from: "+15550100".into(),
            connect_to: "2000".into(),
            caller_name: None,
            handling_agents: vec!["a1".into()],
            extensions: vec![],
            queue_id: None,
            queue_name: None,
            channel: None,
            attributes: Default::default(),
        };
        v.upsert_interaction(t, &meta).await.unwrap();
        let upload = ContentUpload {
            content_type: Some(ContentType::CallRecording),
            media_type: "audio/wav".into(),
            ..Default::default()
        };
        let body = stream::iter([Ok::<_, Infallible>(Bytes::from(wav))]);
        v.put_content(
            t,
            &guid,
            &ContentKey::Type(ContentType::CallRecording),
            upload,
            body,
        )
        .await
        .unwrap();
        guid
    }

    async fn state(v: &Vault, t: TenantId, g: &Guid) -> (TranscriptionState, Option<String>) {
        let i = v.store.get_interaction(t, g).await.unwrap().unwrap();
        v.transcription_states(t, &[i.id]).await.unwrap()[&i.id].clone()
    }

    #[tokio::test]
    async fn silence_gives_an_empty_ready_transcript() {
        let dir = tempfile::tempdir().unwrap();
        let v = vault(dir.path(), TranscriptionSettings::default()).await;
        let (t, g) = call(&v, super::super::decode::wav(&vec![0; 16_000 * 3])).await;
        assert_eq!(
            state(&v, t, &g).await.0,
            TranscriptionState::Pending,
            "queued by ingest"
        );
        assert_eq!(v.run_next_transcription().await.unwrap(), Turn::Transcribed);
        assert_eq!(state(&v, t, &g).await, (TranscriptionState::Ready, None));
        let i = v.store.get_interaction(t, &g).await.unwrap().unwrap();
        let item = i.content.iter().find(|c| c.key == "transcript").unwrap();
        let doc: serde_json::Value =
            serde_json::from_slice(&v.read_all(item).await.unwrap()).unwrap();
        assert_eq!(doc["segments"], serde_json::json!([]));
        assert_eq!(doc["durationMs"], 3000);
        assert_eq!(
            v.run_next_transcription().await.unwrap(),
            Turn::Idle,
            "nothing left"
        );
    }

    /// The OpenAI-compatible engine at an address where nothing listens.
    fn engine_down() -> TranscriptionSettings {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base_url = format!("http://{}", closed.local_addr().unwrap());
        drop(closed);
        TranscriptionSettings {
            engine: EngineKind::Openai,
            openai: Some(OpenAiSettings {
                base_url,
                model: "m".into(),
                api_key: None,
                timeout_secs: 1,
            }),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn an_engine_that_is_down_leaves_the_job_pending_with_its_reason() {
        let dir = tempfile::tempdir().unwrap();
        let v = vault(dir.path(), engine_down()).await;
        let (t, g) = call(&v, super::super::decode::wav(&vec![0; 16_000])).await;
        assert_eq!(v.run_next_transcription().await.unwrap(), Turn::Settled);
        let (s, error) = state(&v, t, &g).await;
        assert_eq!(s, TranscriptionState::Pending);
        assert!(error.unwrap().contains("unavailable"));
        assert_eq!(
            v.run_next_transcription().await.unwrap(),
            Turn::Idle,
            "backing off"
        );
        let status = v.transcription_status(Some(t)).await.unwrap();
        assert_eq!(status.jobs.get("pending"), Some(&1));
    }

    #[tokio::test]
    async fn a_down_engine_is_left_alone_after_two_jobs_found_it_down() {
        let dir = tempfile::tempdir().unwrap();
        let v = vault(dir.path(), engine_down()).await;
        let wav = || super::super::decode::wav(&vec![0; 16_000]);
        let (t, first) = call(&v, wav()).await;
        let others = [call_in(&v, t, wav()).await, call_in(&v, t, wav()).await];
        assert_eq!(
            v.run_next_transcription().await.unwrap(),
            Turn::Settled,
            "may be the job's"
        );
        assert_eq!(
            v.run_next_transcription().await.unwrap(),
            Turn::Settled,
            "a second job: the engine's"
        );
        assert_eq!(
            v.run_next_transcription().await.unwrap(),
            Turn::Idle,
            "the runner waits"
        );
        let mut states = vec![state(&v, t, &first).await];
        for g in &others {
            states.push(state(&v, t, g).await);
        }
        let untouched = states.iter().filter(|(_, error)| error.is_none()).count();
        assert_eq!(untouched, 1, "the third job was not claimed: {states:?}");
    }

    #[tokio::test]
    async fn with_every_engine_off_queued_jobs_are_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let queued_by = vault(dir.path(), engine_down()).await;
        let (t, g) = call(&queued_by, super::super::decode::wav(&vec![0; 16_000])).await;
        let off = vault(dir.path(), TranscriptionSettings::off()).await;
        assert_eq!(off.run_next_transcription().await.unwrap(), Turn::Idle);
        assert_eq!(
            state(&off, t, &g).await,
            (TranscriptionState::Pending, None)
        );
    }

    #[tokio::test]
    async fn a_tenant_whose_engine_is_off_waits_an_hour_without_an_error_counted() {
        let dir = tempfile::tempdir().unwrap();
        let queued_by = vault(dir.path(), engine_down()).await;
        let (t, g) = call(&queued_by, super::super::decode::wav(&vec![0; 16_000])).await;
        let mut settings = engine_down();
        settings.tenants.insert(
            "acme".into(),
            crate::transcription::TenantTranscription {
                engine: Some(EngineKind::None),
                content_types: None,
                directions: None,
            },
        );
        let v = vault(dir.path(), settings).await;
        assert_eq!(
            v.run_next_transcription().await.unwrap(),
            Turn::Settled,
            "claimed and put back"
        );
        assert_eq!(
            v.run_next_transcription().await.unwrap(),
            Turn::Idle,
            "not due again"
        );
        let i = v.store.get_interaction(t, &g).await.unwrap().unwrap();
        let job = v
            .store
            .transcription_jobs(t, &[i.id])
            .await
            .unwrap()
            .remove(0);
        assert_eq!((job.state, job.attempts), (TranscriptionState::Pending, 0));
        assert!(job.error.unwrap().contains("off for this tenant"));
        let wait = job.not_before - chrono::Utc::now();
        assert!(wait > chrono::Duration::minutes(59), "{wait}");
    }
}
