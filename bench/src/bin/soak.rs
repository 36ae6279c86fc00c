//! `soak [SECONDS] [SEED] [AT_ONCE]`: runs tasks through the library for
//! SECONDS (default 60) with faults injected at random from SEED (default
//! 20240601), AT_ONCE (default 4) at a time, and checks that every task
//! ends with exactly the outcome its fault calls for, that no value is
//! lost or wrong, and that nothing is left behind: no descriptor, no
//! child, no process in any task's process group. Prints one JSON line
//! with the counts; exits 1 when any check failed.
//!
//! Run by `bench/soak/run.sh`; never part of the test suite.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::time::{Duration, Instant};

use dummymp::{Command, DummyMp, Outcome, OutputMode, Priority, TaskId, TaskOptions};
use serde::{Deserialize, Serialize};

/// What a task is made to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Fault {
    /// Returns its value.
    None,
    Panic,
    SigkillSelf,
    Segfault,
    Abort,
    Exit3,
    /// Writes bytes that are no frame to its message stream.
    Garbage,
    /// Writes the start of a frame and exits.
    TruncatedFrame,
    /// Sleeps past its timeout.
    Timeout,
    /// Killed by the parent (`DummyMp::kill`).
    KilledByParent,
    /// Starts a grandchild and returns (the grandchild is swept).
    LeavesGrandchild,
    /// A command exiting with a code.
    CommandExit,
    /// A command that leaves a background process and exits 0.
    CommandLeavesProcess,
}

/// Draws a fault: about half the tasks run clean.
fn draw(random: &mut u64) -> Fault {
    *random ^= *random << 13;
    *random ^= *random >> 7;
    *random ^= *random << 17;
    match *random % 100 {
        0..=44 => Fault::None,
        45..=50 => Fault::Panic,
        51..=55 => Fault::SigkillSelf,
        56..=60 => Fault::Segfault,
        61..=65 => Fault::Abort,
        66..=70 => Fault::Exit3,
        71..=75 => Fault::Garbage,
        76..=79 => Fault::TruncatedFrame,
        80..=82 => Fault::Timeout,
        83..=86 => Fault::KilledByParent,
        87..=90 => Fault::LeavesGrandchild,
        91..=96 => Fault::CommandExit,
        _ => Fault::CommandLeavesProcess,
    }
}

/// The descriptor of this worker's message stream: the only write-only,
/// close-on-exec pipe from 3 up whose other end is not in this process.
fn protocol_descriptor() -> Option<i32> {
    let mut pipes: Vec<(i32, String, bool)> = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd").ok()?.flatten() {
        let fd: i32 = entry.file_name().to_str()?.parse().ok()?;
        let Ok(target) = std::fs::read_link(entry.path()) else {
            continue;
        };
        let target = target.to_string_lossy().into_owned();
        let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).unwrap_or_default();
        let flags = info
            .lines()
            .find_map(|l| l.strip_prefix("flags:"))
            .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
            .unwrap_or(0);
        let private_writer = flags & 0o3 == 0o1 && flags & 0o2000000 != 0;
        pipes.push((fd, target, private_writer));
    }
    let mut found = pipes.iter().filter(|(fd, target, private_writer)| {
        *fd >= 3
            && *private_writer
            && target.starts_with("pipe:")
            && pipes.iter().filter(|(_, t, _)| t == target).count() == 1
    });
    let (fd, _, _) = found.next()?;
    found.next().is_none().then_some(*fd)
}

fn write_to_protocol(bytes: &[u8]) {
    let fd = protocol_descriptor().expect("one protocol pipe");
    let mut stream = std::fs::OpenOptions::new()
        .write(true)
        .open(format!("/proc/self/fd/{fd}"))
        .expect("the pipe reopens");
    stream.write_all(bytes).expect("written");
}

