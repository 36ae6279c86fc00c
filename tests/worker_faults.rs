//! A worker that dies, crashes or breaks its message stream mid-task: that
//! task's outcome says what happened, and every other task still returns
//! its value.

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, Instant};

use dummymp::{DummyMp, Outcome, OutputMode, Priority, ProcessExit, TaskHandle};
use rustix::process::Signal;

dummymp::enable_test_support!();

crate::role_programs! {
    "near-limit-frame" => near_limit_frame_parent(),
}

fn nuclear(cap: usize) -> DummyMp {
    let mut mp = DummyMp::new();
    mp.set_priority_mode(Priority::Nuclear);
    mp.set_max_processes(cap);
    mp.set_output_mode(OutputMode::Captured);
    mp
}

fn fine(x: u32) -> u32 {
    x * 10
}

/// Queues `count` well-behaved tasks.
fn bystanders(mp: &mut DummyMp, count: u32) -> Vec<(u32, TaskHandle<u32>)> {
    (0..count).map(|x| (x, mp.run(fine, x).unwrap())).collect()
}

fn assert_bystanders_returned(mp: &DummyMp, tasks: &[(u32, TaskHandle<u32>)]) {
    for (x, task) in tasks {
        assert_eq!(mp.value(*task), Some(&(x * 10)), "bystander {x}");
        assert_eq!(mp.outcome(*task), Some(&Outcome::Returned));
    }
}

/// Says "`tag` `pid`" through `log` (target `keep-faults-victims`), then
/// waits to be killed.
fn victim(tag: String) -> u32 {
    log::info!(target: "keep-faults-victims", "{tag} {}", std::process::id());
    loop {
        std::thread::sleep(Duration::from_secs(1000));
    }
}

/// Reads from a page mapped without any access: a real segmentation fault.
fn segfaults((): ()) -> u32 {
    // SAFETY: mmap of a fresh anonymous page; no existing memory is touched.
    let page = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert_ne!(page, libc::MAP_FAILED);
    // SAFETY: the pointer is valid and aligned; the read faults on purpose
    // (the page has no access rights), which the kernel turns into SIGSEGV.
    unsafe { std::ptr::read_volatile(page.cast::<u32>()) }
}

fn aborts((): ()) -> u32 {
    std::process::abort();
}

fn exits_before_returning(code: i32) -> u32 {
    println!("about to exit");
    std::process::exit(code);
}

fn kills_itself((): ()) -> u32 {
    let _ = rustix::process::kill_process(rustix::process::getpid(), Signal::KILL);
    unreachable!("SIGKILL cannot be caught")
}

/// Pids of the victims tagged `tags`, once each has said it runs.
fn victim_pids(mp: &mut DummyMp, tags: &[&str]) -> HashMap<String, u32> {
    loop {
        let seen: HashMap<String, u32> = common::kept_records("keep-faults-victims")
            .iter()
            .filter_map(|r| {
                // "[PID n] tag pid"
                let mut words = r.message.rsplit(' ');
                let pid = words.next()?.parse().ok()?;
                Some((words.next()?.to_string(), pid))
            })
            .filter(|(tag, _)| tags.contains(&tag.as_str()))
            .collect();
        if seen.len() == tags.len() {
            return seen;
        }
        // A bounded wait: `DummyMp::wait` can relay a record and then sleep
        // until the next event (see tests/waiting.rs), and victims send none.
        assert!(
            !mp.wait(Some(Duration::from_millis(50))).unwrap(),
            "victims cannot end by themselves"
        );
    }
}

#[test]
fn every_kind_of_crash_ends_only_its_own_task() {
    common::install_logger();
    let mut mp = nuclear(4);
    // The victims start first (the queue starts tasks in call order).
    let killed = mp.run(victim, "kill-9".to_string()).unwrap();
    let aborted_outside = mp.run(victim, "abrt".to_string()).unwrap();
    let segfault = mp.run(segfaults, ()).unwrap();
    let abort = mp.run(aborts, ()).unwrap();
    let exit = mp.run(exits_before_returning, 3).unwrap();
    let self_kill = mp.run(kills_itself, ()).unwrap();
    let others = bystanders(&mut mp, 12);

    let pids = victim_pids(&mut mp, &["kill-9", "abrt"]);
    common::send_signal(pids["kill-9"], Signal::KILL);
    common::send_signal(pids["abrt"], Signal::ABORT);
    mp.process_until_done().unwrap();

    let signaled = |signal| Some(Outcome::Signaled { signal });
    assert_eq!(mp.outcome(killed), signaled(9).as_ref());
    assert_eq!(mp.outcome(aborted_outside), signaled(6).as_ref());
    assert_eq!(mp.outcome(segfault), signaled(11).as_ref());
    assert_eq!(mp.outcome(abort), signaled(6).as_ref());
    assert_eq!(mp.outcome(self_kill), signaled(9).as_ref());
    assert_eq!(mp.outcome(exit), Some(&Outcome::ExitedEarly { code: 3 }));
    assert_eq!(mp.report(exit).unwrap().exit, Some(ProcessExit::Code(3)));
    assert_eq!(
        mp.outcome(segfault).unwrap().to_string(),
        "was killed by signal 11 (SIGSEGV)"
    );
    for task in [killed, aborted_outside, segfault, abort, exit, self_kill] {
        assert!(mp.value(task).is_none(), "no value for a crashed task");
    }
    assert_bystanders_returned(&mp, &others);
    assert_eq!(mp.progress().completed, 18);
    assert!(mp.running_pids().is_empty());
}

