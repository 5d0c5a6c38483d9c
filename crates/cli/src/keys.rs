//! The master key that seals external storage credentials in the metadata store.
//!
//! Embedded: a key file beside the database but outside it (`<data_dir>/master.key`,
//! mode 0600), so a copy of the database alone reveals nothing. Scale-out: every node
//! must open what any other sealed, so the key must be given (`CALLVAULT_MASTER_KEY` or
//! the file's `master_key`) and is never generated per node.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::RngCore;

use crate::config::Settings;

fn decode(text: &str) -> anyhow::Result<[u8; 32]> {
    let bytes = STANDARD
        .decode(text.trim())
        .context("master_key must be base64")?;
    bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!("master_key must be base64 of exactly 32 bytes"))
}

pub fn master_key(settings: &Settings) -> anyhow::Result<[u8; 32]> {
    if let Some(k) = &settings.master_key {
        return decode(k);
    }
    let scale_out = settings
        .database_url
        .as_deref()
        .is_some_and(|u| u.starts_with("postgres"));
    anyhow::ensure!(
        !scale_out,
        "nodes on PostgreSQL must share one master key: set CALLVAULT_MASTER_KEY (or \
         master_key in the file) to the same base64 of 32 random bytes on every node, \
         e.g. from `openssl rand -base64 32`"
    );
    let path = settings.data_dir.join("master.key");
    match std::fs::read_to_string(&path) {
        Ok(text) => decode(&text).with_context(|| format!("reading {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create(&path),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Creates the key file; if another process won the race, uses its key.
fn create(path: &Path) -> anyhow::Result<[u8; 32]> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut key = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut key);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    match opts.open(path) {
        Ok(mut f) => {
            f.write_all(STANDARD.encode(key).as_bytes())?;
            f.sync_all()?;
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            decode(&std::fs::read_to_string(path)?)
        }
        Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_key_is_created_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let s = Settings::embedded(dir.path());
        let a = master_key(&s).unwrap();
        let b = master_key(&s).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, [0; 32]);
    }

    #[test]
    fn scale_out_requires_a_given_key() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Settings::embedded(dir.path());
        s.database_url = Some("postgres://db/cv".into());
        assert!(master_key(&s).is_err());
        s.master_key = Some(STANDARD.encode([9u8; 32]));
        assert_eq!(master_key(&s).unwrap(), [9; 32]);
        s.master_key = Some("c2hvcnQ=".into());
        assert!(format!("{:#}", master_key(&s).unwrap_err()).contains("32 bytes"));
    }
}
