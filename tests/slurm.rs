//! The Slurm launcher against a real cluster: tasks run as job steps, and
//! come back, end and are cancelled as they do on one machine.
//!
//! Needs a Slurm cluster this machine can submit to: start the three-node
//! test cluster with `bash .ci/slurm/start.sh` (as root; stop it with
//! `.ci/slurm/stop.sh`) and point the clients at it with
//! `. /var/lib/dummymp-slurm/env` (it exports `SLURM_CONF`). Without one
//! the tests pass with a message saying so, unless
//! `DUMMYMP_SLURM_TESTS=required` (as in CI), which makes them fail.

mod common;

use std::collections::HashSet;
use std::process::Command as StdCommand;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use dummymp::{
    Command, DummyMp, Launcher, Outcome, OutputMode, Priority, SlurmOptions, TaskOptions,
};

dummymp::enable_test_support!();

crate::role_programs! {
    "allocation-sizing" => allocation_sizing(),
}

/// How long Slurm may take to show or forget a step: generous, so that a
/// slow machine never fails a test, while a step that stays fails it.
const PATIENCE: Duration = Duration::from_secs(60);

/// Whether a Slurm cluster answers. Without one: `false` (the test then
/// returns at once) after saying how to run these tests, or a failure when
/// `DUMMYMP_SLURM_TESTS=required`.
fn cluster_available() -> bool {
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

/// The ids (`job.step`) of the steps named `name` that Slurm knows of
/// (`squeue --steps` ignores `--name`: the names are compared here).
fn steps_named(name: &str) -> Vec<String> {
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
