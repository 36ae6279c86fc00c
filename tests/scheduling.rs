//! Considerate scheduling: the cap, the priority modes, foreign load and
//! usable CPUs.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{FedLoad, ForeignLoad, Guarded, Lines};
use dummymp::{DummyMp, LoadRule, OwnProcesses, Priority, Progress, Scheduler};

dummymp::enable_test_support!();

crate::role_programs! {
    "print-cpus" => print_cpus(),
    "print-counted" => print_counted(),
    "generous-and-nuclear" => generous_and_nuclear_on_busy_cpus(),
    "generous-under-our-loops" => generous_under_our_loops(),
    "normal" => normal_on_busy_cpus(),
    "measure-normal" => measure_normal(),
    "generous-waits-then-starts" => generous_waits_then_starts(),
    "generous-pauses-then-continues" => generous_pauses_then_continues(),
    "panics" => panics(),
}

/// Role: fails an assertion, as a role whose deadline passed does.
fn panics() -> i32 {
    assert_eq!(1 + 1, 3, "a role that panics");
    0
}

/// Role: prints the usable and total CPUs.
fn print_cpus() -> i32 {
    println!("{} {}", dummymp::usable_cpus(), dummymp::total_cpus());
    0
}

/// Role: prints the pids a Normal measurement counts as foreign load.
fn print_counted() -> i32 {
    let m = dummymp::measure_foreign_load(Priority::Normal, &OwnProcesses::new()).unwrap();
    let pids: Vec<String> = m.counted.iter().map(|p| p.pid.to_string()).collect();
    println!("{}", pids.join(" "));
    0
}

/// Role: one Normal measurement, as `key value` lines.
fn measure_normal() -> i32 {
    let m = dummymp::measure_foreign_load(Priority::Normal, &OwnProcesses::new()).unwrap();
    let pids: Vec<String> = m.counted.iter().map(|p| p.pid.to_string()).collect();
    println!("counted {}", pids.join(","));
    println!("machine-percent {}", m.machine_percent.round());
    println!("machine-cpus {}", m.machine_cpus);
    println!("machine-wide {}", u8::from(m.rule == LoadRule::MachineWide));
    println!("available {}", m.available_cpus);
    println!("usable {}", m.usable_cpus);
    println!("summary {m}");
    0
}

/// Holds a marker file in `dir` for 50 ms and returns how many markers
/// (tasks running at that moment, its own included) it saw.
fn occupy(dir: PathBuf) -> usize {
    let marker = dir.join(std::process::id().to_string());
    std::fs::write(&marker, b"").unwrap();
    let seen = std::fs::read_dir(&dir).unwrap().count();
    std::thread::sleep(Duration::from_millis(50));
    std::fs::remove_file(&marker).unwrap();
    seen
}

fn most_at_once(mp: &DummyMp) -> usize {
    mp.returns::<usize>().unwrap().into_values().max().unwrap()
}

#[test]
fn the_cap_is_never_exceeded() {
    for (priority, cap) in [
        (Priority::Nuclear, 1),
        (Priority::Extreme, 1),
        (Priority::Nuclear, 2),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut mp = DummyMp::new();
        mp.set_priority_mode(priority);
        mp.set_max_processes(cap);
        let seen = Arc::new(Mutex::new(Vec::<Progress>::new()));
        let log = Arc::clone(&seen);
        mp.set_start_callback(move |p| log.lock().unwrap().push(p));
        for _ in 0..8 {
            mp.run(occupy, dir.path().to_path_buf()).unwrap();
        }
        mp.process_until_done().unwrap();
        assert_eq!(mp.returns::<usize>().unwrap().len(), 8);
        assert!(
            most_at_once(&mp) <= cap,
            "{priority}: {}",
            most_at_once(&mp)
        );
        let starts = seen.lock().unwrap();
        assert_eq!(starts.len(), 8);
        assert!(starts.iter().all(|p| p.running <= cap), "{starts:?}");
    }
}

