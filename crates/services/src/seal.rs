//! Sealing of secrets kept in the metadata store (external storage credentials) with
//! ChaCha20-Poly1305 under the server's master key, so that a copy of the database alone
//! does not reveal them. The record's id is bound in as associated data: a sealed value
//! moved to another record does not open.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;

const NONCE: usize = 12;

#[derive(Clone)]
pub struct Sealer {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

impl Sealer {
    pub fn new(key: &[u8; 32]) -> Self {
        Self {
            cipher: ChaCha20Poly1305::new(Key::from_slice(key)),
        }
    }

    /// `nonce || ciphertext`.
    pub fn seal(&self, plaintext: &[u8], bound_to: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE];
        rand::thread_rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: bound_to,
                },
            )
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        out
    }

    /// `None` if the value was not sealed by this key for this record.
    pub fn open(&self, sealed: &[u8], bound_to: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < NONCE {
            return None;
        }
        let (nonce, ct) = sealed.split_at(NONCE);
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: bound_to,
                },
            )
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_only_with_the_key_and_record_it_was_sealed_for() {
        let s = Sealer::new(&[7; 32]);
        let sealed = s.seal(b"secret", b"record-1");
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        assert_eq!(
            s.open(&sealed, b"record-1").as_deref(),
            Some(&b"secret"[..])
        );
        assert_eq!(s.open(&sealed, b"record-2"), None);
        assert_eq!(Sealer::new(&[8; 32]).open(&sealed, b"record-1"), None);
        assert_eq!(s.open(&sealed[..5], b"record-1"), None);
    }
}
