//! WAV files built in memory: a 44-byte RIFF header in front of 16-bit mono PCM.
//!
//! The server decodes every upload as the declared audio type, so the bytes must be a valid
//! WAV; PCM accepts any sample values, which lets each recording carry distinct random bytes
//! (no deduplication) without the cost of synthesising audio.

use rand::RngCore;

const HEADER_LEN: usize = 44;
const SAMPLE_RATE: u32 = 8000;

/// A WAV of exactly `total_len` bytes (header included) filled with random samples.
pub fn random_wav(total_len: usize, rng: &mut impl RngCore) -> Vec<u8> {
    let data_len = (total_len.max(HEADER_LEN) - HEADER_LEN) & !1;
    let mut out = header(data_len as u32);
    out.resize(HEADER_LEN + data_len, 0);
    rng.fill_bytes(&mut out[HEADER_LEN..]);
    out
}

fn header(data_len: u32) -> Vec<u8> {
    let mut h = Vec::with_capacity(HEADER_LEN);
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&(36 + data_len).to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&16u32.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes()); // PCM
    h.extend_from_slice(&1u16.to_le_bytes()); // mono
    h.extend_from_slice(&SAMPLE_RATE.to_le_bytes());
    h.extend_from_slice(&(SAMPLE_RATE * 2).to_le_bytes()); // byte rate
    h.extend_from_slice(&2u16.to_le_bytes()); // block align
    h.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    h.extend_from_slice(b"data");
    h.extend_from_slice(&data_len.to_le_bytes());
    h
}

/// The duration the server will read from a [`random_wav`] of `total_len` bytes.
pub fn duration_ms(total_len: usize) -> u64 {
    let samples = (total_len.saturating_sub(HEADER_LEN) / 2) as u64;
    samples * 1000 / u64::from(SAMPLE_RATE)
}
