//! Recorded audio decoded to samples (symphonia), for what needs the sound itself: the
//! transcription engines and the console's waveform. One decoding loop for both, so a
//! damaged frame, a missing rate or a stream that ends early are treated alike.

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::DecoderOptions;
use symphonia::core::errors::Error as SymErr;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

/// The reason given for audio that cannot be decoded.
pub(crate) fn undecodable(e: &dyn std::fmt::Display) -> String {
    format!("the audio cannot be decoded: {e}")
}

/// Decodes the default track of `source` (of `media_type`), calling `each` with the
/// sample rate, the channel count and the interleaved samples (-1.0 to 1.0) of every
/// packet, in order. Damaged frames are skipped, as players do. The error is a reason
/// for people: what could not be decoded and why.
pub(crate) fn decode(
    source: Box<dyn MediaSource>,
    media_type: &str,
    mut each: impl FnMut(u32, usize, &[f32]),
) -> Result<(), String> {
    let mut hint = Hint::new();
    hint.mime_type(media_type);
    let mss = MediaSourceStream::new(source, Default::default());
    let probed = symphonia::default::get_probe()
        .format(
            &hint,
            mss,
            &FormatOptions::default(),
            &MetadataOptions::default(),
        )
        .map_err(|e| undecodable(&e))?;
    let mut format = probed.format;
    let track = format
        .default_track()
        .ok_or_else(|| undecodable(&"no audio track"))?;
    let track_id = track.id;
    let rate = track
        .codec_params
        .sample_rate
        .filter(|r| *r > 0)
        .ok_or_else(|| undecodable(&"no sample rate"))?;
    let mut decoder = symphonia::default::get_codecs()
        .make(&track.codec_params, &DecoderOptions::default())
        .map_err(|e| undecodable(&e))?;
    let mut buf: Option<SampleBuffer<f32>> = None;
    loop {
        let packet = match format.next_packet() {
            Ok(p) => p,
            Err(SymErr::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(SymErr::ResetRequired) => break,
            Err(e) => return Err(undecodable(&e)),
        };
        if packet.track_id() != track_id {
            continue;
        }
        let decoded = match decoder.decode(&packet) {
            Ok(d) => d,
            Err(SymErr::DecodeError(_)) => continue,
            Err(e) => return Err(undecodable(&e)),
        };
        let spec = *decoded.spec();
        let n = spec.channels.count();
        if n == 0 {
            return Err(undecodable(&"no channels"));
        }
        let b = match &mut buf {
            Some(b) if b.capacity() >= decoded.capacity() * n => b,
            _ => buf.insert(SampleBuffer::new(decoded.capacity() as u64, spec)),
        };
        b.copy_interleaved_ref(decoded);
        each(rate, n, b.samples());
    }
    Ok(())
}
