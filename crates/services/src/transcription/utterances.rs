//! Where someone is speaking on a channel: short-time energy against the channel's own
//! noise floor. On a two-party recording each channel is silent about half the time, so
//! only the stretches with speech are sent to the decoder, and each becomes a segment.

use super::engine::ENGINE_RATE;

/// Analysis frame: 30 ms.
const FRAME: usize = (ENGINE_RATE as usize) * 30 / 1000;
/// Speech this much louder (in RMS) than the floor, and above an absolute minimum.
const OVER_FLOOR: f32 = 4.0;
const MIN_RMS: f32 = 120.0;
/// A pause this long ends an utterance (0.6 s); shorter ones are kept inside it.
const HANGOVER_FRAMES: usize = 20;
/// Utterances shorter than this are clicks, not words (0.15 s).
const MIN_FRAMES: usize = 5;
/// Padding kept on both sides, so word onsets are not clipped (0.2 s).
const PAD: usize = (ENGINE_RATE as usize) / 5;
/// A decoder handles long utterances badly: cut at 20 s.
const MAX_SAMPLES: usize = (ENGINE_RATE as usize) * 20;

/// Sample ranges `[start, end)` of the utterances on one channel.
pub fn utterances(samples: &[i16]) -> Vec<(usize, usize)> {
    let rms: Vec<f32> = samples
        .chunks(FRAME)
        .map(|f| {
            let sum: f64 = f.iter().map(|s| f64::from(*s) * f64::from(*s)).sum();
            (sum / f.len() as f64).sqrt() as f32
        })
        .collect();
    if rms.is_empty() {
        return Vec::new();
    }
    let mut sorted = rms.clone();
    sorted.sort_by(f32::total_cmp);
    // The quietest tenth of the channel is taken as its noise floor.
    let floor = sorted[sorted.len() / 10];
    let threshold = (floor * OVER_FLOOR).max(MIN_RMS);
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut quiet = 0;
    for (i, r) in rms.iter().enumerate() {
        match (start, *r > threshold) {
            (None, true) => {
                start = Some(i);
                quiet = 0;
            }
            (Some(_), true) => quiet = 0,
            (Some(s), false) => {
                quiet += 1;
                if quiet >= HANGOVER_FRAMES {
                    push(&mut out, s, i + 1 - quiet, samples.len());
                    start = None;
                }
            }
            (None, false) => {}
        }
    }
    if let Some(s) = start {
        push(&mut out, s, rms.len() - quiet, samples.len());
    }
    out
}

fn push(out: &mut Vec<(usize, usize)>, first: usize, end_frame: usize, len: usize) {
    if end_frame.saturating_sub(first) < MIN_FRAMES {
        return;
    }
    let start = (first * FRAME).saturating_sub(PAD);
    let end = (end_frame * FRAME + PAD).min(len);
    let mut at = start;
    while at < end {
        let stop = (at + MAX_SAMPLES).min(end);
        out.push((at, stop));
        at = stop;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(ms: usize) -> Vec<i16> {
        (0..ms * 16)
            .map(|i| ((i as f32 * 0.2).sin() * 8000.0) as i16)
            .collect()
    }

    #[test]
    fn silence_has_no_utterances() {
        assert!(utterances(&vec![0; 16_000 * 3]).is_empty());
        assert!(utterances(&[]).is_empty());
    }

    #[test]
    fn two_bursts_apart_are_two_utterances() {
        let mut s = vec![0i16; 16_000];
        s.extend(tone(800));
        s.extend(vec![0; 16_000 * 2]);
        s.extend(tone(500));
        s.extend(vec![0; 16_000]);
        let u = utterances(&s);
        assert_eq!(u.len(), 2, "{u:?}");
        let secs = |x: usize| x as f32 / 16_000.0;
        assert!((secs(u[0].0) - 0.8).abs() < 0.1, "{u:?}");
        assert!((secs(u[1].0) - 3.6).abs() < 0.1, "{u:?}");
    }
}
