//! `--slurm`: every job a Slurm job step, with the job log, output and
//! Ctrl-C as without it.
//!
//! Needs a Slurm cluster this machine can submit to: start the three-node
//! test cluster with `bash .ci/slurm/start.sh` (as root) and point the
//! clients at it with `. /var/lib/dummymp-slurm/env`. Without one the tests
//! pass with a message saying so, unless `DUMMYMP_SLURM_TESTS=required` (as
//! in CI), which makes them fail.

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use rustix::process::Signal;

use crate::support::{lines, nuclear, send, spawn_nuclear, wait_for_exit, wait_until};

/// Whether a Slurm cluster answers; see the module documentation.
fn cluster_available() -> bool {
    static AVAILABLE: OnceLock<Result<(), String>> = OnceLock::new();
    let available = AVAILABLE.get_or_init(|| {
        // sinfo retries for a minute when it has no configuration file.
        let output = Command::new("timeout")
            .args(["20", "sinfo", "--noheader", "--responding", "--format=%T"])
            .output()
            .map_err(|e| format!("sinfo cannot run: {e}"))?;
        if !output.status.success() || output.stdout.trim_ascii().is_empty() {
            return Err(format!(
                "sinfo found no responding node: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        Ok(())
    });
    match available {
        Ok(()) => true,
        Err(why) if std::env::var("DUMMYMP_SLURM_TESTS").as_deref() == Ok("required") => {
            panic!("DUMMYMP_SLURM_TESTS=required but no Slurm cluster answers ({why})")
        }
        Err(why) => {
            eprintln!(
                "skipping a Slurm test: {why}. Start the test cluster with \
                 `sudo bash .ci/slurm/start.sh` and `. /var/lib/dummymp-slurm/env` \
                 to run it."
            );
            false
        }
    }
}

/// The ids of the steps named `name` that Slurm knows of.
fn steps_named(name: &str) -> Vec<String> {
    let output = Command::new("squeue")
        .args(["--noheader", "--steps", "--format=%i %j"])
        .output()
        .expect("squeue runs");
    assert!(output.status.success(), "squeue failed: {output:?}");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.trim().split_once(' '))
        .filter(|(_, step_name)| *step_name == name)
        .map(|(id, _)| id.to_string())
        .collect()
}

/// The job log's rows (after the header), by job number.
fn log_rows(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut rows: Vec<Vec<String>> = text
        .lines()
        .skip(1)
        .map(|line| line.splitn(9, '\t').map(str::to_owned).collect())
        .collect();
    rows.sort_by_key(|row| row[0].parse::<u64>().unwrap());
    rows
}

#[test]
fn jobs_run_as_steps_and_are_logged_as_without_slurm() {
    if !cluster_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let job = "echo step $SLURM_JOB_ID.$SLURM_STEP_ID {}; echo warning {} >&2; exit {}";
    let output = nuclear(dir.path())
        .args([
            "--slurm", "-k", "--joblog", "jobs.log", job, ":::", "0", "3",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "one job failed: {output:?}");
    let printed = lines(&output.stdout);
    assert_eq!(printed.len(), 2, "{printed:?}");
    for (line, input) in printed.iter().zip(["0", "3"]) {
        let words: Vec<&str> = line.split(' ').collect();
        assert_eq!(words.len(), 3, "{line}");
        let (job_id, step_id) = words[1].split_once('.').expect("job.step");
        assert!(
            job_id.parse::<u64>().is_ok() && step_id.parse::<u64>().is_ok(),
            "{line}"
        );
        assert_eq!(words[2], input);
    }
    // srun's own "task 0: Exited with exit code 3" is not the job's output.
    assert_eq!(lines(&output.stderr), ["warning 0", "warning 3"]);
    let rows = log_rows(&dir.path().join("jobs.log"));
    assert_eq!(rows.len(), 2);
    for (row, exit) in rows.iter().zip(["0", "3"]) {
        assert_eq!(row[6], exit, "{row:?}");
        assert_eq!(row[7], "0", "{row:?}");
    }
}

#[test]
fn ctrl_c_cancels_the_running_steps() {
    if !cluster_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // A sleep under a name of its own: Slurm names a step after its
    // program, and no other step has this name.
    let name = format!("dummymp-cli-sleep-{}", std::process::id());
    let copied = Command::new("cp")
        .arg(find_sleep())
        .arg(dir.path().join(&name))
        .status()
        .unwrap();
    assert!(copied.success());
    let job = format!("./{name} 60{{}}");
    let mut run = spawn_nuclear(dir.path(), &["--slurm", "-j", "2", &job, ":::", "0", "1"]);
    wait_until("a step to run", || !steps_named(&name).is_empty());
    send(run.id(), Signal::INT);
    assert_eq!(wait_for_exit(&mut run).code(), Some(130));
    wait_until("the steps to be gone", || steps_named(&name).is_empty());
}

/// The `sleep` program's path.
fn find_sleep() -> std::path::PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .map(|dir| dir.join("sleep"))
        .find(|path| path.is_file())
        .expect("sleep is on PATH")
}
