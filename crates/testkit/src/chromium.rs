//! How the console's browser tests and the benchmark's console phase start Debian's
//! Chromium, so that both drive the same browser the same way: a flag added for one (a
//! stability fix, a media policy) holds for the other.

use std::path::{Path, PathBuf};

/// Debian's browser binary itself, not the wrapper script in /usr/bin, which chromedriver
/// would start with flags of its own.
pub fn binary() -> PathBuf {
    let real = Path::new("/usr/lib/chromium/chromium");
    if real.exists() {
        real.into()
    } else {
        "/usr/bin/chromium".into()
    }
}

/// Headless, without the background traffic and first-run work that make timings noisy,
/// allowed to autoplay (the player is started by script), with a profile of its own.
pub fn args(profile: &Path) -> Vec<String> {
    [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--autoplay-policy=no-user-gesture-required",
        "--window-size=1280,900",
    ]
    .iter()
    .map(|a| a.to_string())
    .chain([format!("--user-data-dir={}", profile.display())])
    .collect()
}
