//! The built-in offline engine: CMU PocketSphinx (Debian's `libpocketsphinx3`) with its
//! US English model (`pocketsphinx-en-us`). The library is opened at run time, so that
//! callvault builds and starts on a machine without it and says why transcription is
//! off; the model is read from the package's files, never downloaded.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use libloading::Library;

use super::engine::{Engine, EngineError, Heard, Speech, ENGINE_RATE};
use super::utterances::utterances;

/// Where Debian's `pocketsphinx-en-us` puts the model.
pub const DEFAULT_MODEL_DIR: &str = "/usr/share/pocketsphinx/model/en-us";
/// The one command that makes this engine available.
pub const INSTALL_HINT: &str = "apt-get install libpocketsphinx3 pocketsphinx-en-us";
const LIBRARY: &str = "libpocketsphinx.so.3";
const BASE_LIBRARY: &str = "libsphinxbase.so.3";

type ArgsFn = unsafe extern "C" fn() -> *const c_void;
type ParseFn =
    unsafe extern "C" fn(*mut c_void, *const c_void, i32, *mut *mut c_char, i32) -> *mut c_void;
type PtrFn = unsafe extern "C" fn(*mut c_void) -> *mut c_void;
type IntFn = unsafe extern "C" fn(*mut c_void) -> c_int;
type RawFn = unsafe extern "C" fn(*mut c_void, *const i16, usize, c_int, c_int) -> c_int;
type HypFn = unsafe extern "C" fn(*mut c_void, *mut i32) -> *const c_char;
type ProbFn = unsafe extern "C" fn(*mut c_void) -> i32;
type ExpFn = unsafe extern "C" fn(*mut c_void, i32) -> f64;

/// The library's entry points; the libraries stay loaded as long as this lives.
struct Api {
    _ps: Library,
    _base: Library,
    args: ArgsFn,
    parse: ParseFn,
    init: PtrFn,
    start_utt: IntFn,
    process_raw: RawFn,
    end_utt: IntFn,
    get_hyp: HypFn,
    get_prob: ProbFn,
    get_logmath: PtrFn,
    logmath_exp: ExpFn,
}

impl Api {
    fn load() -> Result<Api, String> {
        // SAFETY: loading a shared library runs its initialisers; PocketSphinx's and
        // sphinxbase's have no preconditions.
        let (base, ps) = unsafe {
            let base = Library::new(BASE_LIBRARY).map_err(|e| e.to_string())?;
            let ps = Library::new(LIBRARY).map_err(|e| e.to_string())?;
            (base, ps)
        };
        macro_rules! sym {
            ($lib:expr, $name:literal) => {
                // SAFETY: each type above is the C prototype of PocketSphinx 5prealpha.
                unsafe {
                    *$lib
                        .get($name)
                        .map_err(|e| format!("{}: {e}", String::from_utf8_lossy($name)))?
                }
            };
        }
        Ok(Api {
            args: sym!(ps, b"ps_args"),
            parse: sym!(base, b"cmd_ln_parse_r"),
            init: sym!(ps, b"ps_init"),
            start_utt: sym!(ps, b"ps_start_utt"),
            process_raw: sym!(ps, b"ps_process_raw"),
            end_utt: sym!(ps, b"ps_end_utt"),
            get_hyp: sym!(ps, b"ps_get_hyp"),
            get_prob: sym!(ps, b"ps_get_prob"),
            get_logmath: sym!(ps, b"ps_get_logmath"),
            logmath_exp: sym!(base, b"logmath_exp"),
            _ps: ps,
            _base: base,
        })
    }
}

/// A decoder: not thread-safe, so used by one thread at a time behind a mutex. It lives
/// as long as the engine (the model takes a second to load).
struct Decoder {
    ps: *mut c_void,
}

// SAFETY: the decoder is only ever touched while its mutex is held.
unsafe impl Send for Decoder {}

/// The library and its decoder, loaded by the first transcription.
struct Loaded {
    decoder: Decoder,
    api: Api,
}

pub struct PocketSphinx {
    model_dir: PathBuf,
    loaded: Arc<Mutex<Option<Loaded>>>,
}

impl PocketSphinx {
    /// Checks that the library loads and the model's files are there; the error says what
    /// is missing. The library is closed again until a transcription needs it: it pulls
    /// in BLAS, LAPACK and gfortran, 1.4 MiB resident in a server that may never
    /// transcribe (docs/benchmarks.md).
    pub fn open(model_dir: &Path) -> Result<PocketSphinx, String> {
        Api::load().map_err(|e| {
            format!("the PocketSphinx library is not installed ({e}); run `{INSTALL_HINT}`")
        })?;
        for part in ["en-us/mdef", "en-us.lm.bin", "cmudict-en-us.dict"] {
            let p = model_dir.join(part);
            if !p.exists() {
                return Err(format!(
                    "the PocketSphinx model file {} is missing; run `{INSTALL_HINT}`",
                    p.display()
                ));
            }
        }
        Ok(PocketSphinx {
            model_dir: model_dir.to_path_buf(),
            loaded: Arc::new(Mutex::new(None)),
        })
    }
}