#[test]
fn callbacks_receive_completed_running_total() {
    let mut mp = DummyMp::new();
    mp.set_priority_mode(Priority::Nuclear);
    mp.set_max_processes(1);
    let ends = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&ends);
    mp.set_end_callback(move |p| log.lock().unwrap().push(p));
    for x in 0..3u8 {
        mp.run(|x: u8| x, x).unwrap();
    }
    mp.process_until_done().unwrap();
    let ends = ends.lock().unwrap();
    let expected: Vec<Progress> = (1..=3)
        .map(|completed| Progress {
            completed,
            running: 0,
            total: 3,
        })
        .collect();
    assert_eq!(*ends, expected);
}

fn nap(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

/// Role: the Generous/Nuclear scenario on a machine whose every CPU the
/// fed load keeps busy. Reports what it sees, line by line, and waits for
/// a line on stdin once the test should take the load away.
fn generous_and_nuclear_on_busy_cpus() -> i32 {
    let mut generous = DummyMp::new();
    generous.set_priority_mode(Priority::Generous);
    generous.run(nap, 1).unwrap();
    generous.run(nap, 1).unwrap();
    println!("usable {}", dummymp::usable_cpus());
    println!("generous-available {}", generous.cpu_avail());
    generous.process_process().unwrap();
    println!("generous-running {}", generous.progress().running);
    println!("generous-queued {}", generous.queued());

    let mut nuclear = DummyMp::new();
    nuclear.set_priority_mode(Priority::Nuclear);
    nuclear.run(nap, 300).unwrap();
    nuclear.run(nap, 300).unwrap();
    nuclear.process_process().unwrap();
    println!("nuclear-running {}", nuclear.progress().running);
    nuclear.process_until_done().unwrap();
    println!(
        "nuclear-returns {}",
        nuclear.returns::<u64>().unwrap().len()
    );

    generous.process_process().unwrap();
    println!("generous-completed {}", generous.progress().completed);
    println!("stop-the-load");
    go_ahead();
    generous.process_until_done().unwrap();
    println!(
        "generous-returns {}",
        generous.returns::<u64>().unwrap().len()
    );
    0
}

/// Role (on CPU 0, which the test's own busy loops keep busy): Generous
/// neither starts a task nor lets one keep running, while Nuclear runs its
/// task at once. Only more load than the test's could change what it
/// sees, and more load only confirms it: it never waits for load to go.
fn generous_under_our_loops() -> i32 {
    let mut generous = DummyMp::new();
    generous.set_priority_mode(Priority::Generous);
    generous.run(nap, 1).unwrap();
    println!("generous-available {}", generous.cpu_avail());
    generous.process_process().unwrap();
    println!("generous-running {}", generous.progress().running);
    println!("generous-queued {}", generous.queued());
    let mut nuclear = DummyMp::new();
    nuclear.set_priority_mode(Priority::Nuclear);
    nuclear.run(nap, 1).unwrap();
    nuclear.process_process().unwrap();
    println!("nuclear-running {}", nuclear.progress().running);
    nuclear.process_until_done().unwrap();
    println!(
        "nuclear-returns {}",
        nuclear.returns::<u64>().unwrap().len()
    );
    // A scheduler advising on one running task of ours pauses it.
    let limit = Instant::now() + common::PATIENCE;
    let mut s = Scheduler::new(Priority::Generous, 0);
    let advice = loop {
        let advice = s.running_advice(1);
        if advice.keep_running == 0 {
            break advice;
        }
        assert!(wait_for(&s, limit), "never paused: {advice}");
    };
    println!("advice {advice}");
    0
}

/// Role: Normal on a machine whose every CPU the fed load keeps busy.
fn normal_on_busy_cpus() -> i32 {
    let dir = PathBuf::from(std::env::var_os("DUMMYMP_TEST_DIR").unwrap());
    let mut mp = DummyMp::new();
    mp.set_priority_mode(Priority::Normal);
    println!("normal-available {}", mp.cpu_avail());
    for _ in 0..4 {
        mp.run(occupy, dir.clone()).unwrap();
    }
    mp.process_process().unwrap();
    println!("normal-running {}", mp.progress().running);
    mp.process_until_done().unwrap();
    println!("normal-returns {}", mp.returns::<usize>().unwrap().len());
    println!("normal-most-at-once {}", most_at_once(&mp));
    0
}

/// Starts the role `role` on CPU 0 only.
fn on_cpu_zero(role: &str) -> std::process::Command {
    let mut command = std::process::Command::new("taskset");
    command
        .args(["-c", "0"])
        .arg(std::env::current_exe().unwrap())
        .env("DUMMYMP_TEST_ROLE", role);
    command
}

/// Starts the role `role` with its stdin and stdout piped, reading its
/// load from `load`.
fn fed_role(role: &str, load: &FedLoad) -> (Guarded, Lines) {
    let mut command = common::role_command(role);
    load.apply(&mut command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    let mut role = Guarded::spawn(&mut command);
    let lines = Lines::new(role.child.stdout.take().unwrap());
    (role, lines)
}

/// Reads `key value` lines from `lines` until the line `until`, into a
/// map; each line within the deadline of [`Lines::next`].
fn read_report_until(lines: &Lines, until: &str) -> std::collections::HashMap<String, usize> {
    let mut report = std::collections::HashMap::new();
    loop {
        let line = lines.next(&format!("{until:?} after {report:?}"));
        if line == until {
            return report;
        }
        let (key, value) = line.split_once(' ').expect("key value");
        report.insert(key.to_string(), value.parse().unwrap());
    }
}

// The reactions to load are checked with fed load (`FedLoad`): the
// scheduler sees what the test says, whatever else the machine runs.

#[test]
fn generous_waits_while_every_cpu_is_busy_and_nuclear_does_not() {
    let usable = dummymp::usable_cpus();
    let load = FedLoad::busy(usable);
    let (mut role, lines) = fed_role("generous-and-nuclear", &load);
    let report = read_report_until(&lines, "stop-the-load");
    assert_eq!(report["usable"], usable);
    assert_eq!(report["generous-available"], 0, "{report:?}");
    assert_eq!(report["generous-running"], 0, "Generous must wait");
    assert_eq!(report["generous-queued"], 2);
    assert_eq!(
        report["nuclear-running"],
        usable.min(2),
        "Nuclear takes every CPU at once"
    );
    assert_eq!(report["nuclear-returns"], 2);
    assert_eq!(report["generous-completed"], 0, "Generous still waits");
    // Once the load is gone, Generous runs everything (at its next
    // measurement) instead of giving up.
    load.set_quiet();
    writeln!(role.child.stdin.take().unwrap()).unwrap();
    let report = read_report_until(&lines, "generous-returns 2");
    assert!(report.is_empty(), "{report:?}");
    assert!(role.wait("the role to end").success());
}

// The same reaction to real load: busy loops of the test's own keep CPU 0,
// the only one the role may use, busy. Any other load on the machine only
// adds to them, so it cannot change what the role sees; the role never
// waits for the load to go.
#[test]
fn generous_neither_starts_nor_keeps_running_a_task_on_a_cpu_our_loops_keep_busy() {
    let _load = ForeignLoad::start(2, Some("0"));
    let mut role = Guarded::spawn(
        on_cpu_zero("generous-under-our-loops")
            .stdin(Stdio::null())
            .stdout(Stdio::piped()),
    );
    let lines = Lines::new(role.child.stdout.take().unwrap());
    let report = read_report_until(&lines, "nuclear-returns 1");
    assert_eq!(report["generous-available"], 0, "{report:?}");
    assert_eq!(report["generous-running"], 0, "Generous must wait");
    assert_eq!(report["generous-queued"], 1);
    assert_eq!(report["nuclear-running"], 1, "Nuclear starts at once");
    assert_eq!(
        lines.next("the advice for a running task"),
        "advice keep 0 running, lower their priority"
    );
    assert!(role.wait("the role to end").success());
}

#[test]
fn normal_runs_one_task_at_a_time_when_no_cpu_is_free() {
    let load = FedLoad::busy(dummymp::usable_cpus());
    let dir = tempfile::tempdir().unwrap();
    let mut command = common::role_command("normal");
    load.apply(&mut command)
        .env("DUMMYMP_TEST_DIR", dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    let mut role = Guarded::spawn(&mut command);
    let lines = Lines::new(role.child.stdout.take().unwrap());
    let mut report = read_report_until(&lines, "normal-returns 4");
    report.extend(read_report_until(&lines, "normal-most-at-once 1"));
    assert_eq!(report["normal-available"], 0, "{report:?}");
    assert_eq!(report["normal-running"], 1, "one task is forced");
    assert!(role.wait("the role to end").success());
}

/// A role that panics reports the panic and exits with a failure status;
/// it does not abort (a panic cannot unwind out of the constructor that
/// runs roles).
#[test]
fn a_role_that_panics_exits_with_the_panic_on_stderr() {
    let output = common::role_command("panics")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(common::ROLE_PANICKED),
        "{output:?}"
    );
    assert!(stderr.contains("a role that panics"), "{stderr}");
    assert!(stderr.contains("role panics panicked"), "{stderr}");
}

/// Busy for `ms` milliseconds, with a busy child and a busy orphan left in
/// the task's process group (both ended with the task); returns their pids.
#[allow(clippy::zombie_processes)]
fn busy_family(ms: u64) -> (u32, u32, u32) {
    let child = std::process::Command::new("sh")
        .args(["-c", "while :; do :; done"])
        .spawn()
        .unwrap();
    let orphan = std::process::Command::new("sh")
        .args([
            "-c",
            "sh -c 'while :; do :; done' >/dev/null 2>&1 & echo $!",
        ])
        .output()
        .unwrap();
    let orphan: u32 = String::from_utf8_lossy(&orphan.stdout)
        .trim()
        .parse()
        .unwrap();
    log::info!(target: "keep-family", "child {} and orphan {orphan} are busy", child.id());
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_millis(ms) {
        std::hint::black_box(0u64);
    }
    (std::process::id(), child.id(), orphan)
}

#[test]
fn our_workers_and_everything_they_start_are_never_foreign() {
    let _cpus = common::cpu_heavy_section();
    let mut mp = DummyMp::new();
    mp.set_priority_mode(Priority::Nuclear);
    mp.set_max_processes(1);
    common::install_logger();
    mp.run(busy_family, 1500).unwrap();
    // Measure once the whole family is busy, with the instance's own view of
    // what is ours.
    while common::kept_records("keep-family").is_empty() {
        assert!(!mp.wait(None).unwrap(), "the task ended too early");
    }
    let measurement =
        dummymp::measure_foreign_load(Priority::Normal, mp.scheduler().own_processes()).unwrap();
    mp.process_until_done().unwrap();
    let (worker, child, orphan) = mp.returns::<(u32, u32, u32)>().unwrap()[&0];
    let counted: Vec<i32> = measurement.counted.iter().map(|p| p.pid).collect();
    for pid in [worker, child, orphan] {
        assert!(
            !counted.contains(&(pid as i32)),
            "{pid} counted: {measurement:?}"
        );
    }
    // The task's leftovers were ended with it.
    assert!(common::wait_gone(orphan, Duration::from_secs(10)));
    assert!(common::wait_gone(child, Duration::from_secs(10)));
    // A fresh view that does not know the task's group sees nothing of it
    // either now.
    let after = dummymp::measure_foreign_load(Priority::Normal, &OwnProcesses::new()).unwrap();
    assert!(!after.counted.iter().any(|p| p.pid == orphan as i32));
}

#[test]
fn usable_cpus_follow_taskset() {
    let exe = std::env::current_exe().unwrap();
    let output = common::role_command("print-cpus")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let all = String::from_utf8(output.stdout).unwrap();
    let total: usize = all.split_whitespace().nth(1).unwrap().parse().unwrap();
    let output = std::process::Command::new("taskset")
        .arg("-c")
        .arg("0")
        .arg(&exe)
        .env("DUMMYMP_TEST_ROLE", "print-cpus")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        String::from_utf8(output.stdout).unwrap().trim(),
        format!("1 {total}")
    );
}

/// Starts `command` (which `exec`s `sleep`) and waits until it runs
/// `sleep` itself.
fn sleeper(command: &mut std::process::Command) -> Guarded {
    let sleeper = Guarded::spawn(command.stdin(Stdio::null()));
    let pid = sleeper.child.id();
    let limit = Instant::now() + common::PATIENCE;
    while std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default() != "sleep\n" {
        assert!(Instant::now() < limit, "{pid} never ran sleep");
        std::thread::sleep(Duration::from_millis(10));
    }
    sleeper
}

// A process whose CPU affinity keeps it off all of our CPUs does not count;
// one that can reach them does. The processes and their affinity are real;
// their CPU use is fed, so that nothing else the machine runs changes the
// outcome.
#[test]
fn load_that_cannot_reach_our_cpus_does_not_count() {
    if dummymp::total_cpus() < 2 {
        eprintln!("skipped: needs two CPUs");
        return;
    }
    let pinned = sleeper(std::process::Command::new("taskset").args(["-c", "1", "sleep", "600"]));
    let anywhere = sleeper(std::process::Command::new("sleep").arg("600"));
    let (pinned, anywhere) = (pinned.child.id(), anywhere.child.id());
    let load = FedLoad::quiet();
    load.write(&format!("{pinned} pinned 100\n{anywhere} anywhere 100\n"));
    let mut command = on_cpu_zero("print-counted");
    let output = load
        .apply(&mut command)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let counted: Vec<u32> = String::from_utf8(output.stdout)
        .unwrap()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(counted, [anywhere], "{pinned} is pinned to CPU 1");
}

// The same with a real busy loop, measured: pinned to CPU 1, it is never
// counted by a program on CPU 0, however busy the machine is.
#[test]
fn a_busy_loop_on_another_cpu_is_never_counted() {
    if dummymp::total_cpus() < 2 {
        eprintln!("skipped: needs two CPUs");
        return;
    }
    let load = ForeignLoad::start(1, Some("1"));
    let output = on_cpu_zero("print-counted")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let counted: Vec<u32> = String::from_utf8(output.stdout)
        .unwrap()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert!(!counted.contains(&load.pids[0]), "{counted:?}");
}

/// The CPU time `pid` has used, in clock ticks (user and system).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// Runs `measure` and returns what it returns with the share of one CPU,
/// in percent, that process `pid` used meanwhile (seen from `/proc`,
/// independently of dummymp).
fn with_share_of<T>(pid: u32, measure: impl FnOnce() -> T) -> (T, f64) {
    let hz = rustix::param::clock_ticks_per_second() as f64;
    let (started, before) = (Instant::now(), cpu_ticks(pid));
    let result = measure();
    let used = (cpu_ticks(pid) - before) as f64 / hz;
    (result, used / started.elapsed().as_secs_f64() * 100.0)
}

/// A cgroup with a CPU quota of one CPU, if this machine lets us make one.
struct QuotaCgroup {
    dir: PathBuf,
}

impl QuotaCgroup {
    fn create() -> Option<QuotaCgroup> {
        let name = format!("dummymp-test-{}", std::process::id());
        let v1 = Path::new("/sys/fs/cgroup/cpu");
        if v1.join("cpu.cfs_quota_us").exists() {
            let dir = v1.join(&name);
            std::fs::create_dir(&dir).ok()?;
            let group = QuotaCgroup { dir };
            std::fs::write(group.dir.join("cpu.cfs_period_us"), "100000").ok()?;
            std::fs::write(group.dir.join("cpu.cfs_quota_us"), "100000").ok()?;
            return Some(group);
        }
        let v2 = Path::new("/sys/fs/cgroup");
        let controllers = std::fs::read_to_string(v2.join("cgroup.subtree_control")).ok()?;
        if !controllers.split_whitespace().any(|c| c == "cpu") {
            return None;
        }
        let dir = v2.join(&name);
        std::fs::create_dir(&dir).ok()?;
        let group = QuotaCgroup { dir };
        std::fs::write(group.dir.join("cpu.max"), "100000 100000").ok()?;
        Some(group)
    }
}

impl Drop for QuotaCgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.dir);
    }
}

