//! A long MP3 built without an encoder: the audio frames of a short real call (a demo
//! recording, MPEG-2 Layer III) repeated to the length asked for. A frame carries its own
//! header and depends on the ones before it only through the bit reservoir, which the
//! demo's first audio frame does not use, so the repeats decode as one stream of speech
//! (not silence, which would make the decoders' work and the waveform unrealistically
//! cheap) at the size a real recording of that length has.

use anyhow::{bail, ensure};

const DEMO: &[u8] = include_bytes!("../../services/demo-audio/support-1.mp3");

/// Bitrates in kbit/s by index, for MPEG-1 and for MPEG-2/2.5 Layer III.
const KBPS_V1: [u32; 15] = [
    0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
];
const KBPS_V2: [u32; 15] = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];

pub struct Mp3 {
    pub bytes: Vec<u8>,
    pub duration_ms: u64,
    pub kbps: u32,
}

/// One Layer III frame header's facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Frame {
    len: usize,
    samples: u64,
    rate: u64,
    kbps: u32,
}

fn frame_at(b: &[u8]) -> Option<Frame> {
    if b.len() < 4 || b[0] != 0xFF || b[1] & 0xE0 != 0xE0 {
        return None;
    }
    // Version: 3 = MPEG-1, 2 = MPEG-2, 0 = MPEG-2.5 (1 is reserved); layer 1 = Layer III.
    let (version, layer) = ((b[1] >> 3) & 3, (b[1] >> 1) & 3);
    let (bitrate, rate) = (usize::from(b[2] >> 4), usize::from((b[2] >> 2) & 3));
    if layer != 1 || version == 1 || bitrate == 0 || bitrate == 15 || rate == 3 {
        return None;
    }
    let padding = usize::from((b[2] >> 1) & 1);
    let (kbps, rate, samples) = match version {
        3 => (KBPS_V1[bitrate], [44_100, 48_000, 32_000][rate], 1152),
        2 => (KBPS_V2[bitrate], [22_050, 24_000, 16_000][rate], 576),
        _ => (KBPS_V2[bitrate], [11_025, 12_000, 8_000][rate], 576),
    };
    let len = (samples / 8 * u64::from(kbps) * 1000 / rate) as usize + padding;
    Some(Frame {
        len,
        samples,
        rate,
        kbps,
    })
}

/// The demo's audio frames, without the LAME "Info"/"Xing" frame that describes the
/// whole file (it would misstate the length of the repeats).
fn audio_frames(mut b: &[u8]) -> anyhow::Result<Vec<(&[u8], Frame)>> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let Some(f) = frame_at(b) else {
            bail!("no MP3 frame where one should start");
        };
        ensure!(f.len <= b.len(), "a truncated MP3 frame");
        let (frame, rest) = b.split_at(f.len);
        let head = &frame[..frame.len().min(48)];
        let tag = head.windows(4).any(|w| w == b"Info" || w == b"Xing");
        if !(out.is_empty() && tag) {
            out.push((frame, f));
        }
        b = rest;
    }
    ensure!(!out.is_empty(), "the demo MP3 has no audio frames");
    Ok(out)
}

/// An MP3 of at least `min_ms` of speech.
pub fn repeated_call(min_ms: u64) -> anyhow::Result<Mp3> {
    let frames = audio_frames(DEMO)?;
    let (mut bytes, mut samples) = (Vec::new(), 0u64);
    let rate = frames[0].1.rate;
    for (frame, f) in frames.iter().cycle() {
        if samples * 1000 / rate >= min_ms {
            break;
        }
        ensure!(f.rate == rate, "the demo MP3 changes its sample rate");
        bytes.extend_from_slice(frame);
        samples += f.samples;
    }
    Ok(Mp3 {
        bytes,
        duration_ms: samples * 1000 / rate,
        kbps: frames[0].1.kbps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_hour_of_the_demo_call_is_whole_frames_of_it() {
        let m = repeated_call(3_600_000).unwrap();
        // 16 kHz MPEG-2 frames of 576 samples: 36 ms, 216 bytes at 48 kbit/s.
        assert_eq!(m.duration_ms, 3_600_000);
        assert_eq!(m.bytes.len(), 100_000 * 216);
        assert_eq!(m.kbps, 48);
        assert_eq!(
            &m.bytes[..216],
            &DEMO[216..432],
            "starts at the first audio frame"
        );
    }
}
