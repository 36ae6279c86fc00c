//! `--slurm`: every job a Slurm job step, on every node of the
//! allocation, with the job log, output and Ctrl-C as without it; a job
//! whose node dies is logged as failed.
//!
//! Needs a Slurm cluster this machine can submit to: start the three-node
//! test cluster with `bash .ci/slurm/start.sh` (as root) and point the
//! clients at it with `. /var/lib/dummymp-slurm/env`. Without one the tests
//! pass with a message saying so, unless `DUMMYMP_SLURM_TESTS=required` (as
//! in CI), which makes them fail. The test that kills a node needs that
//! cluster (its `.ci/slurm/kill-node.sh`), as root.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rustix::process::Signal;

use crate::cluster::{
    DeadNode, cluster_available, cluster_lock, processes_of_job, steps_named, test_cluster_nodes,
};
use crate::support::{binary, lines, nuclear, send, spawn_nuclear, wait_for_exit, wait_until};

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
    let _cluster = cluster_lock(false);
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
    let _cluster = cluster_lock(false);
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

// ---- Across the nodes ------------------------------------------------------

/// A job script that waits (at most two minutes) until `count` jobs have
/// touched a file in `dir`, then prints its node and exits with its input:
/// `count` of them at once on three nodes of two CPUs run on every node.
fn meeting_job(dir: &Path, count: usize) -> String {
    let d = dir.display();
    format!(
        "touch {d}/met-{{}}; n=0; \
         while [ $(ls {d} | grep -c '^met-') -lt {count} ] && [ $n -lt 1200 ]; do \
         n=$((n+1)); sleep 0.1; done; echo $SLURMD_NODENAME; exit {{}}"
    )
}

#[test]
fn jobs_spread_over_every_node_of_a_batch_job() {
    if !cluster_available() {
        return;
    }
    let _cluster = cluster_lock(false);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("batch.out");
    let job = meeting_job(dir.path(), 6);
    // The batch script runs dummymp on the first node; its jobs run on all.
    let script = format!(
        "#!/bin/sh\nexec {} --slurm -j 6 --joblog {} '{job}' ::: 1 2 3 4 5 6\n",
        binary().display(),
        dir.path().join("jobs.log").display()
    );
    let status = Command::new("sbatch")
        .args(["--wait", "--quiet", "--nodes=3", "--ntasks=6", "--time=10"])
        .arg(format!("--output={}", out.display()))
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .spawn()
        .and_then(|mut sbatch| {
            use std::io::Write;
            sbatch.stdin.take().unwrap().write_all(script.as_bytes())?;
            sbatch.wait()
        })
        .expect("sbatch runs");
    let printed = std::fs::read_to_string(&out).unwrap_or_default();
    assert_eq!(status.code(), Some(6), "six jobs failed: {printed}");
    let nodes: BTreeSet<&str> = printed.lines().collect();
    assert_eq!(nodes.len(), 3, "{printed}");
    let rows = log_rows(&dir.path().join("jobs.log"));
    assert_eq!(rows.len(), 6);
    for (row, exit) in rows.iter().zip(1..) {
        assert_eq!(row[6], exit.to_string(), "{row:?}");
        assert_eq!(row[7], "0", "{row:?}");
    }
}

/// Waits for `child` for at most `limit`; fails the test after that.
fn wait_long(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "gave up waiting for dummymp");
        std::thread::sleep(Duration::from_millis(50));
    }
}

