//! Transcription (docs/transcription.md): engines chosen per tenant in configuration,
//! the runner that turns queued recordings into `transcript` content, and search by
//! what was said.

pub mod decode;
pub mod engine;
pub mod openai;
mod pause;
pub mod pocketsphinx;
mod runner;
mod search;
pub mod utterances;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use callvault_core::transcription::TranscribeWhat;
use callvault_core::{ContentType, Direction, TenantId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use engine::{Engine, EngineError, Heard, Speech};
pub use openai::OpenAiSettings;
pub use runner::{Backfill, TranscriptionStatus, Turn};
pub use search::{TextMatch, TextPage, TextSearch};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    /// Built in and offline (CMU PocketSphinx from Debian's packages).
    Pocketsphinx,
    /// An OpenAI-compatible HTTP server.
    Openai,
    None,
}

impl EngineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EngineKind::Pocketsphinx => "pocketsphinx",
            EngineKind::Openai => "openai",
            EngineKind::None => "none",
        }
    }
}

/// The `[transcription]` settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TranscriptionSettings {
    /// Every tenant's engine unless `tenants` names another.
    #[serde(default = "default_engine")]
    pub engine: EngineKind,
    /// BCP 47 language of the recordings.
    #[serde(default = "default_language")]
    pub language: String,
    /// What is transcribed (default: call recordings and voicemails, every direction).
    #[serde(default)]
    pub content_types: Option<Vec<ContentType>>,
    #[serde(default)]
    pub directions: Option<Vec<Direction>>,
    #[serde(default)]
    pub pocketsphinx: PocketSphinxSettings,
    #[serde(default)]
    pub openai: Option<OpenAiSettings>,
    /// Per tenant, by name.
    #[serde(default)]
    pub tenants: BTreeMap<String, TenantTranscription>,
}

fn default_engine() -> EngineKind {
    EngineKind::Pocketsphinx
}

fn default_language() -> String {
    "en-US".into()
}

impl Default for TranscriptionSettings {
    fn default() -> Self {
        TranscriptionSettings {
            engine: default_engine(),
            language: default_language(),
            content_types: None,
            directions: None,
            pocketsphinx: PocketSphinxSettings::default(),
            openai: None,
            tenants: BTreeMap::new(),
        }
    }
}

impl TranscriptionSettings {
    /// Transcription off for everyone: the tests' and tools' default.
    pub fn off() -> Self {
        TranscriptionSettings {
            engine: EngineKind::None,
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PocketSphinxSettings {
    #[serde(default = "default_model_dir")]
    pub model_dir: PathBuf,
}

fn default_model_dir() -> PathBuf {
    pocketsphinx::DEFAULT_MODEL_DIR.into()
}

impl Default for PocketSphinxSettings {
    fn default() -> Self {
        PocketSphinxSettings {
            model_dir: default_model_dir(),
        }
    }
}

/// `[transcription.tenants.NAME]`: what differs for one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantTranscription {
    pub engine: Option<EngineKind>,
    pub content_types: Option<Vec<ContentType>>,
    pub directions: Option<Vec<Direction>>,
}

/// One tenant's transcription, resolved.
#[derive(Clone)]
pub(crate) struct Plan {
    pub kind: EngineKind,
    pub engine: Arc<dyn Engine>,
    pub what: TranscribeWhat,
}

/// The engines the settings name, opened once at start; each either works or says why
/// not.
pub struct Transcription {
    settings: TranscriptionSettings,
    engines: BTreeMap<EngineKind, Result<Arc<dyn Engine>, String>>,
    plans: RwLock<HashMap<TenantId, Option<Plan>>>,
    pauses: pause::Pauses,
}

impl Transcription {
    pub fn open(settings: TranscriptionSettings) -> Transcription {
        let mut wanted: Vec<EngineKind> = settings
            .tenants
            .values()
            .filter_map(|t| t.engine)
            .chain([settings.engine])
            .filter(|k| *k != EngineKind::None)
            .collect();
        wanted.sort();
        wanted.dedup();
        let engines = wanted
            .into_iter()
            .map(|kind| {
                let engine: Result<Arc<dyn Engine>, String> = match kind {
                    EngineKind::Pocketsphinx => {
                        pocketsphinx::PocketSphinx::open(&settings.pocketsphinx.model_dir)
                            .map(|e| Arc::new(e) as Arc<dyn Engine>)
                    }
                    EngineKind::Openai => match &settings.openai {
                        Some(s) => openai::OpenAi::open(s.clone()).map(|e| Arc::new(e) as _),
                        None => Err("the [transcription.openai] settings are missing".into()),
                    },
                    EngineKind::None => Err("off".into()),
                };
                (kind, engine)
            })
            .collect();
        Transcription {
            settings,
            engines,
            plans: RwLock::new(HashMap::new()),
            pauses: pause::Pauses::default(),
        }
    }

    pub fn language(&self) -> &str {
        &self.settings.language
    }

    /// Each engine in use and whether it works (the reason when not), for start-up's
    /// log and the status endpoint.
    pub fn engines(&self) -> Vec<(EngineKind, Result<(), String>)> {
        self.engines
            .iter()
            .map(|(k, e)| (*k, e.as_ref().map(drop).map_err(Clone::clone)))
            .collect()
    }

    /// The default engine and why it is off, if it is.
    pub fn default_engine(&self) -> (EngineKind, Option<String>) {
        let kind = self.settings.engine;
        let why = match self.engines.get(&kind) {
            _ if kind == EngineKind::None => Some("transcription.engine is none".into()),
            Some(Err(e)) => Some(e.clone()),
            Some(Ok(_)) => None,
            None => Some("not opened".into()),
        };
        (kind, why)
    }

    /// A tenant's plan if it was resolved before (the outer `None`: not yet).
    pub(crate) fn cached(&self, tenant: TenantId) -> Option<Option<Plan>> {
        self.plans.read().ok()?.get(&tenant).cloned()
    }

    /// A tenant's plan from its name: `None` when its engine is none or not working.
    pub(crate) fn plan_for(&self, tenant: TenantId, name: &str) -> Option<Plan> {
        let own = self.settings.tenants.get(name);
        let kind = own.and_then(|t| t.engine).unwrap_or(self.settings.engine);
        let plan = match self.engines.get(&kind) {
            Some(Ok(engine)) => {
                let base = TranscribeWhat::default();
                Some(Plan {
                    kind,
                    engine: engine.clone(),
                    what: TranscribeWhat {
                        content_types: own
                            .and_then(|t| t.content_types.clone())
                            .or_else(|| self.settings.content_types.clone())
                            .unwrap_or(base.content_types),
                        directions: own
                            .and_then(|t| t.directions.clone())
                            .or_else(|| self.settings.directions.clone())
                            .unwrap_or(base.directions),
                    },
                })
            }
            _ => None,
        };
        if let Ok(mut plans) = self.plans.write() {
            plans.insert(tenant, plan.clone());
        }
        plan
    }

    /// Whether a job may be claimed at `now`: some engine works and is not backing off.
    /// When none is, queued jobs are left as they are, so a backlog costs nothing while
    /// transcription is off or its engine is down.
    pub(crate) fn may_run(&self, now: DateTime<Utc>) -> bool {
        self.engines
            .iter()
            .any(|(k, e)| e.is_ok() && self.pauses.until(*k, now).is_none())
    }

    pub(crate) fn pauses(&self) -> &pause::Pauses {
        &self.pauses
    }
}

#[cfg(test)]
mod tests;
