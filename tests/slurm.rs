//! The Slurm launcher against a real cluster: tasks run as job steps, on
//! every node of the allocation, and come back, end, pause and are
//! cancelled as they do on one machine; a task whose node dies is lost,
//! not successful.
//!
//! Needs a Slurm cluster this machine can submit to: start the three-node
//! test cluster with `bash .ci/slurm/start.sh` (as root; stop it with
//! `.ci/slurm/stop.sh`) and point the clients at it with
//! `. /var/lib/dummymp-slurm/env` (it exports `SLURM_CONF` and
//! `DUMMYMP_SLURM_NODES`). Without one the tests pass with a message
//! saying so, unless `DUMMYMP_SLURM_TESTS=required` (as in CI), which
//! makes them fail. The test that kills a node needs that cluster (its
//! `.ci/slurm/kill-node.sh`), as root.

#[path = "common/cluster.rs"]
mod cluster;
mod common;

use std::collections::{BTreeSet, HashSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cluster::{
    DeadNode, cluster_available, cluster_lock, processes_of_job, steps_named, test_cluster_nodes,
};
use dummymp::{
    Command, DummyMp, Launcher, Outcome, OutputMode, Priority, SlurmOptions, TaskOptions,
};

dummymp::enable_test_support!();

crate::role_programs! {
    "allocation-sizing" => allocation_sizing(),
    "spread-over-nodes" => spread_over_nodes(),
    "node-loss" => node_loss(),
    "reused-step-workers" => reused_step_workers(),
    "generous-slurm-parent" => generous_slurm_parent(),
    "open-files-limit" => open_files_limit(),
}

/// How long Slurm may take to show or forget a step: generous, so that a
/// slow machine never fails a test, while a step that stays fails it.
const PATIENCE: Duration = Duration::from_secs(60);

/// A queue whose tasks are job steps named `name`, in `Nuclear` (the
/// tests are not about this machine's load).
fn slurm_queue(name: &str) -> DummyMp {
    let mut mp = DummyMp::new();
    mp.set_priority_mode(Priority::Nuclear);
    let options = SlurmOptions::from_env()
        .expect("srun is there")
        .job_name(name);
    mp.set_launcher(Launcher::Slurm(options));
    mp
}

/// A step name no other test (or test run) uses.
fn unique_name(test: &str) -> String {
    format!("dummymp-test-{}-{test}", std::process::id())
}

/// Waits until `condition` holds, asking Slurm every 50 ms (there is no
/// event to wait on); fails the test after [`PATIENCE`].
fn wait_for_slurm(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !condition() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Processes `mp` until `count` of its tasks run.
fn start_tasks(mp: &mut DummyMp, count: usize) {
    let deadline = Instant::now() + PATIENCE;
    while mp.running_pids().len() < count {
        assert!(Instant::now() < deadline, "the tasks did not start");
        mp.process_process().unwrap();
        mp.wait(Some(Duration::from_millis(100))).unwrap();
    }
}

/// What a task sees of Slurm: its job and step ids, and the CPUs it got.
fn step_identity((): ()) -> (String, String, String) {
    let var = |name| std::env::var(name).unwrap_or_default();
    (
        var("SLURM_JOB_ID"),
        var("SLURM_STEP_ID"),
        var("SLURM_CPUS_PER_TASK"),
    )
}

fn doubles_and_says_so(x: u32) -> u32 {
    log::warn!(target: "keep::slurm", "doubling {x} in step {:?}", std::env::var("SLURM_STEP_ID").ok());
    println!("a line from the step");
    x * 2
}

fn panics((): ()) -> u8 {
    panic!("no luck on the node");
}

fn sleeps(seconds: u64) -> u64 {
    std::thread::sleep(Duration::from_secs(seconds));
    seconds
}

#[test]
fn returns_panics_output_and_log_records_come_back_from_job_steps() {
    if !cluster_available() {
        return;
    }
    let _cluster = cluster_lock(false);
    common::install_logger();
    let mut mp = slurm_queue(&unique_name("returns"));
    mp.set_output_mode(OutputMode::Captured);
    let where_ = mp.run(step_identity, ()).unwrap();
    let doubled = mp.run(doubles_and_says_so, 21).unwrap();
    let panicked = mp.run(panics, ()).unwrap();
    mp.process_until_done().unwrap();

    let (job, step, _) = mp.value(where_).expect("returned").clone();
    assert!(!job.is_empty() && !step.is_empty(), "ran as a job step");
    assert_eq!(mp.value(doubled), Some(&42));
    let report = mp.report(doubled).unwrap();
    assert_eq!(report.stdout, b"a line from the step\n");
    let records = common::kept_records("keep::slurm");
    assert_eq!(records.len(), 1, "{records:?}");
    assert!(records[0].message.contains("doubling 21 in step Some("));
    assert_eq!(records[0].level, log::Level::Warn);
    let Some(Outcome::Panicked { message, location }) = mp.outcome(panicked) else {
        panic!("{:?}", mp.outcome(panicked));
    };
    assert_eq!(message, "no luck on the node");
    assert!(location.as_deref().is_some_and(|l| l.contains("slurm.rs")));
}

#[test]
fn commands_run_as_job_steps_and_keep_their_own_error_output() {
    if !cluster_available() {
        return;
    }
    let _cluster = cluster_lock(false);
    let mut mp = slurm_queue(&unique_name("commands"));
    mp.set_output_mode(OutputMode::Captured);
    let script = "echo step $SLURM_JOB_ID.$SLURM_STEP_ID; echo oops >&2; exit 3";
    let failing = mp
        .run_command(Command::new("sh").arg("-c").arg(script))
        .unwrap();
    let killed_itself = mp
        .run_command(Command::new("sh").arg("-c").arg("kill -9 $$"))
        .unwrap();
    mp.process_until_done().unwrap();

    let report = mp.report(failing).unwrap();
    assert_eq!(report.outcome, Outcome::Exited { code: 3 });
    let stdout = String::from_utf8_lossy(&report.stdout);
    assert!(
        stdout.starts_with("step ") && !stdout.contains("step ."),
        "{stdout}"
    );
    // srun's own "task 0: Exited with exit code 3" is Slurm's, not the task's.
    assert_eq!(String::from_utf8_lossy(&report.stderr), "oops\n");
    assert_eq!(
        mp.outcome(killed_itself),
        Some(&Outcome::Signaled { signal: 9 }),
        "srun's exit code 137 is read as the task's signal"
    );
}

#[test]
fn a_worker_of_another_build_refuses_to_run_on_the_node() {
    if !cluster_available() {
        return;
    }
    let _cluster = cluster_lock(false);
    // A copy of this test executable with another build id, as a program
    // rebuilt since would have (see outcomes.rs for the same locally).
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other-build");
    let mut bytes = std::fs::read(std::env::current_exe().unwrap()).unwrap();
    let header: [u8; 16] = [4, 0, 0, 0, 20, 0, 0, 0, 3, 0, 0, 0, b'G', b'N', b'U', 0];
    let at = bytes
        .windows(header.len())
        .position(|w| w == header)
        .expect("the executable has a GNU build id")
        + header.len();
    for b in &mut bytes[at..at + 20] {
        *b ^= 0x5a;
    }
    common::write_executable(&other, &bytes);

    let mut mp = slurm_queue(&unique_name("other-build"));
    mp.set_worker_program(Some(other)).unwrap();
    let task = mp.run(doubles_and_says_so, 1).unwrap();
    mp.process_until_done().unwrap();
    let Some(Outcome::Failed { reason }) = mp.outcome(task) else {
        panic!("{:?}", mp.outcome(task));
    };
    assert!(reason.contains("different executable"), "{reason}");
}

#[test]
fn the_allocation_decides_how_many_tasks_run_and_with_how_many_cpus() {
    if !cluster_available() {
        return;
    }
    let _cluster = cluster_lock(false);
    let output = StdCommand::new("salloc")
        .args(["--quiet", "--ntasks=2", "--cpus-per-task=1"])
        .arg(std::env::current_exe().unwrap())
        .env("DUMMYMP_TEST_ROLE", "allocation-sizing")
        .output()
        .expect("salloc runs");
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("sized from the allocation"), "{stdout}");
}

/// Runs in `salloc --ntasks=2`: checks the launcher's sizing from inside
/// the allocation, and says what is wrong with an exit code of 1.
fn allocation_sizing() -> i32 {
    let mut problems = Vec::new();
    let job = std::env::var("SLURM_JOB_ID").unwrap_or_default();
    let mut mp = slurm_queue("dummymp-test-sizing");
    let capacity = mp.scheduler().capacity();
    if capacity != Some(2) {
        problems.push(format!(
            "capacity {capacity:?}, not the allocation's 2 tasks"
        ));
    }
    let most = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&most);
    mp.set_start_callback(move |progress| {
        seen.fetch_max(progress.running, Ordering::SeqCst);
    });
    let narrow: Vec<_> = (0..4).map(|_| mp.run(step_identity, ()).unwrap()).collect();
    mp.process_until_done().unwrap();
    let most_narrow = most.swap(0, Ordering::SeqCst);
    let wide: Vec<_> = (0..2)
        .map(|_| {
            mp.run_with(TaskOptions::new().cpus(2), step_identity, ())
                .unwrap()
        })
        .collect();
    mp.process_until_done().unwrap();
    let most_wide = most.load(Ordering::SeqCst);

    let mut steps = HashSet::new();
    for (handle, cpus) in narrow
        .iter()
        .map(|h| (h, "1"))
        .chain(wide.iter().map(|h| (h, "2")))
    {
        match mp.value(*handle) {
            Some((job_of_task, step, cpus_of_task)) => {
                if *job_of_task != job {
                    problems.push(format!("a task ran in job {job_of_task}, not {job}"));
                }
                if cpus_of_task != cpus {
                    problems.push(format!("a task got {cpus_of_task} CPUs, not {cpus}"));
                }
                steps.insert(step.clone());
            }
            None => problems.push(format!("a task ended {:?}", mp.outcome(*handle))),
        }
    }
    if steps.len() != 6 {
        problems.push(format!("6 tasks ran as {} distinct steps", steps.len()));
    }
    if !(1..=2).contains(&most_narrow) {
        problems.push(format!("{most_narrow} one-CPU tasks ran at once in 2 CPUs"));
    }
    if most_wide != 1 {
        problems.push(format!("{most_wide} two-CPU tasks ran at once in 2 CPUs"));
    }
    if problems.is_empty() {
        println!("sized from the allocation: {capacity:?} tasks at once");
        0
    } else {
        eprintln!("{}", problems.join("\n"));
        1
    }
}

