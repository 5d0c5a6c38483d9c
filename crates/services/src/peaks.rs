//! The waveform of a recording for the console's player: the loudest sample of each of
//! at most [`PEAK_COUNT`] equal slices, decoded with symphonia from the stored bytes as
//! they stream (never the whole file in memory). Decoding an hour of audio takes seconds,
//! so results are kept per content hash (the bytes under a hash never change) in a small
//! cache, and one decode runs at a time so that a burst of page views cannot take every
//! core. Reading bytes for the envelope is not an access to the recording (nothing of
//! what was said survives in a thousand loudness values), so it is not audited; the
//! player's own reads are.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use callvault_core::ContentItem;
use futures::StreamExt;
use symphonia::core::io::ReadOnlySource;
use tokio::sync::{mpsc, Semaphore};

use crate::audio::ChannelReader;
use crate::error::{ServiceError, ServiceResult};
use crate::Vault;

/// Values in a waveform: enough for a wide screen, small as JSON (a few kB).
pub const PEAK_COUNT: usize = 1000;
/// Waveforms kept (each about 4 kB).
const CACHED: usize = 256;
/// Slices of this many milliseconds are measured first, then merged down to the count.
const WINDOW_MS: u64 = 10;

/// A recording's envelope: `values` in 0..=1, evenly over `duration_ms`.
#[derive(Debug, Clone, PartialEq)]
pub struct Peaks {
    pub duration_ms: u64,
    pub values: Vec<f32>,
}

/// Recent waveforms by content hash, and the one-at-a-time decode permit.
pub struct PeakCache {
    entries: Mutex<VecDeque<(String, Arc<Peaks>)>>,
    decoding: Semaphore,
}

impl Default for PeakCache {
    fn default() -> Self {
        Self {
            entries: Mutex::new(VecDeque::new()),
            decoding: Semaphore::new(1),
        }
    }
}

impl PeakCache {
    fn get(&self, sha: &str) -> Option<Arc<Peaks>> {
        let e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        e.iter().find(|(k, _)| k == sha).map(|(_, p)| p.clone())
    }

    fn put(&self, sha: &str, peaks: Arc<Peaks>) {
        let mut e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        e.retain(|(k, _)| k != sha);
        if e.len() >= CACHED {
            e.pop_front();
        }
        e.push_back((sha.to_string(), peaks));
    }
}

impl Vault {
    /// The waveform of an audio item (WAV or MP3); `Invalid` for other media types and
    /// for bytes that do not decode.
    pub async fn peaks(&self, item: &ContentItem) -> ServiceResult<Arc<Peaks>> {
        if let Some(p) = self.peak_cache.get(&item.sha256) {
            return Ok(p);
        }
        let _permit = self
            .peak_cache
            .decoding
            .acquire()
            .await
            .map_err(|e| ServiceError::Unavailable(e.to_string()))?;
        if let Some(p) = self.peak_cache.get(&item.sha256) {
            return Ok(p);
        }
        let mut read = self.blobs.open(&item.blob_key, None).await?;
        let (tx, rx) = mpsc::channel::<Bytes>(16);
        let media_type = item.media_type.clone();
        let task = tokio::task::spawn_blocking(move || {
            let reader = ChannelReader {
                rx,
                current: Bytes::new(),
            };
            measure(reader, &media_type)
        });
        while let Some(chunk) = read.stream.next().await {
            // A decoder that stopped early (an error) has dropped its end.
            let chunk =
                chunk.map_err(|e| ServiceError::Unavailable(format!("reading content: {e}")))?;
            if tx.send(chunk).await.is_err() {
                break;
            }
        }
        drop(tx);
        let peaks = task
            .await
            .map_err(|e| ServiceError::Unavailable(format!("waveform failed: {e}")))?
            .map_err(|m| callvault_core::Invalid::new("content", m))?;
        let peaks = Arc::new(peaks);
        self.peak_cache.put(&item.sha256, peaks.clone());
        Ok(peaks)
    }
}

/// Decodes every channel and keeps the loudest absolute sample per window.
fn measure(reader: ChannelReader, media_type: &str) -> Result<Peaks, String> {
    let (mut windows, mut loudest, mut in_window, mut frames) = (Vec::new(), 0f32, 0u64, 0u64);
    let mut rate = 0;
    let source = Box::new(ReadOnlySource::new(reader));
    crate::pcm::decode(source, media_type, |r, n, samples| {
        rate = r;
        let window = (u64::from(r) * WINDOW_MS / 1000).max(1);
        for frame in samples.chunks(n) {
            let level = frame.iter().fold(0f32, |m, s| m.max(s.abs()));
            loudest = loudest.max(level);
            in_window += 1;
            frames += 1;
            if in_window == window {
                windows.push(loudest);
                (loudest, in_window) = (0.0, 0);
            }
        }
    })?;
    if in_window > 0 {
        windows.push(loudest);
    }
    if frames == 0 {
        return Err(crate::pcm::undecodable(&"no audio frames"));
    }
    Ok(Peaks {
        duration_ms: frames * 1000 / u64::from(rate),
        values: merge(&windows, PEAK_COUNT),
    })
}

/// At most `count` values, each the loudest of the windows it covers, rounded to 1/100
/// (all a waveform can show).
fn merge(windows: &[f32], count: usize) -> Vec<f32> {
    let per = windows.len().div_ceil(count.max(1)).max(1);
    windows
        .chunks(per)
        .map(|c| {
            let m = c.iter().fold(0f32, |m, v| m.max(*v)).min(1.0);
            (m * 100.0).round() / 100.0
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_keeps_the_loudest_of_each_slice() {
        let w = [0.1, 0.5, 0.2, 0.9, 0.3];
        assert_eq!(merge(&w, 2), vec![0.5, 0.9]);
        assert_eq!(merge(&w, 10).len(), 5);
        assert_eq!(merge(&[1.7], 3), vec![1.0]);
    }

    #[tokio::test]
    async fn a_tone_measures_loud_for_its_whole_length() {
        let wav = crate::audio::synth_wav(2000, 8000, 440.0);
        let (tx, rx) = mpsc::channel(4);
        tx.send(Bytes::from(wav)).await.unwrap();
        drop(tx);
        let reader = ChannelReader {
            rx,
            current: Bytes::new(),
        };
        let p = tokio::task::spawn_blocking(move || measure(reader, "audio/wav"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(p.duration_ms, 2000);
        assert!(p.values.len() <= PEAK_COUNT && p.values.len() >= 100);
        assert!(p.values.iter().all(|v| *v > 0.05), "{:?}", &p.values[..10]);
    }
}
