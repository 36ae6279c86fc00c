//! A memory cgroup of a test's own: programs run in it under a memory
//! limit, with no swap, in a PID namespace of their own (so that the load
//! the scheduler measures is only theirs: other users of the machine can
//! neither fail nor hang the test). Shared by the library's and the CLI's
//! tests (the CLI's include it with `#[path]`).
//!
//! Making one needs root and a memory controller (cgroup v1's
//! `/sys/fs/cgroup/memory`, or v2's `/sys/fs/cgroup` with `memory` in its
//! `cgroup.subtree_control`), and `unshare` (util-linux). Without them
//! [`MemoryCgroup::for_test`] says why and the test returns, unless `CI` is
//! set or `DUMMYMP_CGROUP_TESTS=required`: then it fails.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// How long the processes left in a cgroup may take to go once killed.
const CLEAN_UP_PATIENCE: Duration = Duration::from_secs(30);

/// A memory cgroup, removed on drop (its processes killed first).
pub struct MemoryCgroup {
    dir: PathBuf,
}

impl MemoryCgroup {
    /// A cgroup limited to `limit` bytes for the test `name`, or `None`
    /// (after saying why) when this machine cannot make one and the test
    /// is not required to run; a failure when it is.
    pub fn for_test(name: &str, limit: u64) -> Option<MemoryCgroup> {
        match MemoryCgroup::create(name, limit) {
            Ok(cgroup) => Some(cgroup),
            Err(why) if required() => {
                panic!(
                    "a memory cgroup test must run here (CI or DUMMYMP_CGROUP_TESTS=required) but {why}"
                )
            }
            Err(why) => {
                eprintln!(
                    "skipping a memory cgroup test: {why}. Run it as root on a machine with \
                     a memory cgroup controller and util-linux's unshare."
                );
                None
            }
        }
    }

    /// Makes the cgroup: `limit` bytes of memory, no swap.
    pub fn create(name: &str, limit: u64) -> Result<MemoryCgroup, String> {
        let unshare = Command::new("unshare")
            .arg("--help")
            .output()
            .map_err(|e| format!("unshare cannot run: {e}"))?;
        if !String::from_utf8_lossy(&unshare.stdout).contains("--kill-child") {
            return Err("this unshare has no --kill-child".to_string());
        }
        let leaf = format!("dummymp-test-{name}-{}", std::process::id());
        let v1 = Path::new("/sys/fs/cgroup/memory");
        let v2 = Path::new("/sys/fs/cgroup");
        let (dir, limits): (PathBuf, &[&str]) = if v1.join("memory.limit_in_bytes").exists() {
            (
                v1.join(leaf),
                &["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"],
            )
        } else if std::fs::read_to_string(v2.join("cgroup.subtree_control"))
            .is_ok_and(|controllers| controllers.split_whitespace().any(|c| c == "memory"))
        {
            (v2.join(leaf), &["memory.max", "memory.swap.max"])
        } else {
            return Err("no memory cgroup controller is mounted where expected".to_string());
        };
        std::fs::create_dir(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let cgroup = MemoryCgroup { dir };
        let [memory, swap] = limits else {
            unreachable!("two files")
        };
        cgroup.write(memory, &limit.to_string())?;
        // No swap: v1 limits memory and swap together, v2 swap alone (the
        // file is missing when the kernel has no swap accounting).
        let swap_limit = if swap.starts_with("memory.memsw") {
            limit
        } else {
            0
        };
        if cgroup.dir.join(swap).exists() {
            cgroup.write(swap, &swap_limit.to_string())?;
        }
        Ok(cgroup)
    }

    fn write(&self, file: &str, value: &str) -> Result<(), String> {
        let path = self.dir.join(file);
        std::fs::write(&path, value)
            .map_err(|e| format!("cannot write {value} to {}: {e}", path.display()))
    }

    /// `program` to be run in the cgroup, in a PID namespace of its own
    /// where it is the first process (killed, with all of the namespace,
    /// when the returned command's process dies).
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new("sh");
        command
            .args(["-c", "echo $$ > \"$0\" && exec \"$@\""])
            .arg(self.dir.join("cgroup.procs"))
            .args(["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"])
            .arg(program);
        command
    }

    /// The processes in the cgroup now.
    fn pids(&self) -> Vec<i32> {
        std::fs::read_to_string(self.dir.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|line| line.trim().parse().ok())
            .collect()
    }
}

impl Drop for MemoryCgroup {
    fn drop(&mut self) {
        // Whatever a failed test left in it (only processes it started).
        let deadline = Instant::now() + CLEAN_UP_PATIENCE;
        loop {
            let pids = self.pids();
            if pids.is_empty() {
                break;
            }
            for pid in pids {
                if let Some(pid) = rustix::process::Pid::from_raw(pid) {
                    let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
                }
            }
            if Instant::now() > deadline {
                eprintln!("processes are still left in {}", self.dir.display());
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if let Err(error) = std::fs::remove_dir(&self.dir) {
            eprintln!("cannot remove {}: {error}", self.dir.display());
        }
    }
}

/// Whether these tests must run: in CI, or when asked for.
fn required() -> bool {
    std::env::var_os("CI").is_some_and(|ci| !ci.is_empty() && ci != "false")
        || std::env::var("DUMMYMP_CGROUP_TESTS").as_deref() == Ok("required")
}