#[test]
fn killall_cancels_the_running_steps() {
    if !cluster_available() {
        return;
    }
    let _cluster = cluster_lock(false);
    let name = unique_name("killall");
    let mut mp = slurm_queue(&name);
    let function = mp.run(sleeps, 600).unwrap();
    let command = mp.run_command(Command::new("sleep").arg("600")).unwrap();
    start_tasks(&mut mp, 2);
    // On a one-CPU cluster the second waits for the first: a waiting srun
    // must go too.
    wait_for_slurm("a step to run", || !steps_named(&name).is_empty());
    mp.killall();
    assert_eq!(mp.outcome(function), Some(&Outcome::Killed));
    assert_eq!(mp.outcome(command), Some(&Outcome::Killed));
    wait_for_slurm("the steps to be gone", || steps_named(&name).is_empty());
}

#[test]
fn a_timeout_ends_the_step() {
    if !cluster_available() {
        return;
    }
    let _cluster = cluster_lock(false);
    let name = unique_name("timeout");
    let mut mp = slurm_queue(&name);
    let options = TaskOptions::new().timeout(Duration::from_millis(300));
    let task = mp.run_with(options, sleeps, 600).unwrap();
    mp.process_until_done().unwrap();
    assert_eq!(mp.outcome(task), Some(&Outcome::TimedOut));
    wait_for_slurm("the step to be gone", || steps_named(&name).is_empty());
}

