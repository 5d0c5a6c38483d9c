//! Threads for background work that should give way when the cores are busy: the
//! webhook courier's sending and the audit trail's batched writes.
//!
//! Such work is asynchronous by design, so it is what should wait when every core is
//! busy; the operating system's scheduler is what can make it wait, and it schedules
//! threads, not tasks. On the request runtime, a batch of audit inserts (a millisecond of
//! CPU every 50 ms under load) delayed the requests that shared a core with it: with one
//! client asking for pages of one interaction, p99 was 1.4–1.9 ms with reads recorded
//! against 0.3 ms without (docs/benchmarks.md). So the work runs on a thread of its own,
//! in a single-threaded runtime, with a raised niceness: when a core is idle it runs at
//! full speed, and when every core is busy it gets a small share.

use std::future::Future;

/// How far below the request threads background threads run (added to the process's
/// niceness). At 10 the scheduler weighs such a thread about a tenth of a request
/// thread when both want a busy core; it still runs within milliseconds of waking.
pub(crate) const NICENESS: i32 = 10;

/// Runs `work` on a new thread named `name`, in a single-threaded runtime of its own, at
/// [`NICENESS`] below the calling thread.
pub(crate) fn spawn_below_requests<F, Fut>(name: &'static str, work: F) -> std::io::Result<()>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .thread_name(name)
        .build()?;
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            // Before the runtime starts: threads it creates inherit the niceness.
            lower_priority(name);
            runtime.block_on(work());
        })?;
    Ok(())
}

/// Raises the calling thread's niceness by [`NICENESS`]. On Linux a thread's niceness is
/// its own (`setpriority` with a thread id), and raising it needs no privilege.
fn lower_priority(name: &str) {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid, getpriority and setpriority take and return plain integers and
        // touch no memory of ours.
        let failed = unsafe {
            let tid = libc::gettid() as libc::id_t;
            let now = libc::getpriority(libc::PRIO_PROCESS, tid);
            libc::setpriority(libc::PRIO_PROCESS, tid, (now + NICENESS).min(19)) != 0
        };
        if failed {
            tracing::warn!(
                error = %std::io::Error::last_os_error(),
                thread = name,
                "a background thread runs at the request threads' CPU priority"
            );
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = name;
}

/// The niceness of each of this process's threads with the given name.
#[cfg(all(test, target_os = "linux"))]
pub(crate) fn niceness_of(name: &str) -> Vec<i32> {
    let mut found = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim_end() != name {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        // After the name in parentheses: state is field 3, nice field 19.
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        found.push(after.split(' ').nth(16).unwrap().parse().unwrap());
    }
    found
}

/// The niceness a thread started by this one gets.
#[cfg(all(test, target_os = "linux"))]
pub(crate) fn below_this_thread() -> i32 {
    // SAFETY: as in lower_priority.
    let ours = unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) };
    (ours + NICENESS).min(19)
}