#[test]
fn usable_cpus_follow_a_cgroup_quota() {
    let Some(group) = QuotaCgroup::create() else {
        eprintln!("skipped: no cgroup CPU controller we may configure here");
        return;
    };
    // The shell moves itself into the cgroup, then becomes the role program.
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg("echo $$ > \"$1/cgroup.procs\" && exec \"$0\"")
        .arg(std::env::current_exe().unwrap())
        .arg(&group.dir)
        .env("DUMMYMP_TEST_ROLE", "print-cpus")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    assert_eq!(text.split_whitespace().next(), Some("1"), "{text}");
}

/// Runs the `measure-normal` role on CPU 0 and reads its `key value`
/// lines (values as text).
fn measure_on_cpu_zero() -> std::collections::HashMap<String, String> {
    let output = on_cpu_zero("measure-normal")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn counted(report: &std::collections::HashMap<String, String>) -> Vec<u32> {
    report["counted"]
        .split(',')
        .filter(|p| !p.is_empty())
        .map(|p| p.parse().unwrap())
        .collect()
}

// One busy loop on our only CPU is counted by the per-process rule (when
// other processes leave it well above the threshold); eight
// loops sharing it (about 12 % each, well under Normal's 30 % threshold,
// and less when other processes run there too) are counted by none of
// them one by one, but the machine-wide rule adds them up and leaves no
// CPU free.
#[test]
fn a_big_process_counts_alone_and_small_ones_count_together() {
    let mut load = ForeignLoad::start(1, Some("0"));
    let one = load.pids[0];
    let (report, share) = with_share_of(one, measure_on_cpu_zero);
    if share >= 60.0 {
        assert!(counted(&report).contains(&one), "{share:.0} %: {report:?}");
    } else {
        // Other processes took CPU 0 from the loop, down to near or below
        // the threshold: whether it counts says nothing then.
        eprintln!("the loop had {share:.0} % of CPU 0: not checked whether it counts");
    }
    assert_eq!(report["available"], "0", "{report:?}");

    load.add(7, Some("0"));
    let report = measure_on_cpu_zero();
    let counted = counted(&report);
    assert!(
        load.pids.iter().all(|pid| !counted.contains(pid)),
        "each loop is under the threshold: {report:?}"
    );
    let total: f64 = report["machine-percent"].parse().unwrap();
    assert!(total >= 70.0, "the small loops add up: {report:?}");
    assert_ne!(report["machine-cpus"], "0", "{report:?}");
    assert_eq!(report["available"], "0", "{report:?}");
}

/// Waits on `scheduler`'s wake-up descriptor until a result arrives or its
/// next deadline passes; false once `limit` has passed.
fn wait_for(scheduler: &Scheduler, limit: Instant) -> bool {
    use rustix::event::{PollFd, PollFlags, Timespec};
    let now = Instant::now();
    if now >= limit {
        return false;
    }
    let until = scheduler.next_deadline().map_or(limit, |d| d.min(limit));
    let timeout = Timespec::try_from(until.saturating_duration_since(now)).unwrap();
    match scheduler.wake_fd() {
        Some(fd) => {
            let mut fds = [PollFd::new(&fd, PollFlags::IN)];
            rustix::event::poll(&mut fds, Some(&timeout)).unwrap();
        }
        None => std::thread::sleep(until.saturating_duration_since(now)),
    }
    true
}

/// Whether, as the scheduler stands, a new measurement is on its way at
/// once: one runs, or one is due now.
fn measuring_without_pause(scheduler: &Scheduler) -> bool {
    scheduler.measuring()
        || scheduler
            .next_deadline()
            .is_some_and(|d| d <= Instant::now())
}

/// Reads one line from standard input (the test's go-ahead); fails when
/// the test is gone.
fn go_ahead() {
    let mut line = String::new();
    let read = std::io::stdin().read_line(&mut line).unwrap();
    assert!(read > 0, "the test closed the go-ahead's pipe");
}

/// Role: a Generous scheduler with one task waiting on a machine whose
/// every CPU the fed load keeps busy. Once it waits on a sampled
/// measurement, it checks that the next measurement follows at once, says
/// `blocked`, and after the go-ahead (the load is gone) waits until the
/// task may start, checking all along that measurements follow each other
/// without pause.
fn generous_waits_then_starts() -> i32 {
    let limit = Instant::now() + common::PATIENCE;
    let mut s = Scheduler::new(Priority::Generous, 0);
    while s.free_slots(0, 1) == 0 && s.measurement().is_none() {
        assert!(wait_for(&s, limit), "no measurement");
    }
    assert_eq!(s.free_slots(0, 1), 0, "{}", s.last_decision());
    assert!(measuring_without_pause(&s), "{:?}", s.next_deadline());
    println!("blocked {}", s.last_decision());
    go_ahead();
    let limit = Instant::now() + common::PATIENCE;
    while s.free_slots(0, 1) == 0 {
        assert!(measuring_without_pause(&s), "{:?}", s.next_deadline());
        assert!(wait_for(&s, limit), "never started: {}", s.last_decision());
    }
    println!("started {}", s.last_decision());
    0
}

// While a task waits for CPUs and none of ours runs, measurements follow
// each other without pause (not at Generous's 5-second re-measure
// interval), so the task starts at the first measurement that no longer
// sees the load.
#[test]
fn generous_measures_without_pause_while_it_waits() {
    let load = FedLoad::busy(dummymp::usable_cpus());
    let (mut role, lines) = fed_role("generous-waits-then-starts", &load);
    let waiting = lines.next("the role to wait");
    assert!(
        waiting.starts_with("blocked waiting (1 waiting, 0 running): "),
        "{waiting}"
    );
    assert!(
        waiting.contains("CPUs busy with other processes: pid 5000001 (fed-loop) 100 %"),
        "{waiting}"
    );
    load.set_quiet();
    writeln!(role.child.stdin.take().unwrap()).unwrap();
    let started = lines.next("the task to start");
    assert!(
        started.starts_with("started starting 1 (1 waiting, 0 running): "),
        "{started}"
    );
    assert!(role.wait("the role to end").success());
}

/// Role: a Generous scheduler advising on one running task (none really
/// runs) on a machine whose every CPU the fed load keeps busy: waits for
/// the advice to pause it, says `paused`, and after the go-ahead (the load
/// is gone) follows the measurements until the advice lets it continue;
/// says how many measurements in a row before that left room for it.
fn generous_pauses_then_continues() -> i32 {
    let limit = Instant::now() + common::PATIENCE;
    let mut s = Scheduler::new(Priority::Generous, 0);
    let advice = loop {
        let advice = s.running_advice(1);
        if advice.keep_running == 0 {
            break advice;
        }
        assert!(wait_for(&s, limit), "never paused: {advice}");
    };
    assert!(advice.renice, "{advice}");
    println!("paused {advice}");
    go_ahead();
    let limit = Instant::now() + common::PATIENCE;
    // Each advice judges the latest measurement: follow them the same way.
    let mut judged = s.measurement().map(|m| m.taken_at);
    let mut calm_in_a_row = 0;
    loop {
        let advice = s.running_advice(1);
        if let Some(m) = s.measurement()
            && Some(m.taken_at) != judged
        {
            judged = Some(m.taken_at);
            calm_in_a_row = if m.available_cpus >= 1 {
                calm_in_a_row + 1
            } else {
                0
            };
        }
        if advice.keep_running == 1 {
            break;
        }
        assert!(measuring_without_pause(&s), "{:?}", s.next_deadline());
        assert!(wait_for(&s, limit), "never continued: {advice}");
    }
    println!("continued-after {calm_in_a_row}");
    0
}

// Load that appears while a task of ours runs pauses it at once in
// Generous; once the load is gone, it continues only after
// CALM_MEASUREMENTS measurements in a row leave room for it.
#[test]
fn generous_pauses_for_load_and_continues_after_calm_measurements() {
    let load = FedLoad::busy(dummymp::usable_cpus());
    let (mut role, lines) = fed_role("generous-pauses-then-continues", &load);
    let paused = lines.next("the advice to pause");
    assert_eq!(paused, "paused keep 0 running, lower their priority");
    load.set_quiet();
    writeln!(role.child.stdin.take().unwrap()).unwrap();
    let continued = lines.next("the advice to continue");
    assert_eq!(
        continued,
        format!("continued-after {}", dummymp::CALM_MEASUREMENTS)
    );
    assert!(role.wait("the role to end").success());
}
