//! Every task ends with an outcome the caller can inspect, whatever it did.

mod common;

use std::path::PathBuf;

use dummymp::{DummyMp, Outcome, Priority};

dummymp::enable_test_support!();

fn nuclear() -> DummyMp {
    let mut mp = DummyMp::new();
    mp.set_priority_mode(Priority::Nuclear);
    mp
}

fn panics(message: String) -> u8 {
    panic!("{message}");
}

fn aborts((): ()) -> u8 {
    std::process::abort();
}

fn exits(code: i32) -> u8 {
    std::process::exit(code);
}

fn kills_itself((): ()) -> u8 {
    let me = rustix::process::getpid();
    rustix::process::kill_process(me, rustix::process::Signal::KILL).unwrap();
    unreachable!("SIGKILL cannot be caught");
}

fn fine(x: u8) -> u8 {
    x
}

#[test]
fn a_panic_is_reported_with_message_and_location() {
    let mut mp = nuclear();
    let task = mp.run(panics, "the sky is falling".to_string()).unwrap();
    let ok = mp.run(fine, 1).unwrap();
    mp.process_until_done().unwrap();
    let Some(Outcome::Panicked { message, location }) = mp.outcome(task) else {
        panic!("{:?}", mp.outcome(task));
    };
    assert_eq!(message, "the sky is falling");
    let location = location.as_deref().unwrap();
    assert!(location.starts_with("tests/outcomes.rs:"), "{location}");
    assert_eq!(mp.value(ok), Some(&1), "the other task is untouched");
    assert!(mp.value(task).is_none());
}

#[test]
fn an_abort_is_reported_as_sigabrt() {
    let mut mp = nuclear();
    let task = mp.run(aborts, ()).unwrap();
    mp.process_until_done().unwrap();
    assert_eq!(mp.outcome(task), Some(&Outcome::Signaled { signal: 6 }));
    assert!(mp.outcome(task).unwrap().to_string().contains("SIGABRT"));
}

#[test]
fn an_exit_code_is_reported() {
    let mut mp = nuclear();
    let three = mp.run(exits, 3).unwrap();
    let zero = mp.run(exits, 0).unwrap();
    mp.process_until_done().unwrap();
    assert_eq!(mp.outcome(three), Some(&Outcome::ExitedEarly { code: 3 }));
    assert_eq!(
        mp.outcome(zero),
        Some(&Outcome::ExitedEarly { code: 0 }),
        "exiting without returning is not a return"
    );
}

#[test]
fn exiting_with_code_zero_is_not_a_success() {
    let mut mp = nuclear();
    let options = dummymp::TaskOptions::new().retries(2);
    let task = mp.run_with(options.clone(), exits, 0).unwrap();
    mp.process_until_done().unwrap();
    let report = mp.report(task).unwrap();
    assert_eq!(report.outcome, Outcome::ExitedEarly { code: 0 });
    assert!(!report.outcome.is_success());
    assert_eq!(
        report.outcome.to_string(),
        "exited with code 0 before the function returned"
    );
    assert_eq!(report.attempts, 3, "a task that exits early is retried");
    assert!(mp.value(task).is_none());

    // map agrees: the same task is one of its failures.
    let Err(dummymp::Error::TasksFailed { failed, of }) = mp.map_with(options, exits, [0]) else {
        panic!("map took an early exit for a value");
    };
    assert_eq!((failed.len(), of), (1, 1));
    assert_eq!(failed[0].outcome, Outcome::ExitedEarly { code: 0 });
}

#[test]
fn a_sigkill_is_reported() {
    let mut mp = nuclear();
    let task = mp.run(kills_itself, ()).unwrap();
    mp.process_until_done().unwrap();
    assert_eq!(mp.outcome(task), Some(&Outcome::Signaled { signal: 9 }));
    assert_eq!(mp.report(task).unwrap().name, "fn(()) -> u8");
}

#[test]
fn a_worker_program_that_is_not_executable_is_refused() {
    let mut mp = nuclear();
    let error = mp
        .set_worker_program(Some(PathBuf::from("/nonexistent/dummymp-worker")))
        .unwrap_err();
    assert!(
        matches!(error, dummymp::Error::InvalidSetting { .. }),
        "{error}"
    );
    assert!(
        error.to_string().contains("/nonexistent/dummymp-worker"),
        "{error}"
    );
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not a program").unwrap();
    let error = mp.set_worker_program(Some(text)).unwrap_err();
    assert!(error.to_string().contains("not an executable"), "{error}");
    // The setting is unchanged: tasks still run.
    let task = mp.run(fine, 4).unwrap();
    mp.process_until_done().unwrap();
    assert_eq!(mp.value(task), Some(&4));
}

