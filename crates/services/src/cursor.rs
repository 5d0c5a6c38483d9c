//! Continuation tokens: opaque to clients, tamper-evident, and bound to the search they
//! came from, so a token cannot be replayed against a different filter or tenant.
//!
//! Layout before base64url: version (1 byte) | start_us (8) | id (8) | MAC (16), where the
//! MAC is HMAC-SHA256 over the version, position, tenant and the filter's canonical
//! encoding ([`canonical`]), truncated to 128 bits. The encoding is fixed and written out
//! field by field, never derived from a type's `Debug` or serde form, so nodes of
//! different versions verify each other's tokens during a rolling upgrade; a test checks
//! a token made by this version.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use callvault_core::interaction::RecordingKind;
use callvault_core::query::SearchCursor;
use callvault_core::query::TranscriptionFilter;
use callvault_core::{InteractionQuery, Invalid, TenantId};
use callvault_storage::prelude::*;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::error::ServiceResult;

/// 2: the canonical filter encoding (1 hashed the filter's `Debug` text).
const VERSION: u8 = 2;
const MAC_LEN: usize = 16;
const LEN: usize = 1 + 8 + 8 + MAC_LEN;

pub struct CursorCodec {
    key: Vec<u8>,
}

impl CursorCodec {
    /// Loads the key shared by every node on the same database, creating it once.
    pub async fn load(store: &dyn Store) -> ServiceResult<Self> {
        let mut init = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut init);
        Ok(Self {
            key: store.secret("continuation-token-key", &init).await?,
        })
    }

    pub fn from_key(key: Vec<u8>) -> Self {
        Self { key }
    }

    fn mac(
        &self,
        head: &[u8],
        tenant: TenantId,
        filter: &InteractionQuery,
        salt: &[u8],
    ) -> [u8; MAC_LEN] {
        let mut m = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        m.update(head);
        m.update(&tenant.0.to_be_bytes());
        m.update(&canonical(filter));
        m.update(salt);
        let full = m.finalize().into_bytes();
        let mut out = [0u8; MAC_LEN];
        out.copy_from_slice(&full[..MAC_LEN]);
        out
    }

    pub fn encode(&self, tenant: TenantId, filter: &InteractionQuery, c: SearchCursor) -> String {
        self.encode_salted(tenant, filter, b"", c)
    }

    pub fn decode(
        &self,
        field: &str,
        token: &str,
        tenant: TenantId,
        filter: &InteractionQuery,
    ) -> Result<SearchCursor, Invalid> {
        self.decode_salted(field, token, tenant, filter, b"")
    }

    /// A token bound also to `salt`: what else selects the page beyond the filter (a text
    /// search's terms), so a token of one search cannot continue another.
    pub fn encode_salted(
        &self,
        tenant: TenantId,
        filter: &InteractionQuery,
        salt: &[u8],
        c: SearchCursor,
    ) -> String {
        let mut buf = Vec::with_capacity(LEN);
        buf.push(VERSION);
        buf.extend_from_slice(&c.start_us.to_be_bytes());
        buf.extend_from_slice(&c.id.to_be_bytes());
        let mac = self.mac(&buf, tenant, filter, salt);
        buf.extend_from_slice(&mac);
        URL_SAFE_NO_PAD.encode(buf)
    }

    pub fn decode_salted(
        &self,
        field: &str,
        token: &str,
        tenant: TenantId,
        filter: &InteractionQuery,
        salt: &[u8],
    ) -> Result<SearchCursor, Invalid> {
        let bad = || {
            Invalid::new(
                field,
                "continuationToken is invalid or does not belong to this search",
            )
        };
        let trimmed = token.trim_end_matches('=');
        let raw = URL_SAFE_NO_PAD
            .decode(trimmed)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(trimmed))
            .map_err(|_| bad())?;
        if raw.len() != LEN || raw[0] != VERSION {
            return Err(bad());
        }
        let (head, mac) = raw.split_at(LEN - MAC_LEN);
        let want = self.mac(head, tenant, filter, salt);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(&want[..], mac)) {
            return Err(bad());
        }
        let start_us = i64::from_be_bytes(head[1..9].try_into().map_err(|_| bad())?);
        let id = i64::from_be_bytes(head[9..17].try_into().map_err(|_| bad())?);
        Ok(SearchCursor { start_us, id })
    }
}

