//! Recorded audio to what engines take: every channel decoded (symphonia), resampled to
//! 16 kHz and kept apart, so that a stereo recording's agent and customer are
//! transcribed on their own.

use std::io::Cursor;

use super::engine::ENGINE_RATE;

/// Channels past the first two are not transcribed: telephony has two parties.
const MAX_CHANNELS: usize = 2;

/// Decodes a WAV or MP3 recording into one 16 kHz sample vector per channel (at most
/// two). The error is the reason the job fails with.
pub fn decode_channels(bytes: Vec<u8>, media_type: &str) -> Result<Vec<Vec<i16>>, String> {
    let mut channels: Vec<Vec<f32>> = Vec::new();
    let mut rate = 0;
    crate::pcm::decode(Box::new(Cursor::new(bytes)), media_type, |r, n, samples| {
        rate = r;
        if channels.is_empty() {
            channels = vec![Vec::new(); n.min(MAX_CHANNELS)];
        }
        for frame in samples.chunks(n) {
            for (c, out) in channels.iter_mut().enumerate() {
                out.push(frame.get(c).copied().unwrap_or(0.0));
            }
        }
    })?;
    if channels.is_empty() {
        return Err(crate::pcm::undecodable(&"no audio frames"));
    }
    Ok(channels.iter().map(|c| resample(c, rate)).collect())
}

/// Linear resampling to 16 kHz, after a moving average as low-pass when the source is
/// faster (44.1 or 48 kHz music-grade recordings); telephony's 8 kHz is interpolated.
fn resample(samples: &[f32], rate: u32) -> Vec<i16> {
    let to_i16 = |s: f32| (s.clamp(-1.0, 1.0) * 32767.0) as i16;
    if rate == ENGINE_RATE {
        return samples.iter().map(|s| to_i16(*s)).collect();
    }
    let smoothed;
    let src = if rate > ENGINE_RATE {
        let width = (rate / ENGINE_RATE).max(1) as usize;
        smoothed = samples
            .windows(width)
            .map(|w| w.iter().sum::<f32>() / width as f32)
            .collect::<Vec<_>>();
        &smoothed[..]
    } else {
        samples
    };
    let step = f64::from(rate) / f64::from(ENGINE_RATE);
    let out_len = (samples.len() as f64 / step) as usize;
    (0..out_len)
        .map(|i| {
            let pos = i as f64 * step;
            let j = pos as usize;
            let frac = (pos - j as f64) as f32;
            let a = src.get(j).copied().unwrap_or(0.0);
            let b = src.get(j + 1).copied().unwrap_or(a);
            to_i16(a + (b - a) * frac)
        })
        .collect()
}

/// A mono 16 kHz 16-bit WAV of the samples, for engines that take a file.
pub fn wav(samples: &[i16]) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: ENGINE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut cursor = Cursor::new(Vec::with_capacity(44 + samples.len() * 2));
    {
        // Writing to memory cannot fail.
        let mut w = hound::WavWriter::new(&mut cursor, spec).expect("in-memory WAV header");
        for s in samples {
            w.write_sample(*s).expect("in-memory WAV sample");
        }
        w.finalize().expect("in-memory WAV finalize");
    }
    cursor.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stereo_wav(rate: u32, left: f32, right: f32, frames: usize) -> Vec<u8> {
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut c = Cursor::new(Vec::new());
        let mut w = hound::WavWriter::new(&mut c, spec).unwrap();
        for _ in 0..frames {
            w.write_sample((left * 32767.0) as i16).unwrap();
            w.write_sample((right * 32767.0) as i16).unwrap();
        }
        w.finalize().unwrap();
        c.into_inner()
    }

    #[test]
    fn stereo_channels_are_kept_apart_and_resampled() {
        let ch = decode_channels(stereo_wav(8000, 0.5, -0.25, 8000), "audio/wav").unwrap();
        assert_eq!(ch.len(), 2);
        assert_eq!(ch[0].len(), 16_000);
        assert!(ch[0].iter().all(|s| (*s - 16383).abs() <= 1));
        assert!(ch[1].iter().all(|s| (*s + 8191).abs() <= 1));
    }

    #[test]
    fn garbage_is_a_reason_not_a_panic() {
        let e = decode_channels(b"RIFF\x10\0\0\0WAVEjunk".to_vec(), "audio/wav").unwrap_err();
        assert!(e.starts_with("the audio cannot be decoded"), "{e}");
        assert!(decode_channels(Vec::new(), "audio/mpeg").is_err());
    }
}