#[test]
fn a_step_cancelled_with_scancel_says_so() {
    if !cluster_available() {
        return;
    }
    let _cluster = cluster_lock(false);
    let name = unique_name("scancel");
    let mut mp = slurm_queue(&name);
    let task = mp.run(sleeps, 600).unwrap();
    start_tasks(&mut mp, 1);
    let mut step = Vec::new();
    wait_for_slurm("the step to run", || {
        step = steps_named(&name);
        !step.is_empty()
    });
    let status = StdCommand::new("scancel").args(&step).status().unwrap();
    assert!(status.success());
    mp.process_until_done().unwrap();
    let Some(Outcome::Failed { reason }) = mp.outcome(task) else {
        panic!("{:?}", mp.outcome(task));
    };
    assert!(reason.starts_with("Slurm ended the job step: "), "{reason}");
    assert!(reason.contains("CANCELLED"), "{reason}");
    assert!(reason.contains(&step[0]), "{reason} names the step");
}

#[test]
fn a_step_whose_srun_is_killed_is_cancelled_all_the_same() {
    use dummymp::Scheduler;
    use dummymp::engine::{Engine, Event, TaskSpec};
    if !cluster_available() {
        return;
    }
    let _cluster = cluster_lock(false);
    let name = unique_name("sigkill");
    let mut engine = Engine::new(Scheduler::new(Priority::Nuclear, 0));
    let options = SlurmOptions::from_env().unwrap().job_name(&name);
    engine.set_launcher(Launcher::Slurm(options));
    engine.submit(TaskSpec::command(Command::new("sleep").arg("600")));
    let mut outcome = None;
    let mut sink = |event: Event<'_>| {
        if let Event::Ended(report) = event {
            outcome = Some(report.outcome);
        }
    };
    engine.process(&mut sink).unwrap();
    assert_eq!(engine.running(), 1);
    wait_for_slurm("the step to run", || !steps_named(&name).is_empty());
    // SIGKILL to srun, no SIGTERM first: srun cannot cancel the step
    // itself, its helper process must, and must be left to do it.
    engine.kill_all_now();
    while !engine.is_idle() {
        engine.wait(None, &[]).unwrap();
        engine.process(&mut sink).unwrap();
    }
    assert_eq!(outcome, Some(Outcome::Killed));
    wait_for_slurm("the step to be gone", || steps_named(&name).is_empty());
}

