//! Memory admission in a memory cgroup of the test's own (300 MiB, no swap):
//! jobs that fit only alone run one after the other instead of waiting for
//! ever, and a job the out-of-memory killer ends is said so and does not
//! keep the later jobs from running. Needs root; see `tests/common/cgroup.rs`
//! (skipped without, unless `CI` is set).

use crate::cgroup::MemoryCgroup;
use crate::support::{PATIENCE, binary, lines};

const LIMIT: u64 = 300 << 20;

/// Runs `dummymp ARGS` in `cgroup`, stopped after [`PATIENCE`].
fn dummymp_in(cgroup: &MemoryCgroup, args: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let mut command = cgroup.command(binary());
    command.args(args).current_dir(dir.path());
    let mut command = assert_cmd::Command::from_std(command);
    command.timeout(PATIENCE);
    command.output().expect("dummymp runs")
}

/// In the default mode a job of 270 MiB, learned from the first, never
/// fits beside another job with Normal's 30 MiB reserve; with none of ours
/// running it keeps no reserve and must start (it used to wait for ever
/// with nothing running).
#[test]
fn jobs_that_fit_only_alone_run_one_after_another() {
    let Some(cgroup) = MemoryCgroup::for_test("cli-fit-alone", LIMIT) else {
        return;
    };
    let output = dummymp_in(
        &cgroup,
        &[
            "-j1",
            r#"python3 -c "b=bytearray({}<<20)"; echo done {}"#,
            ":::",
            "270",
            "270",
            "270",
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{:?} (killed after {PATIENCE:?} if it hung): {stderr}",
        output.status
    );
    assert_eq!(lines(&output.stdout), ["done 270"; 3], "{stderr}");
}

/// One job the out-of-memory killer ends (and ends again when retried):
/// it is said so, and the later jobs of the same command still run.
#[test]
fn a_job_the_oom_killer_ends_is_named_and_the_next_jobs_run() {
    let Some(cgroup) = MemoryCgroup::for_test("cli-oom", LIMIT) else {
        return;
    };
    let output = dummymp_in(
        &cgroup,
        &[
            "-j1",
            "--retries",
            "2",
            "sh -c {}",
            ":::",
            r#"python3 -c "b=bytearray(400<<20)""#,
            "echo ok 1",
            "echo ok 2",
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "one job failed: {stderr}");
    assert_eq!(lines(&output.stdout), ["ok 1", "ok 2"], "{stderr}");
    assert!(
        stderr.contains(
            "dummymp: warning: job 1 was killed by SIGKILL, most likely by the kernel's \
             out-of-memory killer when memory ran out (the limit is 300 MiB)"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("cannot run"), "{stderr}");
}