fn new_decoder(api: &Api, model_dir: &Path) -> Result<Decoder, String> {
    let m = |p: &str| model_dir.join(p).to_string_lossy().into_owned();
    let args = [
        "callvault".to_string(),
        "-hmm".into(),
        m("en-us"),
        "-lm".into(),
        m("en-us.lm.bin"),
        "-dict".into(),
        m("cmudict-en-us.dict"),
        "-samprate".into(),
        ENGINE_RATE.to_string(),
        "-logfn".into(),
        "/dev/null".into(),
    ];
    let owned = args
        .iter()
        .map(|a| CString::new(a.as_str()).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let mut argv: Vec<*mut c_char> = owned.iter().map(|a| a.as_ptr().cast_mut()).collect();
    // SAFETY: argv holds argc valid C strings that outlive the call; the definitions
    // come from the library itself.
    let ps = unsafe {
        let config = (api.parse)(
            std::ptr::null_mut(),
            (api.args)(),
            argv.len() as i32,
            argv.as_mut_ptr(),
            1,
        );
        if config.is_null() {
            return Err("PocketSphinx rejected its configuration".into());
        }
        (api.init)(config)
    };
    if ps.is_null() {
        return Err(format!(
            "PocketSphinx could not load its model from {}",
            model_dir.display()
        ));
    }
    Ok(Decoder { ps })
}

/// Decodes one utterance: its text and posterior probability.
fn decode(api: &Api, d: &Decoder, samples: &[i16]) -> Result<(String, Option<f32>), String> {
    // SAFETY: the decoder is valid and held exclusively; samples outlive the call; the
    // hypothesis is copied before the next call can free it.
    unsafe {
        if (api.start_utt)(d.ps) < 0 {
            return Err("ps_start_utt failed".into());
        }
        if (api.process_raw)(d.ps, samples.as_ptr(), samples.len(), 0, 1) < 0 {
            let _ = (api.end_utt)(d.ps);
            return Err("ps_process_raw failed".into());
        }
        if (api.end_utt)(d.ps) < 0 {
            return Err("ps_end_utt failed".into());
        }
        let mut score = 0i32;
        let hyp = (api.get_hyp)(d.ps, &mut score);
        if hyp.is_null() {
            return Ok((String::new(), None));
        }
        let text = CStr::from_ptr(hyp).to_string_lossy().into_owned();
        let prob = (api.get_prob)(d.ps);
        let lmath = (api.get_logmath)(d.ps);
        let confidence = (!lmath.is_null()).then(|| (api.logmath_exp)(lmath, prob) as f32);
        Ok((text, confidence.filter(|c| c.is_finite())))
    }
}

#[async_trait]
impl Engine for PocketSphinx {
    fn name(&self) -> &'static str {
        "pocketsphinx"
    }

    fn model(&self) -> String {
        format!("cmusphinx-en-us ({})", self.model_dir.display())
    }

    async fn transcribe(&self, speech: Speech) -> Result<Vec<Heard>, EngineError> {
        let (dir, loaded) = (self.model_dir.clone(), self.loaded.clone());
        tokio::task::spawn_blocking(move || {
            let mut guard = loaded
                .lock()
                .map_err(|_| EngineError::Failed("the decoder panicked earlier".into()))?;
            if guard.is_none() {
                let api = Api::load().map_err(EngineError::Unavailable)?;
                let decoder = new_decoder(&api, &dir).map_err(EngineError::Unavailable)?;
                *guard = Some(Loaded { decoder, api });
            }
            let Some(Loaded { decoder: d, api }) = guard.as_ref() else {
                return Err(EngineError::Unavailable("no decoder".into()));
            };
            let ms = |s: usize| s as u64 * 1000 / u64::from(ENGINE_RATE);
            let mut heard = Vec::new();
            for (start, end) in utterances(&speech.samples) {
                let (text, confidence) =
                    decode(api, d, &speech.samples[start..end]).map_err(EngineError::Failed)?;
                let text = text.trim();
                if !text.is_empty() {
                    heard.push(Heard {
                        start_ms: ms(start),
                        end_ms: ms(end),
                        text: text.to_string(),
                        confidence,
                    });
                }
            }
            Ok(heard)
        })
        .await
        .map_err(|e| EngineError::Failed(format!("the decoder stopped: {e}")))?
    }
}