// ---- Across the nodes ------------------------------------------------------

/// The name of the node a task runs on.
fn this_node() -> String {
    std::env::var("SLURMD_NODENAME").unwrap_or_else(|_| "?".into())
}

/// Waits, polling every 20 ms (nothing signals across nodes), until `path`
/// exists; false if it does not within `limit`.
fn wait_for_file(path: &Path, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while !path.exists() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// The files in `dir` whose names start with `prefix`.
fn files_starting(dir: &Path, prefix: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| name.starts_with(prefix))
                .collect()
        })
        .unwrap_or_default()
}

/// A task that says it has arrived (a file `arrived-<i>` holding its
/// node's name), then keeps its CPU busy until the file `go` appears (at
/// most two minutes), and returns its node and `i` doubled.
fn meets_the_others((dir, i): (String, u32)) -> (String, u32) {
    let dir = Path::new(&dir);
    std::fs::write(dir.join(format!("arrived-{i}")), this_node()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !dir.join("go").exists() && Instant::now() < deadline {
        std::hint::black_box(0u64..10_000).for_each(drop);
    }
    println!("task {i} on {}", this_node());
    (this_node(), i * 2)
}

/// The command name the kernel gives this executable (15 bytes at most).
fn our_command_name() -> String {
    let exe = std::env::current_exe().unwrap();
    let name = exe.file_name().unwrap().to_string_lossy().into_owned();
    name.chars().take(15).collect()
}

// Run by `sbatch` on three nodes of two CPUs: six tasks that wait for one
// another run at once, so on every node; each one's value, output and exit
// code come back. While they keep their CPUs busy, the two on this node
// (the batch script's) are ours, not other users' load.
#[test]
fn tasks_spread_over_every_node_and_come_back_from_each() {
    if !cluster_available() {
        return;
    }
    let _cluster = cluster_lock(false);
    // Its tasks keep CPUs busy: not while other tests measure load.
    let _cpus = common::cpu_heavy_section();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("role.out");
    let status = StdCommand::new("sbatch")
        .args(["--wait", "--quiet", "--nodes=3", "--ntasks=6", "--time=10"])
        .arg(format!("--output={}", out.display()))
        .arg(format!(
            "--wrap=exec {}",
            std::env::current_exe().unwrap().display()
        ))
        .env("DUMMYMP_TEST_ROLE", "spread-over-nodes")
        .env("DIR", dir.path())
        .status()
        .expect("sbatch runs");
    let said = std::fs::read_to_string(&out).unwrap_or_default();
    assert!(status.success(), "the batch job failed ({status}):\n{said}");
    assert!(said.contains("spread over 3 nodes"), "{said}");
}

/// Runs in `sbatch --nodes=3 --ntasks=6`: see the test above. Says what is
/// wrong, with an exit code of 1.
fn spread_over_nodes() -> i32 {
    let dir = PathBuf::from(std::env::var("DIR").unwrap());
    let dir_name = dir.to_string_lossy().into_owned();
    let mut problems = Vec::new();
    let mut mp = slurm_queue("dummymp-test-spread");
    mp.set_output_mode(OutputMode::Captured);
    let calls: Vec<_> = (0..6)
        .map(|i| mp.run(meets_the_others, (dir_name.clone(), i)).unwrap())
        .collect();
    let deadline = Instant::now() + PATIENCE;
    while files_starting(&dir, "arrived-").len() < 6 && Instant::now() < deadline {
        mp.process_process().unwrap();
        mp.wait(Some(Duration::from_millis(50))).unwrap();
    }
    // Two of them spin on this node, under a slurmstepd, not under us.
    match dummymp::measure_foreign_load_over(
        Priority::Generous,
        mp.scheduler().own_processes(),
        Duration::from_secs(1),
    ) {
        Ok(measured) => {
            let ours = our_command_name();
            if measured.counted.iter().any(|p| p.name == ours) {
                problems.push(format!("our own steps counted as foreign: {measured}"));
            }
        }
        Err(e) => problems.push(format!("cannot measure: {e}")),
    }
    std::fs::write(dir.join("go"), "").unwrap();
    mp.process_until_done().unwrap();
    let mut nodes = BTreeSet::new();
    for (i, call) in calls.iter().enumerate() {
        match mp.value(*call) {
            Some((node, doubled)) if *doubled == 2 * i as u32 => {
                let printed = format!("task {i} on {node}\n");
                if mp.report(*call).unwrap().stdout != printed.as_bytes() {
                    problems.push(format!("task {i} printed {:?}", mp.report(*call)));
                }
                nodes.insert(node.clone());
            }
            other => problems.push(format!("task {i}: {other:?}, {:?}", mp.outcome(*call))),
        }
    }
    if nodes.len() != 3 {
        problems.push(format!("six tasks at once ran on {nodes:?}"));
    }
    // Commands: each waits for the others, prints its node, exits with its
    // own code.
    let script = format!(
        "touch {dir_name}/c$0; n=0; \
         while [ $(ls {dir_name} | grep -c '^c') -lt 6 ] && [ $n -lt 1200 ]; do \
         n=$((n+1)); sleep 0.1; done; echo $SLURMD_NODENAME; exit $0"
    );
    let commands: Vec<_> = (1..=6)
        .map(|code| {
            mp.run_command(Command::new("sh").args(["-c", &script, &code.to_string()]))
                .unwrap()
        })
        .collect();
    mp.process_until_done().unwrap();
    let mut command_nodes = BTreeSet::new();
    for (code, command) in (1..=6).zip(&commands) {
        let report = mp.report(*command).unwrap();
        if report.outcome != (Outcome::Exited { code })
            || report.exit != Some(dummymp::ProcessExit::Code(code))
        {
            problems.push(format!(
                "command {code}: {:?} {:?}",
                report.outcome, report.exit
            ));
        }
        command_nodes.insert(String::from_utf8_lossy(&report.stdout).trim().to_string());
    }
    if command_nodes != nodes {
        problems.push(format!("commands ran on {command_nodes:?}, not {nodes:?}"));
    }
    if problems.is_empty() {
        println!("spread over {} nodes: {nodes:?}", nodes.len());
        0
    } else {
        eprintln!("{}", problems.join("\n"));
        1
    }
}

/// A task that says where it arrived (a file `<tag>-arrived-<i>`, or
/// `<tag>-retried-<i>` when that exists, holding its node's name), then
/// waits until the file `<tag>-release` appears (at most five minutes),
/// and returns its node.
fn stays_until_released((dir, tag, i): (String, String, u32)) -> String {
    let dir = Path::new(&dir);
    let arrived = dir.join(format!("{tag}-arrived-{i}"));
    let here = if arrived.exists() {
        dir.join(format!("{tag}-retried-{i}"))
    } else {
        arrived
    };
    std::fs::write(here, this_node()).unwrap();
    wait_for_file(
        &dir.join(format!("{tag}-release")),
        Duration::from_secs(300),
    );
    this_node()
}

/// Runs in an allocation of three nodes (one task each): the tasks of
/// `stays_until_released` tagged `TAG`, `RETRIED` of them with one retry,
/// then two more. Prints each task's outcome, attempts and value.
fn node_loss() -> i32 {
    let dir = std::env::var("DIR").unwrap();
    let tag = std::env::var("TAG").unwrap();
    let retries: u32 = std::env::var("RETRIES").unwrap().parse().unwrap();
    println!("job {}", std::env::var("SLURM_JOB_ID").unwrap());
    let mut mp = slurm_queue(&format!("dummymp-test-loss-{tag}"));
    let tasks: Vec<_> = (0..5)
        .map(|i| {
            let options = TaskOptions::new().retries(retries);
            mp.run_with(options, stays_until_released, (dir.clone(), tag.clone(), i))
                .unwrap()
        })
        .collect();
    mp.process_until_done().unwrap();
    for (i, task) in tasks.iter().enumerate() {
        let report = mp.report(*task).unwrap();
        let node = mp.value(*task).cloned().unwrap_or_else(|| "-".into());
        println!(
            "task {i}: {} | attempts {} | node {node}",
            report.outcome, report.attempts
        );
    }
    0
}

/// A role in an allocation, its standard output read line by line.
struct Role {
    child: std::process::Child,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

impl Role {
    fn start(salloc: &[&str], role: &str, env: &[(&str, &str)]) -> Role {
        let mut child = StdCommand::new("salloc")
            .arg("--quiet")
            .args(salloc)
            .arg(std::env::current_exe().unwrap())
            .env("DUMMYMP_TEST_ROLE", role)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .spawn()
            .expect("salloc runs");
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Role { child, lines }
    }

    /// Everything else it prints, once it has exited with success.
    fn finish(mut self) -> Vec<String> {
        let lines: Vec<String> = self.lines.by_ref().map(|l| l.unwrap()).collect();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "{status}: {lines:?}");
        lines
    }
}

impl Drop for Role {
    /// A test that failed leaves no allocation behind: `salloc` ends it
    /// when it gets `SIGTERM`.
    fn drop(&mut self) {
        if self.child.try_wait().is_ok_and(|status| status.is_none()) {
            common::send_signal(self.child.id(), rustix::process::Signal::TERM);
            let _ = self.child.wait();
        }
    }
}

// A node dies while two allocations use it: one made with --no-kill, whose
// tasks have a retry, goes on with the nodes left (the lost task runs again
// on one of them, and so do the tasks queued); the other is revoked by
// Slurm: its task on the dead node is lost (not successful), those on the
// other nodes are ended, those queued cannot start. Nothing is left behind.
#[test]
fn a_task_whose_node_dies_is_lost_and_runs_again_elsewhere() {
    if !cluster_available() {
        return;
    }
    let Some(nodes) = test_cluster_nodes() else {
        return;
    };
    let _cluster = cluster_lock(true);
    let dir = tempfile::tempdir().unwrap();
    let dir_name = dir.path().to_string_lossy().into_owned();
    let allocation = ["--nodes=3", "--ntasks=3", "--time=10"];
    let mut kept = Role::start(
        &[&allocation[..], &["--no-kill"]].concat(),
        "node-loss",
        &[("DIR", &dir_name), ("TAG", "kept"), ("RETRIES", "1")],
    );
    let mut revoked = Role::start(
        &allocation,
        "node-loss",
        &[("DIR", &dir_name), ("TAG", "revoked"), ("RETRIES", "0")],
    );
    let job_of = |role: &mut Role| {
        let line = role.lines.next().unwrap().unwrap();
        line.strip_prefix("job ").unwrap().to_string()
    };
    let jobs = [job_of(&mut kept), job_of(&mut revoked)];
    // One task of each on every node.
    wait_for_slurm("three tasks of each to run", || {
        files_starting(dir.path(), "kept-arrived-").len() == 3
            && files_starting(dir.path(), "revoked-arrived-").len() == 3
    });
    let victim = &nodes[1];
    let on = |tag: &str| -> Vec<String> {
        (0..3)
            .map(|i| {
                std::fs::read_to_string(dir.path().join(format!("{tag}-arrived-{i}"))).unwrap()
            })
            .collect()
    };
    let (kept_on, revoked_on) = (on("kept"), on("revoked"));
    assert!(
        kept_on.contains(victim) && revoked_on.contains(victim),
        "{kept_on:?} {revoked_on:?}"
    );
    let dead = DeadNode::kill(victim);
    let killed_at = Instant::now();
    std::fs::write(dir.path().join("kept-release"), "").unwrap();

    let kept_said = kept.finish();
    let revoked_said = revoked.finish();
    eprintln!(
        "the lost node's tasks were reported {:.1} s after it died",
        killed_at.elapsed().as_secs_f64()
    );
    drop(dead);

    // --no-kill: every task returned, none from the dead node; the one that
    // was there ran twice.
    assert_eq!(kept_said.len(), 5, "{kept_said:?}");
    for (i, line) in kept_said.iter().enumerate() {
        let was_there = kept_on.get(i) == Some(victim);
        let expected = format!(
            "task {i}: returned | attempts {}",
            if was_there { 2 } else { 1 }
        );
        assert!(
            line.starts_with(&expected),
            "{line} (expected {expected}); {kept_said:?}"
        );
        assert!(!line.ends_with(&format!("node {victim}")), "{line}");
    }
    // Revoked: lost, ended by Slurm, or never started; no success.
    assert_eq!(revoked_said.len(), 5, "{revoked_said:?}");
    for (i, line) in revoked_said.iter().enumerate() {
        let expected = match revoked_on.get(i) {
            Some(node) if node == victim => format!(
                "task {i}: {}",
                Outcome::NodeLost {
                    node: victim.clone()
                }
            ),
            Some(_) => format!("task {i}: failed: Slurm ended the job step: STEP"),
            None => format!("task {i}: could not be started: srun could not run the job step"),
        };
        assert!(
            line.starts_with(&expected),
            "{line} (expected {expected}); {revoked_said:?}"
        );
    }
    for job in &jobs {
        wait_for_slurm("the jobs to be gone", || {
            let listed = StdCommand::new("squeue")
                .args(["--noheader", "--format=%i"])
                .output()
                .unwrap();
            !String::from_utf8_lossy(&listed.stdout)
                .lines()
                .any(|line| line.trim() == job)
        });
        wait_for_slurm("the jobs' processes to be gone", || {
            processes_of_job(job).is_empty()
        });
    }
}

// ---- Reused workers as long-lived steps -------------------------------------

/// Where a task ran: its node and its job step.
fn where_and_which_step((): ()) -> (String, String) {
    (
        this_node(),
        std::env::var("SLURM_STEP_ID").unwrap_or_default(),
    )
}

// Reused workers are steps that live as long as the worker: sixty tiny
// tasks on six workers spread over the three nodes make six steps, not
// sixty; a task of another kind still gets a CPU from the idle ones; and
// no step is left once the queue is gone.
#[test]
fn reused_workers_are_long_lived_steps_spread_over_the_nodes() {
    if !cluster_available() {
        return;
    }
    let _cluster = cluster_lock(false);
    let output = StdCommand::new("salloc")
        .args(["--quiet", "--nodes=3", "--ntasks=6", "--time=10"])
        .arg(std::env::current_exe().unwrap())
        .env("DUMMYMP_TEST_ROLE", "reused-step-workers")
        .output()
        .expect("salloc runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("60 tasks in 6 steps on 3 nodes"),
        "{stdout}"
    );
}

/// Runs in `salloc --nodes=3 --ntasks=6`: see the test above.
fn reused_step_workers() -> i32 {
    let mut problems = Vec::new();
    let name = format!("dummymp-test-reuse-{}", std::process::id());
    let mut mp = slurm_queue(&name);
    mp.set_reuse_workers(true);
    let tasks: Vec<_> = (0..60)
        .map(|_| mp.run(where_and_which_step, ()).unwrap())
        .collect();
    mp.process_until_done().unwrap();
    let mut steps = BTreeSet::new();
    let mut nodes = BTreeSet::new();
    for task in &tasks {
        match mp.value(*task) {
            Some((node, step)) => {
                nodes.insert(node.clone());
                steps.insert(step.clone());
            }
            None => problems.push(format!("a task ended {:?}", mp.outcome(*task))),
        }
    }
    // Six idle workers hold the six CPUs: one makes room for this.
    let other_kind = mp
        .run_command_with(
            TaskOptions::new().timeout(Duration::from_secs(60)),
            Command::new("true"),
        )
        .unwrap();
    mp.process_until_done().unwrap();
    if mp.outcome(other_kind) != Some(&Outcome::Exited { code: 0 }) {
        problems.push(format!(
            "a command after them: {:?}",
            mp.outcome(other_kind)
        ));
    }
    drop(mp);
    // Slurm forgets a step a moment after its srun has exited.
    let deadline = Instant::now() + PATIENCE;
    while !steps_named(&name).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let left = steps_named(&name);
    if !left.is_empty() {
        problems.push(format!("steps left: {left:?}"));
    }
    if problems.is_empty() {
        println!(
            "{} tasks in {} steps on {} nodes",
            tasks.len(),
            steps.len(),
            nodes.len()
        );
        0
    } else {
        eprintln!("{}", problems.join("\n"));
        1
    }
}

// ---- Pausing, ending -------------------------------------------------------

/// Role (run on CPU 0): a queue with the Slurm launcher, running
/// `PROGRAM 600` as a job step, started in `Nuclear` (whatever the load)
/// and then `Generous`; prints the task's outcome at the end.
fn generous_slurm_parent() -> i32 {
    let mut mp = slurm_queue("dummymp-test-generous");
    let program = std::env::var("PROGRAM").unwrap();
    let task = mp.run_command(Command::new(program).arg("600")).unwrap();
    start_tasks(&mut mp, 1);
    mp.set_priority_mode(Priority::Generous);
    mp.process_until_done().unwrap();
    println!("outcome {}", mp.outcome(task).unwrap());
    0
}

/// A role and the task it runs, killed when dropped (when a test failed).
struct Killed(std::process::Child, Option<u32>);

impl Drop for Killed {
    fn drop(&mut self) {
        if let Some(task) = self.1
            && common::is_alive(task)
        {
            common::send_signal(task, rustix::process::Signal::KILL);
        }
        if self.0.try_wait().is_ok_and(|status| status.is_none()) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// The pid (on this machine) of the process whose command name is `name`.
fn process_named(name: &str) -> Option<u32> {
    std::fs::read_dir("/proc")
        .ok()?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .find(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == name)
        })
}

/// The state letter of `pid`, from `/proc`.
fn state_of(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 2..].chars().next()
}

