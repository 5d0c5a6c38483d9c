//! Transcription: word error rate and speed of the built-in engine, end to end through
//! the server. Recordings go in by the ingest API, the server's runner transcribes them,
//! and the transcripts come back by the Interaction Content API; the engine's CPU is the
//! server's, from `/proc`. Two corpora: human speech with a reference transcription
//! (the LibriVox excerpts of Debian's `pocketsphinx-testdata`), and the demo's 65
//! synthesized utterances (flite; `crates/services/demo-audio/dialogues.txt`), scored per
//! channel against what that speaker said.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{json, Value};

use crate::cpu::Probe;
use crate::server::{admin, Api, Server};

const TENANT: &str = "words";
const LIBRIVOX: &str = "/usr/share/pocketsphinx/test/data/librivox";

pub struct WordsResult {
    pub corpora: Vec<Corpus>,
}

pub struct Corpus {
    pub name: &'static str,
    pub recordings: usize,
    pub utterances: usize,
    pub ref_words: usize,
    pub errors: usize,
    pub audio_secs: f64,
    pub cpu_secs: f64,
}

impl Corpus {
    pub fn wer(&self) -> f64 {
        self.errors as f64 / self.ref_words.max(1) as f64
    }
}

/// One recording and what each channel's speaker said (`None`: a mono recording).
struct Sample {
    bytes: Vec<u8>,
    media: &'static str,
    said: Vec<(Option<&'static str>, String)>,
    utterances: usize,
}

fn librivox() -> anyhow::Result<Vec<Sample>> {
    let text = std::fs::read_to_string(Path::new(LIBRIVOX).join("transcription"))
        .context("the LibriVox references are missing: apt-get install pocketsphinx-testdata")?;
    text.lines()
        .filter_map(|l| {
            let (words, id) = l.rsplit_once(" (")?;
            let id = id.trim_end_matches(')');
            let words = words.replace("<s>", "").replace("</s>", "");
            Some((id.to_string(), words.trim().to_string()))
        })
        .map(|(id, words)| {
            Ok(Sample {
                bytes: std::fs::read(Path::new(LIBRIVOX).join(format!("{id}.wav")))?,
                media: "audio/wav",
                said: vec![(None, words)],
                utterances: 1,
            })
        })
        .collect()
}

fn demo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../services/demo-audio")
}

/// A dialogue being read: its file name, whether it is stereo, and its lines by speaker.
type Dialogue = (String, bool, Vec<(char, String)>);

