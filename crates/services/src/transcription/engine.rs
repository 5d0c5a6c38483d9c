//! The interface every speech-to-text engine implements. The pipeline decodes and
//! resamples once; an engine receives one channel of 16 kHz mono samples and answers
//! timed text.

use async_trait::async_trait;

/// The sample rate every engine receives.
pub const ENGINE_RATE: u32 = 16_000;

/// One channel of a recording, ready for an engine.
#[derive(Debug, Clone)]
pub struct Speech {
    /// 16 kHz mono samples.
    pub samples: Vec<i16>,
    /// BCP 47, e.g. `en-US`.
    pub language: String,
}

impl Speech {
    pub fn duration_ms(&self) -> u64 {
        self.samples.len() as u64 * 1000 / u64::from(ENGINE_RATE)
    }
}

/// One stretch of recognised speech, timed from the start of the channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Heard {
    pub start_ms: u64,
    pub end_ms: u64,
    pub text: String,
    pub confidence: Option<f32>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// The engine cannot be reached or is overloaded (connection refused, timeout, 429,
    /// 5xx): the job waits and tries again, without counting the try.
    #[error("the transcription engine is unavailable: {0}")]
    Unavailable(String),
    /// The engine answered but could not transcribe this audio: counts against the
    /// job's tries.
    #[error("the transcription engine failed: {0}")]
    Failed(String),
}

#[async_trait]
pub trait Engine: Send + Sync + 'static {
    /// The engine's name in configuration and in the transcript (`pocketsphinx`, `openai`).
    fn name(&self) -> &'static str;
    /// The model it runs, as the transcript records it.
    fn model(&self) -> String;
    async fn transcribe(&self, speech: Speech) -> Result<Vec<Heard>, EngineError>;
}