/// The function every task runs: does what `fault` says with `x`.
fn faulty((fault, x): (Fault, u64)) -> u64 {
    match fault {
        Fault::None => {}
        Fault::Panic => panic!("injected panic {x}"),
        Fault::SigkillSelf => {
            let _ = rustix::process::kill_process(
                rustix::process::getpid(),
                rustix::process::Signal::KILL,
            );
        }
        Fault::Segfault => {
            // SAFETY: maps a fresh page with no access rights.
            let page = unsafe { inaccessible_page() };
            // SAFETY: a valid, aligned pointer to a page that faults on
            // purpose: the kernel turns the read into SIGSEGV.
            return unsafe { std::ptr::read_volatile(page) };
        }
        Fault::Abort => std::process::abort(),
        Fault::Exit3 => std::process::exit(3),
        Fault::Garbage => write_to_protocol(b"garbage from the task\n"),
        Fault::TruncatedFrame => {
            write_to_protocol(&[100, 0, 0, 0, 1, 2, 3]);
            std::process::exit(0);
        }
        Fault::Timeout | Fault::KilledByParent => loop {
            std::thread::sleep(Duration::from_secs(1000));
        },
        Fault::LeavesGrandchild => {
            let _ = std::process::Command::new("sleep")
                .arg("1000")
                .stdin(std::process::Stdio::null())
                .spawn();
        }
        Fault::CommandExit | Fault::CommandLeavesProcess => unreachable!("commands"),
    }
    x * 3
}

/// An anonymous page mapped with no access.
///
/// # Safety
///
/// Only maps memory; the caller must not expect to read it.
unsafe fn inaccessible_page() -> *const u64 {
    // SAFETY: mmap of a new anonymous private page, no existing memory.
    let page = unsafe {
        rustix::mm::mmap_anonymous(
            std::ptr::null_mut(),
            4096,
            rustix::mm::ProtFlags::empty(),
            rustix::mm::MapFlags::PRIVATE,
        )
    };
    page.expect("a page").cast::<u64>().cast_const()
}

/// Whether `outcome` (and `value`) is what `fault` calls for.
fn as_expected(fault: Fault, x: u64, outcome: &Outcome, value: Option<&u64>) -> bool {
    match fault {
        Fault::None | Fault::LeavesGrandchild => {
            *outcome == Outcome::Returned && value == Some(&(x * 3))
        }
        Fault::Panic => {
            matches!(outcome, Outcome::Panicked { message, .. } if *message == format!("injected panic {x}"))
        }
        Fault::SigkillSelf => *outcome == Outcome::Signaled { signal: 9 },
        Fault::Segfault => *outcome == Outcome::Signaled { signal: 11 },
        Fault::Abort => *outcome == Outcome::Signaled { signal: 6 },
        Fault::Exit3 => *outcome == Outcome::ExitedEarly { code: 3 },
        Fault::Garbage => {
            matches!(outcome, Outcome::Failed { reason } if reason.contains("message stream is broken"))
        }
        Fault::TruncatedFrame => {
            matches!(outcome, Outcome::Failed { reason } if reason.contains("cut short"))
        }
        Fault::Timeout => *outcome == Outcome::TimedOut,
        Fault::KilledByParent => *outcome == Outcome::Killed,
        Fault::CommandExit => {
            *outcome
                == Outcome::Exited {
                    code: (x % 5) as i32,
                }
        }
        Fault::CommandLeavesProcess => *outcome == Outcome::Exited { code: 0 },
    }
}

#[derive(Serialize)]
struct Report {
    seconds: f64,
    seed: u64,
    at_once: usize,
    tasks: usize,
    faults_injected: BTreeMap<Fault, usize>,
    outcomes: BTreeMap<String, usize>,
    results_lost: usize,
    unexpected_outcomes: usize,
    processes_left: usize,
    descriptors_before: usize,
    descriptors_after: usize,
    children_after: usize,
    peak_rss_kib: u64,
}

fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, Iterator::count)
}