// Generous pauses a task for foreign load that comes after it started:
// a Slurm task is stopped where it runs, on its node, and continued once
// the load has gone.
#[test]
fn a_paused_slurm_task_stops_on_its_node() {
    if !cluster_available() {
        return;
    }
    let _cluster = cluster_lock(false);
    let dir = tempfile::tempdir().unwrap();
    // A name of its own for the task's process: a link to sleep.
    let name = format!("dmp-pause-{}", std::process::id());
    let program = dir.path().join(&name);
    std::os::unix::fs::symlink(find_program("sleep"), &program).unwrap();
    let mut load = common::ForeignLoad::start(0, None);
    let role = StdCommand::new("taskset")
        .args(["-c", "0"])
        .arg(std::env::current_exe().unwrap())
        .env("DUMMYMP_TEST_ROLE", "generous-slurm-parent")
        .env("PROGRAM", &program)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut role = Killed(role, None);
    let mut task = None;
    wait_for_slurm("the task to run", || {
        task = process_named(&name);
        task.is_some()
    });
    let task = task.unwrap();
    role.1 = Some(task);
    let ns = |pid: &str| std::fs::read_link(format!("/proc/{pid}/ns/pid")).unwrap();
    assert_ne!(ns(&task.to_string()), ns("self"), "it runs on a node");

    load.add(2, Some("0"));
    wait_for_slurm("the task to be stopped", || state_of(task) == Some('T'));
    load.stop();
    wait_for_slurm("the task to continue", || {
        state_of(task).is_some_and(|state| state != 'T')
    });
    common::send_signal(task, rustix::process::Signal::KILL);
    let mut said = String::new();
    std::io::Read::read_to_string(&mut role.0.stdout.take().unwrap(), &mut said).unwrap();
    assert!(role.0.wait().unwrap().success());
    assert_eq!(
        said.trim(),
        format!("outcome {}", Outcome::Signaled { signal: 9 })
    );
}