/// The filter as `name=value` entries in a fixed order, each value length-prefixed, set
/// fields only: a field added later is absent from older filters, so their encoding (and
/// tokens) stay what they were. Times are microseconds since the epoch.
fn canonical(f: &InteractionQuery) -> Vec<u8> {
    let mut out = Vec::new();
    let mut put = |name: &str, value: &str| {
        out.extend_from_slice(name.as_bytes());
        out.push(b'=');
        out.extend_from_slice(&(value.len() as u64).to_be_bytes());
        out.extend_from_slice(value.as_bytes());
    };
    let range = |r: (DateTime<Utc>, DateTime<Utc>)| {
        format!("{},{}", r.0.timestamp_micros(), r.1.timestamp_micros())
    };
    if let Some(r) = f.start {
        put("start", &range(r));
    }
    if let Some(r) = f.end {
        put("end", &range(r));
    }
    if let Some(d) = f.direction {
        put("direction", d.as_str());
    }
    let texts = [
        ("agent", &f.handling_agent),
        ("from_prefix", &f.connect_from_prefix),
        ("to_prefix", &f.connect_to_prefix),
    ];
    for (name, v) in texts {
        if let Some(v) = v {
            put(name, v);
        }
    }
    if let Some(t) = f.with_content {
        put("content", t.as_str());
    }
    if let Some(g) = &f.guid {
        put("guid", g.as_str());
    }
    let texts = [
        ("from", &f.connect_from),
        ("to", &f.connect_to),
        ("caller", &f.caller_name),
        ("extension", &f.extension),
    ];
    for (name, v) in texts {
        if let Some(v) = v {
            put(name, v);
        }
    }
    if let Some(min) = f.recording_ms.0 {
        put("min_ms", &min.to_string());
    }
    if let Some(max) = f.recording_ms.1 {
        put("max_ms", &max.to_string());
    }
    if let Some(k) = f.recording_kind {
        put(
            "kind",
            match k {
                RecordingKind::Company => "company",
                RecordingKind::OnDemand => "onDemand",
            },
        );
    }
    if let Some(u) = &f.owning_user {
        put("owner", u);
    }
    if let Some(u) = &f.visible_to_agent {
        put("agent_sees", u);
    }
    if let Some(t) = f.transcription {
        put(
            "transcription",
            match t {
                TranscriptionFilter::Any => "any",
                TranscriptionFilter::Ready => "ready",
                TranscriptionFilter::Pending => "pending",
                TranscriptionFilter::Failed => "failed",
            },
        );
    }
    if f.newest_first {
        put("newest_first", "1");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use proptest::prelude::*;

    fn filter() -> InteractionQuery {
        callvault_core::SearchFilter {
            start: Utc.with_ymd_and_hms(2021, 1, 1, 0, 0, 0).unwrap(),
            end: Utc.with_ymd_and_hms(2021, 1, 2, 0, 0, 0).unwrap(),
            handling_agent_id: None,
            connect_from_prefix: None,
            connect_to_prefix: None,
            direction: None,
        }
        .to_query()
    }

    /// A token this version made, kept byte for byte: every later version must accept it
    /// (for the same key, tenant and filter), or nodes would refuse each other's tokens
    /// during a rolling upgrade.
    const FIXED_TOKEN: &str = "AgAFt8tr5YAAAAAAAAAAACpz62fGMtXSxeYAO_5nJ1cA";

    #[test]
    fn a_token_from_the_checked_in_encoding_still_decodes() {
        let codec = CursorCodec::from_key(b"fixed key".to_vec());
        let mut f = filter();
        f.handling_agent = Some("a1".into());
        f.recording_kind = Some(RecordingKind::OnDemand);
        f.newest_first = true;
        let c = SearchCursor {
            start_us: 1_609_459_200_000_000,
            id: 42,
        };
        assert_eq!(codec.encode(TenantId(7), &f, c), FIXED_TOKEN);
        assert_eq!(codec.decode("ct", FIXED_TOKEN, TenantId(7), &f).unwrap(), c);
    }

    proptest! {
        #[test]
        fn round_trip_and_binding(start_us in any::<i64>(), id in any::<i64>(), flip in 0usize..LEN) {
            let codec = CursorCodec::from_key(b"k".to_vec());
            let c = SearchCursor { start_us, id };
            let t = codec.encode(TenantId(1), &filter(), c);
            prop_assert_eq!(codec.decode("ct", &t, TenantId(1), &filter()).unwrap(), c);
            prop_assert!(codec.decode("ct", &t, TenantId(2), &filter()).is_err());
            let mut other = filter();
            other.connect_to_prefix = Some("1".into());
            prop_assert!(codec.decode("ct", &t, TenantId(1), &other).is_err());
            let mut raw = URL_SAFE_NO_PAD.decode(&t).unwrap();
            raw[flip] ^= 1;
            let tampered = URL_SAFE_NO_PAD.encode(raw);
            prop_assert!(codec.decode("ct", &tampered, TenantId(1), &filter()).is_err());
        }

        #[test]
        fn garbage_is_rejected(s in "\\PC{0,80}") {
            let codec = CursorCodec::from_key(b"k".to_vec());
            prop_assert!(codec.decode("ct", &s, TenantId(1), &filter()).is_err());
        }
    }
}