/// (pid, parent, process group, session) of every live process.
fn process_table() -> Vec<(u32, u32, u32, u32)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
            if matches!(fields.next(), Some("Z" | "X")) {
                return None; // ended, waiting to be reaped by its parent
            }
            let parent = fields.next()?.parse().ok()?;
            let group = fields.next()?.parse().ok()?;
            let session = fields.next()?.parse().ok()?;
            Some((pid, parent, group, session))
        })
        .collect()
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    dummymp::init();
    let seconds: f64 = dummymp_bench::arg(1, "seconds", 60.0);
    let seed: u64 = dummymp_bench::arg(2, "seed", 20240601);
    let at_once: usize = dummymp_bench::arg(3, "at_once", 4);
    let mut random = seed | 1;
    let descriptors_before = open_descriptors();
    let started = Instant::now();
    let mut faults_injected: BTreeMap<Fault, usize> = BTreeMap::new();
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    let (mut tasks, mut lost, mut unexpected) = (0usize, 0usize, 0usize);
    let mut processes_left = 0usize;
    let session = rustix::process::getsid(None).map_or(0, |s| s.as_raw_nonzero().get() as u32);
    let mut next_x = 0u64;
    {
        let mut task_groups: HashSet<u32> = HashSet::new();
        let mut mp = DummyMp::new();
        mp.set_priority_mode(Priority::Nuclear);
        mp.set_max_processes(at_once);
        mp.set_output_mode(OutputMode::Captured);
        mp.set_kill_grace(Duration::from_millis(200));
        while started.elapsed().as_secs_f64() < seconds {
            // One batch; the queue is reset between batches so that memory
            // stays flat over a long soak.
            let mut batch: Vec<(TaskId, Fault, u64)> = Vec::new();
            for _ in 0..100 {
                let fault = draw(&mut random);
                let x = next_x;
                next_x += 1;
                *faults_injected.entry(fault).or_default() += 1;
                let id = match fault {
                    Fault::CommandExit => mp
                        .run_command(Command::shell(format!("exit {}", x % 5)))
                        .expect("queued"),
                    Fault::CommandLeavesProcess => mp
                        .run_command(Command::shell("sleep 1000 & exit 0"))
                        .expect("queued"),
                    Fault::Timeout => mp
                        .run_with(
                            TaskOptions::new().timeout(Duration::from_millis(100)),
                            faulty,
                            (fault, x),
                        )
                        .expect("queued")
                        .into(),
                    _ => mp.run(faulty, (fault, x)).expect("queued").into(),
                };
                batch.push((id, fault, x));
            }
            // The parent kills its targets once the batch has begun: those
            // that started are ended, those still queued are taken off the
            // queue; either way they end as killed.
            let mut done = mp.wait(Some(Duration::from_millis(20))).expect("waits");
            for (id, fault, _) in &batch {
                if *fault == Fault::KilledByParent {
                    mp.kill(*id);
                }
            }
            while !done {
                done = mp.wait(Some(Duration::from_millis(100))).expect("waits");
            }
            let returns: BTreeMap<usize, u64> = mp.returns::<u64>().expect("every return is a u64");
            for (id, fault, x) in batch {
                tasks += 1;
                let Some(report) = mp.report(id) else {
                    lost += 1;
                    continue;
                };
                if let Some(pid) = report.pid {
                    task_groups.insert(pid);
                }
                let outcome = report.outcome.clone();
                let name = outcome_name(&outcome);
                *outcomes.entry(name).or_default() += 1;
                let value = returns.get(&id.index());
                if !as_expected(fault, x, &outcome, value) {
                    unexpected += 1;
                    eprintln!("soak: task {x} ({fault:?}) ended {outcome:?}, value {value:?}");
                }
            }
            mp.reset();
            // Whatever lives on in a task's process group (in our session:
            // a pid reused by someone else's process is not ours) was left
            // behind.
            processes_left += process_table()
                .iter()
                .filter(|(_, _, group, sid)| task_groups.contains(group) && *sid == session)
                .count();
            task_groups.clear();
            mp.set_priority_mode(Priority::Nuclear);
            mp.set_max_processes(at_once);
            mp.set_output_mode(OutputMode::Captured);
            mp.set_kill_grace(Duration::from_millis(200));
        }
    }
    let me = std::process::id();
    let children_after = process_table()
        .iter()
        .filter(|(_, parent, _, _)| *parent == me)
        .count();
    let report = Report {
        seconds: started.elapsed().as_secs_f64(),
        seed,
        at_once,
        tasks,
        faults_injected,
        outcomes,
        results_lost: lost,
        unexpected_outcomes: unexpected,
        processes_left,
        descriptors_before,
        descriptors_after: open_descriptors(),
        children_after,
        peak_rss_kib: peak_rss_kib(),
    };
    let ok = report.results_lost == 0
        && report.unexpected_outcomes == 0
        && report.processes_left == 0
        && report.children_after == 0
        && report.descriptors_after == report.descriptors_before;
    dummymp_bench::emit(&report);
    std::process::exit(if ok { 0 } else { 1 });
}

/// A short name for the kind of an outcome.
fn outcome_name(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Returned => "returned".into(),
        Outcome::Panicked { .. } => "panicked".into(),
        Outcome::Exited { code } => format!("exited_{code}"),
        Outcome::ExitedEarly { code } => format!("exited_early_{code}"),
        Outcome::Signaled { signal } => {
            format!("signaled_{}", dummymp::signal_name(*signal).unwrap_or("?"))
        }
        Outcome::TimedOut => "timed_out".into(),
        Outcome::Killed => "killed".into(),
        Outcome::FailedToStart { .. } => "failed_to_start".into(),
        Outcome::Failed { .. } => "failed".into(),
        _ => "other".into(),
    }
}