// ---------------------------------------------------------------------------
// The protocol stream.

/// The descriptor of this worker's message stream to the parent, found as
/// hostile task code could: the only write-only, close-on-exec pipe among
/// the descriptors from 3 up whose other end is not in this process.
fn protocol_descriptor() -> i32 {
    let mut pipes: Vec<(i32, String, bool)> = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd").unwrap() {
        let fd: i32 = entry
            .unwrap()
            .file_name()
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let Ok(target) = std::fs::read_link(format!("/proc/self/fd/{fd}")) else {
            continue;
        };
        let target = target.to_string_lossy().into_owned();
        if !target.starts_with("pipe:") {
            continue;
        }
        let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).unwrap_or_default();
        let flags = info
            .lines()
            .find_map(|l| l.strip_prefix("flags:"))
            .map(|f| u32::from_str_radix(f.trim(), 8).unwrap())
            .unwrap_or(0);
        const CLOEXEC: u32 = 0o2000000;
        pipes.push((fd, target, flags & 0o3 == 0o1 && flags & CLOEXEC != 0));
    }
    let candidates: Vec<i32> = pipes
        .iter()
        .filter(|(fd, target, private_writer)| {
            *fd >= 3 && *private_writer && pipes.iter().filter(|(_, t, _)| t == target).count() == 1
        })
        .map(|(fd, _, _)| *fd)
        .collect();
    assert_eq!(candidates.len(), 1, "one protocol pipe among {pipes:?}");
    candidates[0]
}

/// Writes `bytes` to this worker's message stream, through a new open of
/// `/proc/self/fd/N` (what any code in the task can do).
fn write_to_protocol(bytes: &[u8]) {
    let fd = protocol_descriptor();
    let mut stream = std::fs::OpenOptions::new()
        .write(true)
        .open(format!("/proc/self/fd/{fd}"))
        .unwrap();
    stream.write_all(bytes).unwrap();
}

/// How a task corrupts its own message stream.
fn corrupts(how: String) -> u32 {
    // Let the first genuine message go out (a whole frame).
    println!("before {how}");
    std::io::stdout().flush().unwrap();
    match how.as_str() {
        // Text where a frame length belongs: "garb" claims 1.6 GB.
        "garbage" => write_to_protocol(b"garbage from the task\n"),
        // A small frame that is not a message.
        "unreadable" => write_to_protocol(&[3, 0, 0, 0, 0xff, 0xff, 0xff]),
        // A frame cut short by the worker's end.
        "truncated" => {
            write_to_protocol(&[100, 0, 0, 0, 1, 2, 3]);
            std::process::exit(0);
        }
        // A frame that claims 4 GiB.
        "4-gib" => {
            let mut bytes = u32::MAX.to_le_bytes().to_vec();
            bytes.extend_from_slice(&[0; 16]);
            write_to_protocol(&bytes);
        }
        // The stream closed before the result.
        "closed" => {
            let fd = protocol_descriptor();
            // SAFETY: closes a descriptor number this process owns; nothing
            // in this process uses it again except the worker's send, which
            // then fails (the point of the test).
            assert_eq!(unsafe { libc::close(fd) }, 0);
        }
        other => panic!("unknown corruption {other}"),
    }
    7
}

