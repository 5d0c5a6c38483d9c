//! The embedded vault on a file system that fills up.

use std::path::{Path, PathBuf};

use super::upload;
use crate::common::*;
use reqwest::StatusCode;
use serde_json::Value;

/// A 16 MiB tmpfs mounted for one test and unmounted (lazily, so open files do not keep
/// it) when dropped. Needs the right to mount, which the test machine's root has; a test
/// that cannot mount fails rather than passing without having run.
struct SmallDisk {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl SmallDisk {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=16m", "tmpfs"])
            .arg(&path)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "mounting a tmpfs for the full-disk test failed (run the suite as root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self { _dir: dir, path }
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.path)
            .status();
    }
}

/// While the disk is full, uploads answer 507 with a message, reads, searches, sign-in
/// and deletions go on and readiness says so; once space is freed, uploads work again,
/// without a restart.
#[tokio::test]
async fn a_full_disk_refuses_uploads_and_recovers_when_space_is_freed() {
    let disk = SmallDisk::new();
    let s = TestServer::start_with(|c| {
        c.data_dir = disk.path().to_path_buf();
        c.database_url = None;
        c.s3 = None;
    })
    .await;
    let t = s.token("acme", ALL_SCOPES).await;
    let mut stored = Vec::new();
    let refused = loop {
        let n = stored.len() as u32 + 1;
        let (status, text) = upload(&s, &t, n).await;
        if status == StatusCode::CREATED {
            stored.push(n);
            assert!(n < 40, "a 16 MiB disk took {n} MiB of uploads");
            continue;
        }
        break (status, text);
    };
    assert_eq!(refused.0, StatusCode::INSUFFICIENT_STORAGE, "{}", refused.1);
    assert!(refused.1.contains("full"), "{}", refused.1);
    assert!(stored.len() >= 5, "only {} uploads fit", stored.len());

    let (status, ready) = json_of(s.http.get(s.url("/readyz")).send().await.unwrap()).await;
    assert_eq!(
        (status, ready["storage"].as_str()),
        (StatusCode::OK, Some("full"))
    );
    let (status, page) = json_of(
        s.get(
            &t,
            "/interaction-content/interactions?start=2021-03-01T00:00:00Z&end=2021-03-07T00:00:00Z",
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let listed = page["items"].as_array().map_or(0, Vec::len);
    assert_eq!(listed, stored.len(), "every acknowledged upload is there");
    let fresh = s.token("acme", "interaction-content:read").await;
    assert!(!fresh.is_empty(), "sign-in still works");

    for n in stored.drain(..3) {
        let r = s
            .http
            .delete(s.url(&format!("/interaction-content/interactions/{}", guid(n))))
            .bearer_auth(&t)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "delete while full: {}", r.status());
    }
    let (status, ready) = json_of(s.http.get(s.url("/readyz")).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ready.get("storage"), None::<&Value>, "{ready}");
    let (status, text) = upload(&s, &t, 100).await;
    assert_eq!(status, StatusCode::CREATED, "after freeing space: {text}");
    s.stop().await;
}
