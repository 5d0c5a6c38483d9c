//! The demo's recordings: real speech, spoken by flite from `demo-audio/dialogues.txt`
//! by `scripts/demo-audio.sh` and kept as MP3, so that what a person hears, the
//! transcript the engine makes of it, and the text search agree. Blobs are content
//! addressed, so the whole demo stores each file once.

use bytes::Bytes;

use super::data::Topic;

/// One recording of the pool.
pub(super) struct Clip {
    pub kind: Kind,
    pub ms: u32,
    pub bytes: Bytes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// A stereo call: the agent on the left, the customer on the right.
    Call(Topic),
    Voicemail,
    Ivr,
}

macro_rules! files {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_bytes!(concat!("../../demo-audio/", $name, ".mp3")))),*]
    };
}

const FILES: &[(&str, &[u8])] = files!(
    "sales-1",
    "sales-2",
    "sales-3",
    "support-1",
    "support-2",
    "support-3",
    "billing-1",
    "billing-2",
    "billing-3",
    "voicemail-1",
    "voicemail-2",
    "voicemail-3",
    "ivr-1",
    "ivr-2",
);

/// `name<TAB>milliseconds<TAB>topic`, one line per file, written by the script.
const MANIFEST: &str = include_str!("../../demo-audio/manifest.tsv");

/// The pool, in manifest order. The manifest and the files are committed together, so a
/// mismatch is a build defect that the demo's tests catch.
pub(super) fn pool() -> Vec<Clip> {
    MANIFEST
        .lines()
        .filter_map(|line| {
            let mut cols = line.split('\t');
            let (name, ms, topic) = (cols.next()?, cols.next()?, cols.next()?);
            let kind = match topic {
                "sales" => Kind::Call(Topic::Sales),
                "support" => Kind::Call(Topic::Support),
                "billing" => Kind::Call(Topic::Billing),
                "voicemail" => Kind::Voicemail,
                "ivr" => Kind::Ivr,
                _ => return None,
            };
            let bytes = FILES.iter().find(|(n, _)| *n == name)?.1;
            Some(Clip {
                kind,
                ms: ms.parse().ok()?,
                bytes: Bytes::from_static(bytes),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_is_in_the_manifest_with_a_kind() {
        let pool = pool();
        assert_eq!(pool.len(), FILES.len());
        for topic in [Topic::Sales, Topic::Support, Topic::Billing] {
            assert!(pool.iter().any(|c| c.kind == Kind::Call(topic)));
        }
        assert!(pool.iter().any(|c| c.kind == Kind::Voicemail));
        assert!(pool.iter().any(|c| c.kind == Kind::Ivr));
        assert!(pool.iter().all(|c| c.ms > 1000));
    }
}