/// The path of `program` on `PATH`.
fn find_program(program: &str) -> PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
        .unwrap_or_else(|| panic!("{program} is on PATH"))
}

// Ending a task (a kill, a timeout) asks it first, as on one machine: the
// step's processes get SIGTERM on their node and the grace period to act
// on it.
#[test]
fn an_ended_step_gets_sigterm_and_its_grace_period() {
    if !cluster_available() {
        return;
    }
    let _cluster = cluster_lock(false);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let mut mp = slurm_queue(&unique_name("sigterm"));
    mp.set_kill_grace(Duration::from_secs(60));
    let script = format!(
        "trap 'echo TERM > {d}/got; exit 0' TERM; touch {d}/ready; while :; do sleep 0.1; done"
    );
    let task = mp
        .run_command(Command::new("sh").args(["-c", &script]))
        .unwrap();
    start_tasks(&mut mp, 1);
    wait_for_slurm("the task to be ready", || dir.path().join("ready").exists());
    assert!(mp.kill(task));
    mp.process_until_done().unwrap();
    assert_eq!(mp.outcome(task), Some(&Outcome::Killed));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("got")).unwrap_or_default(),
        "TERM\n",
        "the task was asked to end"
    );
}

// ---- Many steps at once ------------------------------------------------------

// An allocation of 6,400 CPUs needs some 51,000 descriptors, far above the
// common soft limit of 1,024: choosing the launcher raises it (as far as
// the hard limit allows). No cluster needed: a stand-in srun on PATH and
// the variables of such an allocation.
#[test]
fn a_large_allocation_raises_the_open_files_limit() {
    let dir = tempfile::tempdir().unwrap();
    common::write_executable(&dir.path().join("srun"), b"#!/bin/sh\nexit 1\n");
    let path = std::env::join_paths(
        std::iter::once(dir.path().to_path_buf())
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    let output = common::role_command("open-files-limit")
        .env("PATH", path)
        .env("SLURM_JOB_ID", "77")
        .env("SLURM_JOB_NUM_NODES", "100")
        .env("SLURM_JOB_CPUS_PER_NODE", "64(x100)")
        .env_remove("SLURM_NTASKS")
        .env_remove("SLURM_CPUS_PER_TASK")
        .env_remove("SLURM_STEP_ID")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(said.starts_with("raised"), "{said}");
}

/// Runs with the variables of an allocation of 6,400 CPUs: lowers its soft
/// limit on open files to 1,024, chooses the Slurm launcher, and says
/// whether the limit was raised to what 6,400 tasks need (or the hard
/// limit).
fn open_files_limit() -> i32 {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    let hard = limit.maximum.unwrap_or(u64::MAX);
    limit.current = Some(1024.min(hard));
    setrlimit(Resource::Nofile, limit).unwrap();
    let mut mp = DummyMp::new();
    mp.set_launcher(Launcher::slurm().unwrap());
    let soft = getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX);
    let wanted = 6400 * 8 + 256;
    if soft == wanted.min(hard) && soft > 1024 {
        println!("raised to {soft}");
        0
    } else {
        println!("still {soft} (hard limit {hard})");
        1
    }
}

/// The niceness of the process it runs in.
fn own_niceness((): ()) -> i32 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    stat.rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .nth(16)
        .unwrap()
        .parse()
        .unwrap()
}

// `set_nice` reaches the task on its node (srun's own niceness would not:
// Slurm starts a step at its daemon's unless told to propagate it).
#[test]
fn a_step_runs_at_the_niceness_asked_for() {
    if !cluster_available() {
        return;
    }
    let _cluster = cluster_lock(false);
    let mut mp = slurm_queue(&unique_name("nice"));
    mp.set_output_mode(OutputMode::Captured);
    let base = own_niceness(());
    mp.set_nice(Some(5));
    let function = mp.run(own_niceness, ()).unwrap();
    let command = mp
        .run_command(Command::new("sh").args(["-c", "cut -d' ' -f19 /proc/$$/stat"]))
        .unwrap();
    mp.process_until_done().unwrap();
    let wanted = (base + 5).min(19);
    assert_eq!(
        mp.value(function),
        Some(&wanted),
        "{:?}",
        mp.outcome(function)
    );
    let printed = String::from_utf8_lossy(&mp.report(command).unwrap().stdout).into_owned();
    assert_eq!(printed.trim(), wanted.to_string());
}
