//! The OpenAI-compatible engine: `POST {base}/v1/audio/transcriptions`, the protocol
//! that whisper.cpp's server, faster-whisper servers, LocalAI and hosted services share.
//! Each channel is sent as a 16 kHz WAV with `response_format=verbose_json`, whose
//! segments carry their times.

use std::time::Duration;

use async_trait::async_trait;
use reqwest::multipart::{Form, Part};
use serde::Deserialize;

use super::decode::wav;
use super::engine::{Engine, EngineError, Heard, Speech};
use crate::remote::{quote, with_causes};

/// Tries per channel before the engine counts as unavailable for this round.
const TRIES: u32 = 4;
/// The first wait between tries; doubled each time, unless the server says otherwise.
const FIRST_WAIT: Duration = Duration::from_millis(500);
/// The longest `Retry-After` honoured inside one round; longer waits end the round and
/// leave the job to the job backoff.
const MAX_WAIT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenAiSettings {
    /// e.g. `http://127.0.0.1:8080` (the path `/v1/audio/transcriptions` is added).
    pub base_url: String,
    #[serde(default = "default_model")]
    pub model: String,
    #[serde(default)]
    pub api_key: Option<String>,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

fn default_model() -> String {
    "whisper-1".into()
}

fn default_timeout() -> u64 {
    300
}

pub struct OpenAi {
    settings: OpenAiSettings,
    url: url::Url,
    http: reqwest::Client,
}

impl OpenAi {
    pub fn open(settings: OpenAiSettings) -> Result<OpenAi, String> {
        let base = url::Url::parse(&settings.base_url)
            .map_err(|e| format!("transcription.openai.base_url is not a URL: {e}"))?;
        if !matches!(base.scheme(), "http" | "https") || base.host().is_none() {
            return Err("transcription.openai.base_url must be an http or https URL".into());
        }
        let url = base
            .join(&format!(
                "{}/v1/audio/transcriptions",
                base.path().trim_end_matches('/')
            ))
            .map_err(|e| format!("transcription.openai.base_url: {e}"))?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(settings.timeout_secs.max(1)))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(OpenAi {
            settings,
            url,
            http,
        })
    }

    async fn once(&self, speech: &Speech) -> Result<Vec<Heard>, Try> {
        let language = speech
            .language
            .split('-')
            .next()
            .unwrap_or("en")
            .to_string();
        let file = Part::bytes(wav(&speech.samples))
            .file_name("audio.wav")
            .mime_str("audio/wav")
            .map_err(|e| Try::Final(EngineError::Failed(e.to_string())))?;
        let form = Form::new()
            .part("file", file)
            .text("model", self.settings.model.clone())
            .text("language", language)
            .text("response_format", "verbose_json");
        let mut req = self.http.post(self.url.clone()).multipart(form);
        if let Some(key) = &self.settings.api_key {
            req = req.bearer_auth(key);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| Try::Again(None, with_causes(&e)))?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = resp
            .text()
            .await
            .map_err(|e| Try::Again(None, format!("reading the answer: {}", with_causes(&e))))?;
        if status.as_u16() == 429 || status.is_server_error() {
            return Err(Try::Again(
                retry_after,
                format!("HTTP {status}: {}", brief(&body)),
            ));
        }
        if !status.is_success() {
            return Err(Try::Final(EngineError::Failed(format!(
                "HTTP {status}: {}",
                brief(&body)
            ))));
        }
        let answer: Verbose = serde_json::from_str(&body).map_err(|e| {
            Try::Final(EngineError::Failed(format!(
                "the answer is not verbose_json ({e}): {}",
                brief(&body)
            )))
        })?;
        Ok(answer.heard(speech.duration_ms()))
    }
}

enum Try {
    /// Worth another try, after the server's wait if it gave one.
    Again(Option<Duration>, String),
    Final(EngineError),
}

/// The error's message as the server gave it (`{"error": {"message": ...}}`), or the
/// start of the body; quoted either way ([`quote`]: short, one line).
fn brief(body: &str) -> String {
    #[derive(Deserialize)]
    struct E {
        error: Inner,
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Inner {
        Object { message: String },
        Text(String),
    }
    match serde_json::from_str::<E>(body) {
        Ok(E {
            error: Inner::Object { message } | Inner::Text(message),
        }) => quote(message.as_bytes()),
        Err(_) => quote(body.as_bytes()),
    }
}

#[derive(Deserialize)]
struct Verbose {
    #[serde(default)]
    text: String,
    #[serde(default)]
    segments: Option<Vec<VerboseSegment>>,
}

#[derive(Deserialize)]
struct VerboseSegment {
    start: f64,
    end: f64,
    text: String,
    #[serde(default)]
    avg_logprob: Option<f64>,
}

impl Verbose {
    fn heard(self, duration_ms: u64) -> Vec<Heard> {
        let ms = |s: f64| (s.max(0.0) * 1000.0).round() as u64;
        match self.segments {
            Some(segments) => segments
                .into_iter()
                .filter(|s| !s.text.trim().is_empty())
                .map(|s| Heard {
                    start_ms: ms(s.start),
                    end_ms: ms(s.end).max(ms(s.start)),
                    text: s.text.trim().to_string(),
                    confidence: s.avg_logprob.map(|p| p.exp().clamp(0.0, 1.0) as f32),
                })
                .collect(),
            // A server without segments: the whole text as one.
            None if !self.text.trim().is_empty() => vec![Heard {
                start_ms: 0,
                end_ms: duration_ms,
                text: self.text.trim().to_string(),
                confidence: None,
            }],
            None => Vec::new(),
        }
    }
}

#[async_trait]
impl Engine for OpenAi {
    fn name(&self) -> &'static str {
        "openai"
    }

    fn model(&self) -> String {
        self.settings.model.clone()
    }

    async fn transcribe(&self, speech: Speech) -> Result<Vec<Heard>, EngineError> {
        let mut wait = FIRST_WAIT;
        let mut last = String::new();
        for attempt in 1..=TRIES {
            match self.once(&speech).await {
                Ok(heard) => return Ok(heard),
                Err(Try::Final(e)) => return Err(e),
                Err(Try::Again(after, why)) => {
                    last = why;
                    let pause = after.unwrap_or(wait);
                    if attempt == TRIES || pause > MAX_WAIT {
                        break;
                    }
                    tracing::debug!(attempt, error = %last, "transcription engine, trying again");
                    tokio::time::sleep(pause).await;
                    wait *= 2;
                }
            }
        }
        Err(EngineError::Unavailable(last))
    }
}