#[test]
fn a_worker_that_cannot_start_ends_its_task_with_the_os_error() {
    let dir = tempfile::tempdir().unwrap();
    let program = dir.path().join("worker");
    common::write_executable(
        &program,
        &std::fs::read(std::env::current_exe().unwrap()).unwrap(),
    );
    let mut mp = nuclear();
    mp.set_worker_program(Some(program.clone())).unwrap();
    // The program goes away after it was chosen.
    std::fs::remove_file(&program).unwrap();
    let task = mp.run(fine, 1).unwrap();
    let other = mp.run(fine, 2).unwrap();
    mp.process_until_done().unwrap();
    let Some(Outcome::FailedToStart { error, errno }) = mp.outcome(task) else {
        panic!("{:?}", mp.outcome(task));
    };
    assert_eq!(*errno, Some(2), "ENOENT: {error}");
    assert!(matches!(
        mp.outcome(other),
        Some(Outcome::FailedToStart { .. })
    ));
    assert_eq!(mp.progress().completed, 2);
    // Back to our own executable: works again.
    mp.set_worker_program(None).unwrap();
    let again = mp.run(fine, 3).unwrap();
    mp.process_until_done().unwrap();
    assert_eq!(mp.value(again), Some(&3));
}

/// Leaves this process only `spare` descriptor numbers: fills the others
/// below a limit of 64 with `/dev/null` (close-on-exec, so workers do not
/// inherit them and have room enough) and sets the limit. Keep the
/// returned files open.
fn starve_descriptors(spare: usize) -> Vec<std::fs::File> {
    const LIMIT: u64 = 64;
    let free = || {
        (0..LIMIT)
            .filter(|n| !std::path::Path::new(&format!("/proc/self/fd/{n}")).exists())
            .count()
    };
    let mut padding = Vec::new();
    while free() > spare {
        padding.push(std::fs::File::open("/dev/null").unwrap());
    }
    let mut rlimit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    rlimit.current = Some(LIMIT);
    rustix::process::setrlimit(rustix::process::Resource::Nofile, rlimit).unwrap();
    padding
}

/// Role: descriptors for one worker at a time only. Prints one line per
/// task: its outcome.
fn fd_starved_parent(spare: usize) -> i32 {
    let mut mp = nuclear();
    mp.set_output_mode(dummymp::OutputMode::Captured);
    // Read the executable identity while descriptors are plentiful.
    let warm_up = mp.run(fine, 0).unwrap();
    mp.process_until_done().unwrap();
    assert_eq!(mp.value(warm_up), Some(&0));
    let tasks: Vec<_> = (1..=3).map(|x| mp.run(fine, x).unwrap()).collect();
    let _padding = starve_descriptors(spare);
    mp.process_until_done().unwrap();
    for task in tasks {
        println!("{}", mp.outcome(task).unwrap());
    }
    0
}

crate::role_programs! {
    "starved-one-worker" => fd_starved_parent(4),
    "starved-no-worker" => fd_starved_parent(1),
}

fn role_lines(role: &str) -> Vec<String> {
    let output = common::role_command(role)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn a_refused_process_is_retried_when_another_task_ends() {
    // Room for one worker's pipes: the second start fails with EMFILE while
    // the first task runs, and succeeds once it has ended.
    assert_eq!(
        role_lines("starved-one-worker"),
        ["returned", "returned", "returned"]
    );
}

#[test]
fn a_refused_process_with_nothing_running_ends_its_task() {
    let lines = role_lines("starved-no-worker");
    assert_eq!(lines.len(), 3);
    for line in lines {
        assert!(
            line.starts_with("could not be started:") && line.contains("Too many open files"),
            "{line}"
        );
    }
}

#[test]
fn a_worker_from_another_executable_refuses_to_run() {
    // A copy of this test executable with another build id: the identity a
    // rebuilt program would have.
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other-build");
    let mut bytes = std::fs::read(std::env::current_exe().unwrap()).unwrap();
    // An ELF note: name size 4, descriptor size 20, type 3 (NT_GNU_BUILD_ID),
    // name "GNU\0", then the 20-byte build id.
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

    let mut mp = nuclear();
    mp.set_worker_program(Some(other)).unwrap();
    let task = mp.run(fine, 1).unwrap();
    mp.process_until_done().unwrap();
    let Some(Outcome::Failed { reason }) = mp.outcome(task) else {
        panic!("{:?}", mp.outcome(task));
    };
    assert!(reason.contains("different executable"), "{reason}");
    assert!(mp.value(task).is_none());
}

#[test]
fn outcomes_read_well() {
    let cases = [
        (Outcome::Returned, "returned"),
        (Outcome::Exited { code: 3 }, "exited with code 3"),
        (
            Outcome::ExitedEarly { code: 0 },
            "exited with code 0 before the function returned",
        ),
        (
            Outcome::Signaled { signal: 9 },
            "was killed by signal 9 (SIGKILL)",
        ),
        (Outcome::Killed, "was killed on request"),
        (Outcome::TimedOut, "ran past its timeout and was ended"),
        (
            Outcome::Panicked {
                message: "boom".into(),
                location: Some("src/main.rs:1:2".into()),
            },
            "panicked at src/main.rs:1:2: boom",
        ),
    ];
    for (outcome, text) in cases {
        assert_eq!(outcome.to_string(), text);
    }
}
