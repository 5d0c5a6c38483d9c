//! Reads an audio stream's true duration while it is being uploaded, without buffering
//! it: chunks are handed to a blocking task that demuxes them with symphonia.

use std::io::Read;

use bytes::Bytes;
use symphonia::core::codecs::{self, CodecType};
use symphonia::core::errors::Error as SymErr;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::{MediaSourceStream, ReadOnlySource};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioInfo {
    pub duration_ms: u64,
    pub sample_rate: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Container {
    Wav,
    Mp3,
}

impl Container {
    fn of(media_type: &str) -> Option<Self> {
        match media_type {
            "audio/wav" | "audio/x-wav" | "audio/wave" | "audio/vnd.wave" => Some(Container::Wav),
            "audio/mpeg" | "audio/mp3" => Some(Container::Mp3),
            _ => None,
        }
    }

    fn accepts(self, codec: CodecType) -> bool {
        match self {
            Container::Mp3 => codec == codecs::CODEC_TYPE_MP3,
            Container::Wav => [
                codecs::CODEC_TYPE_PCM_S16LE,
                codecs::CODEC_TYPE_PCM_S24LE,
                codecs::CODEC_TYPE_PCM_S32LE,
                codecs::CODEC_TYPE_PCM_U8,
                codecs::CODEC_TYPE_PCM_F32LE,
                codecs::CODEC_TYPE_PCM_F64LE,
                codecs::CODEC_TYPE_PCM_ALAW,
                codecs::CODEC_TYPE_PCM_MULAW,
                codecs::CODEC_TYPE_ADPCM_MS,
                codecs::CODEC_TYPE_ADPCM_IMA_WAV,
            ]
            .contains(&codec),
        }
    }
}

/// A running probe. Feed it every chunk of the upload, then ask for the result.
pub struct AudioProbe {
    tx: Option<mpsc::Sender<Bytes>>,
    task: JoinHandle<Result<Probed, String>>,
}

/// What the demuxer found; the duration is settled once the upload's length is known.
struct Probed {
    frames: u64,
    sample_rate: u32,
    /// Bytes per frame of uncompressed WAV audio, to check the header against the bytes.
    frame_bytes: Option<u64>,
}

impl AudioProbe {
    /// Starts a probe for an audio media type; `None` for types it cannot read.
    pub fn start(media_type: &str) -> Option<Self> {
        let container = Container::of(media_type)?;
        let (tx, rx) = mpsc::channel::<Bytes>(16);
        let task = tokio::task::spawn_blocking(move || {
            let reader = ChannelReader {
                rx,
                current: Bytes::new(),
            };
            probe(container, reader)
        });
        Some(Self { tx: Some(tx), task })
    }

    /// Passes a chunk on; once the probe has what it needs it stops listening and this
    /// becomes a no-op.
    pub async fn feed(&mut self, chunk: Bytes) {
        if let Some(tx) = &self.tx {
            if tx.send(chunk).await.is_err() {
                self.tx = None;
            }
        }
    }

    /// The duration, given the upload's total length. A WAV header can claim more audio
    /// than arrived (a truncated file, or a recorder's streaming placeholder size), so the
    /// frame count is capped at what the bytes after a minimal header can hold.
    pub async fn finish(mut self, total_len: u64) -> Result<AudioInfo, String> {
        self.tx.take();
        let p = self
            .task
            .await
            .map_err(|e| format!("audio probe failed: {e}"))??;
        let frames = match p.frame_bytes {
            Some(fb) if fb > 0 => p.frames.min(total_len.saturating_sub(WAV_MIN_HEADER) / fb),
            _ => p.frames,
        };
        Ok(AudioInfo {
            duration_ms: frames.saturating_mul(1000) / u64::from(p.sample_rate),
            sample_rate: p.sample_rate,
        })
    }
}

/// Bytes sent by an async task, read by a blocking decoder.
pub(crate) struct ChannelReader {
    pub(crate) rx: mpsc::Receiver<Bytes>,
    pub(crate) current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(b) => self.current = b,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// RIFF, fmt and data chunk headers of the smallest WAV file.
const WAV_MIN_HEADER: u64 = 44;

fn probe(container: Container, reader: ChannelReader) -> Result<Probed, String> {
    let mss = MediaSourceStream::new(Box::new(ReadOnlySource::new(reader)), Default::default());
    let mut hint = Hint::new();
    hint.with_extension(match container {
        Container::Wav => "wav",
        Container::Mp3 => "mp3",
    });
    let not_audio = |detail: String| {
        format!(
            "the content is not valid {} audio ({detail})",
            match container {
                Container::Wav => "WAV",
                Container::Mp3 => "MP3",
            }
        )
    };
    let probed = symphonia::default::get_probe()
        .format(
            &hint,
            mss,
            &FormatOptions::default(),
            &MetadataOptions::default(),
        )
        .map_err(|e| not_audio(e.to_string()))?;
    let mut format = probed.format;
    let track = format
        .default_track()
        .ok_or_else(|| not_audio("no audio track".into()))?;
    let params = track.codec_params.clone();
    let track_id = track.id;
    if !container.accepts(params.codec) {
        return Err(not_audio("unexpected codec".into()));
    }
    let sample_rate = params
        .sample_rate
        .ok_or_else(|| not_audio("no sample rate".into()))?;
    if sample_rate == 0 {
        return Err(not_audio("sample rate 0".into()));
    }
    let frames = match (container, params.n_frames) {
        (Container::Wav, Some(n)) => n,
        _ => {
            let mut total = 0u64;
            let mut packets = 0u64;
            loop {
                match format.next_packet() {
                    Ok(p) if p.track_id() == track_id => {
                        total += p.dur;
                        packets += 1;
                    }
                    Ok(_) => {}
                    Err(SymErr::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                        break
                    }
                    Err(SymErr::ResetRequired) => break,
                    Err(e) => return Err(not_audio(e.to_string())),
                }
            }
            if packets == 0 {
                return Err(not_audio("no audio frames".into()));
            }
            total
        }
    };
    let frame_bytes = match (container, params.bits_per_sample, &params.channels) {
        (Container::Wav, Some(bits), Some(ch)) => {
            Some(u64::from(bits).div_ceil(8) * ch.count() as u64)
        }
        _ => None,
    };
    Ok(Probed {
        frames,
        sample_rate,
        frame_bytes,
    })
}

/// A mono 16-bit PCM WAV of `ms` milliseconds: a tone that rises and falls, used for demo
/// data and tests.
pub fn synth_wav(ms: u32, sample_rate: u32, base_hz: f32) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let frames = (u64::from(ms) * u64::from(sample_rate) / 1000) as usize;
    let mut cursor = std::io::Cursor::new(Vec::with_capacity(44 + frames * 2));
    {
        let mut w = hound::WavWriter::new(&mut cursor, spec).expect("in-memory WAV header");
        for i in 0..frames {
            let t = i as f32 / sample_rate as f32;
            let hz = base_hz * (1.0 + 0.25 * (t * 0.7).sin());
            let envelope = 0.5 + 0.5 * (t * 2.1).sin().abs();
            let s = (t * hz * std::f32::consts::TAU).sin() * envelope * 9000.0;
            w.write_sample(s as i16).expect("in-memory WAV sample");
        }
        w.finalize().expect("in-memory WAV finalize");
    }
    cursor.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn run(media: &str, bytes: Vec<u8>, chunk: usize) -> Result<AudioInfo, String> {
        let mut p = AudioProbe::start(media).unwrap();
        for c in bytes.chunks(chunk) {
            p.feed(Bytes::copy_from_slice(c)).await;
        }
        p.finish(bytes.len() as u64).await
    }

    #[tokio::test]
    async fn wav_duration_from_bytes() {
        let wav = synth_wav(2500, 8000, 440.0);
        let info = run("audio/wav", wav, 1000).await.unwrap();
        assert_eq!(info.duration_ms, 2500);
        assert_eq!(info.sample_rate, 8000);
    }

    /// MPEG-1 Layer III, 128 kbit/s, 44.1 kHz frames of silence: 417 bytes, 1152 samples.
    fn silent_mp3(frames: usize) -> Vec<u8> {
        let mut frame = vec![0u8; 417];
        frame[..4].copy_from_slice(&[0xFF, 0xFB, 0x90, 0x64]);
        frame.repeat(frames)
    }

    #[tokio::test]
    async fn mp3_duration_from_frames() {
        let info = run("audio/mpeg", silent_mp3(100), 4096).await.unwrap();
        assert_eq!(info.duration_ms, 100 * 1152 * 1000 / 44100);
    }

    #[tokio::test]
    async fn truncated_wav_counts_only_the_audio_that_arrived() {
        let wav = synth_wav(2000, 8000, 440.0);
        let half = wav[..44 + 8000].to_vec();
        assert_eq!(run("audio/wav", half, 1000).await.unwrap().duration_ms, 500);
    }

    #[tokio::test]
    async fn garbage_is_not_audio() {
        assert!(run("audio/wav", b"definitely not audio".repeat(100), 7)
            .await
            .is_err());
        assert!(run("audio/mpeg", vec![0u8; 5000], 100).await.is_err());
    }
}