#[test]
fn a_task_that_corrupts_its_stream_fails_with_a_protocol_error_and_nobody_else_does() {
    let mut mp = nuclear(4);
    let before = bystanders(&mut mp, 4);
    let cases = ["garbage", "unreadable", "truncated", "4-gib", "closed"];
    let corrupted: Vec<_> = cases
        .iter()
        .map(|how| mp.run(corrupts, how.to_string()).unwrap())
        .collect();
    let after = bystanders(&mut mp, 8);
    mp.process_until_done().unwrap();

    let reason = |task| match mp.outcome(task) {
        Some(Outcome::Failed { reason }) => reason.clone(),
        other => panic!("{other:?}"),
    };
    assert!(
        reason(corrupted[0]).contains("message stream is broken (a frame of 1651663207 bytes"),
        "{}",
        reason(corrupted[0])
    );
    assert!(
        reason(corrupted[1]).contains("the worker sent an unreadable message"),
        "{}",
        reason(corrupted[1])
    );
    assert_eq!(
        reason(corrupted[2]),
        "the worker's last message was cut short"
    );
    assert!(
        reason(corrupted[3]).contains("frame of 4294967295 bytes"),
        "{}",
        reason(corrupted[3])
    );
    // Closing the stream leaves the worker nothing to send its result on:
    // it exits with code 4, which is what the outcome says.
    assert_eq!(
        mp.outcome(corrupted[4]),
        Some(&Outcome::ExitedEarly { code: 4 })
    );
    for task in &corrupted {
        assert!(
            mp.value(*task).is_none(),
            "no value from a corrupted stream"
        );
    }
    assert_bystanders_returned(&mp, &before);
    assert_bystanders_returned(&mp, &after);
}

/// Breaks its stream, then writes much more output than a pipe holds.
fn corrupts_then_floods((): ()) -> u32 {
    write_to_protocol(b"garbage from the task\n");
    let line = [b'x'; 1023];
    let mut out = std::io::stdout().lock();
    for _ in 0..4096 {
        out.write_all(&line).unwrap();
        out.write_all(b"\n").unwrap();
    }
    drop(out);
    7
}

/// Processes `mp` until it is done or `patience` has passed (a stuck task
/// fails the test instead of hanging it); returns whether it is done. What
/// still runs then is killed.
fn process_with_patience(mp: &mut DummyMp, patience: Duration) -> bool {
    let deadline = Instant::now() + patience;
    while Instant::now() < deadline {
        if mp
            .wait(Some(deadline.saturating_duration_since(Instant::now())))
            .unwrap()
        {
            return true;
        }
    }
    mp.killall();
    false
}

#[test]
fn a_task_that_breaks_its_stream_and_keeps_writing_does_not_hang() {
    let mut mp = nuclear(0);
    let broken = mp.run(corrupts_then_floods, ()).unwrap();
    let others = bystanders(&mut mp, 4);
    assert!(
        process_with_patience(&mut mp, Duration::from_secs(120)),
        "the worker whose stream broke never ended: {:?}",
        mp.outcome(broken)
    );
    assert!(matches!(mp.outcome(broken), Some(Outcome::Failed { .. })));
    assert_bystanders_returned(&mp, &others);
}

/// Claims a frame just under the protocol's limit (1 GiB), sends 64 KiB of
/// it, and exits.
fn claims_a_near_limit_frame((): ()) -> u32 {
    let mut bytes = ((1u32 << 30) - 1).to_le_bytes().to_vec();
    bytes.extend_from_slice(&[0u8; 64 * 1024]);
    write_to_protocol(&bytes);
    std::process::exit(0);
}

/// Role: runs a task that claims a 1 GiB frame; prints its outcome and this
/// process's peak resident memory (kB).
fn near_limit_frame_parent() -> i32 {
    let mut mp = nuclear(0);
    let task = mp.run(claims_a_near_limit_frame, ()).unwrap();
    let others = bystanders(&mut mp, 2);
    mp.process_until_done().unwrap();
    assert_bystanders_returned(&mp, &others);
    println!("{}", mp.outcome(task).unwrap());
    println!("{}", common::peak_rss_kib());
    0
}

#[test]
fn a_frame_claiming_a_gibibyte_costs_only_what_arrives() {
    let output = common::role_command("near-limit-frame")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "failed: the worker's last message was cut short");
    let peak_kib: u64 = lines[1].parse().unwrap();
    // Allocating the claimed frame would take 1 GiB.
    assert!(peak_kib < 256 * 1024, "peak {peak_kib} kB");
}

#[test]
fn output_written_just_before_an_exit_is_kept() {
    let mut mp = nuclear(0);
    let tasks: Vec<_> = (0..4)
        .map(|_| mp.run(exits_before_returning, 3).unwrap())
        .collect();
    mp.process_until_done().unwrap();
    for task in tasks {
        let report = mp.report(task).unwrap();
        assert_eq!(report.outcome, Outcome::ExitedEarly { code: 3 });
        assert_eq!(
            String::from_utf8_lossy(&report.stdout),
            "about to exit\n",
            "a line printed before std::process::exit is lost"
        );
    }
}
