//! What the Slurm tests of the library and of the command-line tool share
//! about the test cluster of `.ci/slurm/`: whether it answers, a lock that
//! keeps node-killing tests apart from the others, its steps and nodes,
//! killing a node, and the processes of a job. Included by both test crates
//! (`#[path]`), as `cgroup.rs` is.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};
use std::sync::OnceLock;

/// Whether a Slurm cluster answers. Without one: `false` (the test then
/// returns at once) after saying how to run these tests, or a failure when
/// `DUMMYMP_SLURM_TESTS=required`.
pub fn cluster_available() -> bool {
    static AVAILABLE: OnceLock<Result<(), String>> = OnceLock::new();
    let available = AVAILABLE.get_or_init(|| {
        // sinfo retries for a minute when it has no configuration file.
        let output = StdCommand::new("timeout")
            .args(["20", "sinfo", "--noheader", "--responding", "--format=%T"])
            .output()
            .map_err(|e| format!("sinfo cannot run: {e}"))?;
        let states = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() || states.trim().is_empty() {
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

/// The cluster is shared by the Slurm tests, of this program and of the
/// command-line tool's: a test that kills a node must have it alone
/// (`alone`), the others share it. A lock file, held until dropped.
pub fn cluster_lock(alone: bool) -> std::fs::File {
    let lock = std::fs::File::create(std::env::temp_dir().join("dummymp-slurm-cluster.lock"))
        .expect("lock file");
    let how = if alone {
        rustix::fs::FlockOperation::LockExclusive
    } else {
        rustix::fs::FlockOperation::LockShared
    };
    rustix::fs::flock(&lock, how).expect("locked");
    lock
}

/// The ids (`job.step`) of the steps named `name` that Slurm knows of
/// (`squeue --steps` ignores `--name`: the names are compared here).
pub fn steps_named(name: &str) -> Vec<String> {
    let output = StdCommand::new("squeue")
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

/// The nodes of the test cluster (`DUMMYMP_SLURM_NODES`, which
/// `.ci/slurm/start.sh`'s environment file exports), or `None` on another
/// cluster: then a test that needs them says so and passes, unless
/// `DUMMYMP_SLURM_TESTS=required`, which makes it fail.
pub fn test_cluster_nodes() -> Option<Vec<String>> {
    let nodes: Vec<String> = std::env::var("DUMMYMP_SLURM_NODES")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    if nodes.len() >= 3 && rustix::process::geteuid().is_root() {
        return Some(nodes);
    }
    let why = "it needs the three-node test cluster of .ci/slurm (DUMMYMP_SLURM_NODES), as root";
    if std::env::var("DUMMYMP_SLURM_TESTS").as_deref() == Ok("required") {
        panic!("DUMMYMP_SLURM_TESTS=required, but {why}");
    }
    eprintln!("skipping a Slurm test: {why}");
    None
}

/// One of `.ci/slurm/`'s scripts.
pub fn cluster_script(name: &str) -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ci = manifest
        .ancestors()
        .map(|dir| dir.join(".ci/slurm"))
        .find(|dir| dir.is_dir())
        .expect(".ci/slurm is in the repository");
    ci.join(name)
}

/// A node of the test cluster killed as a power cut would kill it
/// (`.ci/slurm/kill-node.sh`); started again when dropped, and waited for
/// until Slurm has it back.
pub struct DeadNode(String);

impl DeadNode {
    pub fn kill(node: &str) -> DeadNode {
        let status = StdCommand::new("bash")
            .arg(cluster_script("kill-node.sh"))
            .arg(node)
            .stdout(Stdio::null())
            .status()
            .expect("bash runs");
        assert!(status.success(), "kill-node.sh {node}: {status}");
        DeadNode(node.to_string())
    }
}

impl Drop for DeadNode {
    fn drop(&mut self) {
        let status = StdCommand::new("bash")
            .arg(cluster_script("start-node.sh"))
            .arg(&self.0)
            .stdout(Stdio::null())
            .status();
        if !status.as_ref().is_ok_and(|s| s.success()) {
            eprintln!("start-node.sh {} failed: {status:?}", self.0);
        }
    }
}

/// The processes, on every node of the test cluster (this machine's
/// `/proc` shows them all), whose environment names job `job`.
pub fn processes_of_job(job: &str) -> Vec<u32> {
    let wanted = format!("SLURM_JOB_ID={job}");
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|environ| {
                environ
                    .split(|&b| b == 0)
                    .any(|entry| entry == wanted.as_bytes())
            })
        })
        .collect()
}