fn generated() -> anyhow::Result<Vec<Sample>> {
    let dir = demo_dir();
    let text = std::fs::read_to_string(dir.join("dialogues.txt"))?;
    let mut out = Vec::new();
    let mut current: Option<Dialogue> = None;
    let mut flush = |c: Option<Dialogue>| -> anyhow::Result<()> {
        let Some((name, stereo, lines)) = c else {
            return Ok(());
        };
        let of = |who: char| {
            lines
                .iter()
                .filter(|(w, _)| *w == who)
                .map(|(_, t)| t.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        };
        let said = if stereo {
            vec![(Some("agent"), of('A')), (Some("customer"), of('C'))]
        } else {
            vec![(None, of('C'))]
        };
        out.push(Sample {
            bytes: std::fs::read(dir.join(format!("{name}.mp3")))?,
            media: "audio/mpeg",
            said,
            utterances: lines.len(),
        });
        Ok(())
    };
    for line in text.lines() {
        if let Some(head) = line.strip_prefix("= ") {
            flush(current.take())?;
            let mut parts = head.split_whitespace();
            let name = parts.next().unwrap_or_default().to_string();
            let stereo = !matches!(parts.next(), Some("voicemail" | "ivr"));
            current = Some((name, stereo, Vec::new()));
        } else if let (Some(c), Some((who, said))) = (current.as_mut(), line.split_once(": ")) {
            if let Some(w @ ('A' | 'C')) = who.chars().next().filter(|_| who.len() == 1) {
                c.2.push((w, said.to_string()));
            }
        }
    }
    flush(current)?;
    Ok(out)
}

fn normalise(s: &str) -> Vec<String> {
    s.to_lowercase()
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// Word-level edit distance (substitutions, insertions, deletions).
fn edits(reference: &[String], hypothesis: &[String]) -> usize {
    let mut prev: Vec<usize> = (0..=hypothesis.len()).collect();
    for (i, r) in reference.iter().enumerate() {
        let mut row = vec![i + 1; hypothesis.len() + 1];
        for (j, h) in hypothesis.iter().enumerate() {
            let sub = prev[j] + usize::from(r != h);
            row[j + 1] = sub.min(prev[j + 1] + 1).min(row[j] + 1);
        }
        prev = row;
    }
    prev[hypothesis.len()]
}

pub async fn run(bin: &Path, work: &Path, log: &Path) -> anyhow::Result<WordsResult> {
    let data_dir = work.join("words");
    admin(bin, &data_dir, &["tenant", "create", TENANT]).await?;
    let server = Server::start_with_env(
        bin,
        &data_dir,
        log,
        &[("CALLVAULT_TRANSCRIPTION_ENGINE", "pocketsphinx")],
    )
    .await?;
    let result = async {
        let api = Api::connect(bin, &data_dir, &server, TENANT).await?;
        let ready = status(&api).await?;
        anyhow::ensure!(
            ready["on"] == true,
            "transcription is off on the server: {}",
            ready["offBecause"]
        );
        let mut corpora = Vec::new();
        let mut next = 0u32;
        for (name, samples) in [
            (
                "human speech (LibriVox, pocketsphinx-testdata)",
                librivox()?,
            ),
            ("generated dialogues (flite, demo pool)", generated()?),
        ] {
            corpora.push(corpus(&api, name, samples, &mut next).await?);
        }
        anyhow::Ok(WordsResult { corpora })
    }
    .await;
    server.stop().await?;
    result
}

/// The server's `/transcripts/status` for the tenant.
async fn status(api: &Api) -> anyhow::Result<Value> {
    let r = api
        .http
        .get(api.url("/transcripts/status"))
        .bearer_auth(&api.token)
        .send()
        .await?;
    Ok(r.json().await?)
}

async fn corpus(
    api: &Api,
    name: &'static str,
    samples: Vec<Sample>,
    next: &mut u32,
) -> anyhow::Result<Corpus> {
    let probe = Probe::Process(api.pid);
    let cpu_before = probe.seconds()?;
    let first = *next;
    for s in &samples {
        let guid = format!("{:08x}-0000-4000-8000-00000000b0b0", *next);
        *next += 1;
        let body = json!({"start": "2026-11-02T10:00:00Z", "direction": "inbound",
            "connectFrom": "+15550100", "connectTo": "2000", "handlingAgents": ["a1"]});
        let r = api
            .http
            .put(api.url(&format!("/interaction-content/interactions/{guid}")))
            .bearer_auth(&api.token)
            .json(&body)
            .send()
            .await?;
        anyhow::ensure!(r.status().is_success(), "interaction: {}", r.text().await?);
        let r = api
            .http
            .put(api.url(&format!(
                "/interaction-content/interactions/{guid}/content/callRecording"
            )))
            .bearer_auth(&api.token)
            .header("Content-Type", s.media)
            .body(s.bytes.clone())
            .send()
            .await?;
        anyhow::ensure!(r.status().is_success(), "recording: {}", r.text().await?);
    }
    let began = Instant::now();
    let want = u64::from(*next);
    loop {
        let status = status(api).await?;
        let n = |k: &str| status["jobs"][k].as_u64().unwrap_or(0);
        if n("ready") + n("failed") >= want {
            break;
        }
        anyhow::ensure!(
            began.elapsed() < Duration::from_secs(1800),
            "transcription stalled: {status}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let cpu_secs = probe.seconds()? - cpu_before;
    let (mut ref_words, mut errors, mut audio_ms) = (0, 0, 0u64);
    for (n, s) in samples.iter().enumerate() {
        let guid = format!("{:08x}-0000-4000-8000-00000000b0b0", first + n as u32);
        let doc: Value = api
            .http
            .get(api.url(&format!(
                "/interaction-content/interactions/{guid}/content/transcript"
            )))
            .bearer_auth(&api.token)
            .send()
            .await?
            .json()
            .await
            .with_context(|| format!("no transcript for {guid}"))?;
        audio_ms += doc["durationMs"].as_u64().unwrap_or(0);
        let segments = doc["segments"].as_array().cloned().unwrap_or_default();
        for (speaker, said) in &s.said {
            let heard: Vec<&str> = segments
                .iter()
                .filter(|seg| speaker.is_none_or(|sp| seg["speaker"] == sp))
                .filter_map(|seg| seg["text"].as_str())
                .collect();
            let (r, h) = (normalise(said), normalise(&heard.join(" ")));
            ref_words += r.len();
            errors += edits(&r, &h);
        }
    }
    Ok(Corpus {
        name,
        recordings: samples.len(),
        utterances: samples.iter().map(|s| s.utterances).sum(),
        ref_words,
        errors,
        audio_secs: audio_ms as f64 / 1000.0,
        cpu_secs,
    })
}

impl WordsResult {
    pub fn markdown(&self) -> String {
        let mut s = String::from(
            "| corpus | recordings | utterances | reference words | WER | audio s | server CPU s | audio s per CPU s |\n|---|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for c in &self.corpora {
            s.push_str(&format!(
                "| {} | {} | {} | {} | {:.1}% | {:.1} | {:.1} | {:.1} |\n",
                c.name,
                c.recordings,
                c.utterances,
                c.ref_words,
                c.wer() * 100.0,
                c.audio_secs,
                c.cpu_secs,
                c.audio_secs / c.cpu_secs.max(0.01)
            ));
        }
        s
    }

    pub fn json(&self) -> Value {
        Value::Array(
            self.corpora
                .iter()
                .map(|c| {
                    json!({
                        "corpus": c.name, "recordings": c.recordings, "utterances": c.utterances,
                        "referenceWords": c.ref_words, "wordErrors": c.errors, "wer": c.wer(),
                        "audioSecs": c.audio_secs, "serverCpuSecs": c.cpu_secs,
                    })
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_count_substitutions_insertions_and_deletions() {
        let w = |s: &str| normalise(s);
        assert_eq!(edits(&w("a b c"), &w("a b c")), 0);
        assert_eq!(edits(&w("a b c"), &w("a x c")), 1);
        assert_eq!(edits(&w("a b c"), &w("a c")), 1);
        assert_eq!(edits(&w("a b c"), &w("a b c d")), 1);
        assert_eq!(edits(&w("Hello, World!"), &w("hello world")), 0);
    }

    #[test]
    fn the_generated_corpus_has_at_least_fifty_utterances() {
        let g = generated().unwrap();
        assert!(g.iter().map(|s| s.utterances).sum::<usize>() >= 50);
        assert!(g.iter().all(|s| s.said.iter().all(|(_, t)| !t.is_empty())));
    }
}