// A node dies under two runs, each in an allocation of one CPU on each of
// the three nodes. With --no-kill the run goes on: its job on the dead
// node is logged as failed (Exitval 255) and said so on stderr, the jobs
// queued run on the nodes left. Without it Slurm revokes the allocation:
// every job is accounted for (lost, killed by Slurm, or unable to start)
// and the run fails. No job and no process is left.
#[test]
fn a_job_whose_node_dies_is_logged_as_failed() {
    if !cluster_available() {
        return;
    }
    let Some(nodes) = test_cluster_nodes() else {
        return;
    };
    let _cluster = cluster_lock(true);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let name = format!("dummymp-cli-loss-{}", std::process::id());
    let run = |tag: &str, no_kill: bool| {
        // Each job says where it is, then waits for its release (at most
        // five minutes).
        let job = format!(
            "echo $SLURMD_NODENAME > {d}/{tag}-{{}}; n=0; \
             while [ ! -e {d}/{tag}-release ] && [ $n -lt 3000 ]; do n=$((n+1)); sleep 0.1; done"
        );
        let mut command = Command::new("salloc");
        command.args(["--quiet", "--nodes=3", "--ntasks=3", "--time=10"]);
        command.arg(format!("--job-name={name}"));
        if no_kill {
            command.arg("--no-kill");
        }
        command
            .arg(binary())
            .args(["--priority", "nuclear", "--slurm", "-j", "3", "--joblog"])
            .arg(dir.path().join(format!("{tag}.log")))
            .arg(job)
            .args([":::", "1", "2", "3", "4", "5"])
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join(format!("{tag}.err"))).unwrap())
            .spawn()
            .expect("salloc runs")
    };
    let mut kept = run("kept", true);
    let mut revoked = run("revoked", false);
    let placed = |tag: &str| -> Vec<String> {
        (1..=3)
            .map(|i| {
                let file = dir.path().join(format!("{tag}-{i}"));
                std::fs::read_to_string(file)
                    .unwrap_or_default()
                    .trim()
                    .to_string()
            })
            .collect()
    };
    wait_until("three jobs of each run", || {
        placed("kept")
            .iter()
            .chain(&placed("revoked"))
            .all(|node| !node.is_empty())
    });
    let (kept_on, revoked_on) = (placed("kept"), placed("revoked"));
    let listed = Command::new("squeue")
        .args(["--noheader", "--format=%i", "--name", &name])
        .output()
        .unwrap();
    let jobs: Vec<String> = lines(&listed.stdout);
    assert_eq!(jobs.len(), 2, "{jobs:?}");
    let victim = &nodes[1];
    let dead = DeadNode::kill(victim);
    std::fs::write(dir.path().join("kept-release"), "").unwrap();
    let kept_status = wait_long(&mut kept, Duration::from_secs(300));
    let revoked_status = wait_long(&mut revoked, Duration::from_secs(300));
    drop(dead);

    let said = |tag: &str| std::fs::read_to_string(dir.path().join(format!("{tag}.err"))).unwrap();
    // --no-kill: one job lost, the others (two queued ones too) done.
    let lost = 1 + kept_on
        .iter()
        .position(|n| n == victim)
        .expect("a job on each node");
    assert_eq!(kept_status.code(), Some(1), "{}", said("kept"));
    let rows = log_rows(&dir.path().join("kept.log"));
    assert_eq!(rows.len(), 5, "{rows:?}");
    for row in &rows {
        let expected = if row[0] == lost.to_string() {
            "255"
        } else {
            "0"
        };
        assert_eq!(
            (row[6].as_str(), row[7].as_str()),
            (expected, "0"),
            "{row:?}"
        );
    }
    let warning = format!("dummymp: warning: job {lost} was lost with its node {victim}");
    assert!(said("kept").contains(&warning), "{}", said("kept"));
    for later in 4..=5 {
        let node = std::fs::read_to_string(dir.path().join(format!("kept-{later}"))).unwrap();
        assert_ne!(node.trim(), victim, "job {later} ran on the dead node");
    }
    // Revoked: every job logged, none a success.
    assert_eq!(revoked_status.code(), Some(5), "{}", said("revoked"));
    let rows = log_rows(&dir.path().join("revoked.log"));
    assert_eq!(rows.len(), 5, "{rows:?}");
    for row in &rows {
        let seq: usize = row[0].parse().unwrap();
        let expected = match revoked_on.get(seq - 1) {
            Some(node) if node == victim => ("255", "0"), // lost
            Some(_) => ("143", "15"),                     // ended by Slurm
            None => ("126", "0"),                         // never started
        };
        assert_eq!((row[6].as_str(), row[7].as_str()), expected, "{row:?}");
    }
    // Nothing left: the jobs are gone from the queue, and so are their
    // processes from every node.
    wait_until("the allocations to be gone", || {
        let listed = Command::new("squeue")
            .args(["--noheader", "--format=%i", "--name", &name])
            .output()
            .unwrap();
        listed.stdout.trim_ascii().is_empty()
    });
    for job in &jobs {
        wait_until("the jobs' processes to be gone", || {
            processes_of_job(job).is_empty()
        });
    }
}
