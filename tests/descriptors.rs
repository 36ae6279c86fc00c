//! What descriptors a task gets: none of the parent's files, sockets or
//! other tasks' pipes, and nothing a task does to its standard descriptors
//! can reach the messages to its parent.

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use dummymp::{Command, DummyMp, Outcome, OutputMode, Priority};

dummymp::enable_test_support!();

fn nuclear() -> DummyMp {
    let mut mp = DummyMp::new();
    mp.set_priority_mode(Priority::Nuclear);
    mp.set_output_mode(OutputMode::Captured);
    mp
}

/// The descriptors of process `pid` (`"self"` for this one): number ->
/// (what it points at, whether it is close-on-exec).
fn descriptors_of(pid: &str) -> HashMap<i32, (String, bool)> {
    let mut table = HashMap::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap() {
        let Ok(fd) = entry.unwrap().file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(target) = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")) else {
            continue; // closed meanwhile (the directory's own descriptor)
        };
        let info = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).unwrap_or_default();
        let flags = info
            .lines()
            .find_map(|l| l.strip_prefix("flags:"))
            .map_or(0, |f| u32::from_str_radix(f.trim(), 8).unwrap());
        const CLOEXEC: u32 = 0o2000000;
        table.insert(
            fd,
            (target.to_string_lossy().into_owned(), flags & CLOEXEC != 0),
        );
    }
    table
}

/// The descriptors this process leaves inheritable on purpose (the test
/// harness's: cargo's job server pipe and the like): every child gets
/// them, with or without dummymp.
fn inheritable_here() -> HashMap<i32, String> {
    descriptors_of("self")
        .into_iter()
        .filter(|(fd, (_, cloexec))| *fd > 2 && !cloexec)
        .map(|(fd, (target, _))| (fd, target))
        .collect()
}

/// A task's view of its own descriptors: (number, target).
fn my_descriptors((): ()) -> Vec<(i32, String)> {
    let mut list: Vec<(i32, String)> = descriptors_of("self")
        .into_iter()
        .map(|(fd, (target, _))| (fd, target))
        .collect();
    list.sort();
    list
}

/// Says its pid (log target `keep-descriptors`) and waits to be killed.
fn long_task((): ()) -> Vec<(i32, String)> {
    log::info!(target: "keep-descriptors", "{}", std::process::id());
    loop {
        std::thread::sleep(Duration::from_secs(1000));
    }
}

#[test]
fn a_task_sees_none_of_the_parents_files_sockets_or_other_tasks_pipes() {
    common::install_logger();
    let dir = tempfile::tempdir().unwrap();
    let file_path = dir.path().join("parent-file");
    let _file = std::fs::File::create(&file_path).unwrap();
    let _unix = std::os::unix::net::UnixListener::bind(dir.path().join("parent.sock")).unwrap();
    let _tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (_one, _other) = std::os::unix::net::UnixStream::pair().unwrap();

    let mut mp = nuclear();
    // Another task runs meanwhile: its pipes are open in this process too.
    let neighbour = mp.run(long_task, ()).unwrap();
    let neighbour_pid: u32 = loop {
        if let Some(record) = common::kept_records("keep-descriptors").first() {
            break record.message.rsplit(' ').next().unwrap().parse().unwrap();
        }
        mp.wait(Some(Duration::from_millis(50))).unwrap();
    };
    let lister = mp.run(my_descriptors, ()).unwrap();
    let command = mp
        .run_command(Command::new("ls").arg("-l").arg("/proc/self/fd/"))
        .unwrap();
    while mp.value(lister).is_none() || mp.outcome(command).is_none() {
        mp.wait(Some(Duration::from_millis(50))).unwrap();
    }

    // Everything the parent (this process) has open, the neighbour
    // worker's pipes and socket included, except what it leaves inheritable
    // on purpose.
    let inheritable = inheritable_here();
    let ours: Vec<String> = descriptors_of("self")
        .into_values()
        .filter(|(target, cloexec)| *cloexec && target != "/dev/null")
        .map(|(target, _)| target)
        .collect();
    let neighbours: Vec<String> = descriptors_of(&neighbour_pid.to_string())
        .into_iter()
        .filter(|(fd, (target, _))| *fd > 2 && !target.starts_with('/'))
        .map(|(_, (target, _))| target)
        .collect();
    assert!(
        neighbours.len() >= 5,
        "its socket and pipes: {neighbours:?}"
    );
    assert!(ours.iter().any(|t| t.ends_with("parent-file")), "{ours:?}");
    assert!(ours.iter().filter(|t| t.starts_with("socket:")).count() >= 4);

    let seen = mp.value(lister).unwrap().clone();
    for (fd, target) in &seen {
        if inheritable.get(fd) == Some(target) {
            continue;
        }
        assert!(
            !target.ends_with("parent-file") && !neighbours.contains(target),
            "the task got the parent's or the neighbour's {fd} -> {target}: {seen:?}"
        );
        if target.starts_with("socket:") {
            assert!(!ours.contains(target), "the parent's socket {target}");
        }
    }

    // A command gets 0, 1 and 2 (and `ls` its directory), nothing else.
    let report = mp.report(command).unwrap();
    assert_eq!(report.outcome, Outcome::Exited { code: 0 });
    for line in String::from_utf8_lossy(&report.stdout).lines().skip(1) {
        let (name, target) = line.split_once(" -> ").unwrap();
        let fd: i32 = name.rsplit(' ').next().unwrap().parse().unwrap();
        let allowed = fd <= 2
            || target.starts_with("/proc/")
            || inheritable.get(&fd).map(String::as_str) == Some(target);
        assert!(allowed, "the command got {fd} -> {target}");
    }
    mp.kill(neighbour);
    mp.process_until_done().unwrap();
}

/// Does what task code may do to its standard descriptors, then returns.
fn abuses_its_standard_descriptors(how: String) -> u32 {
    let null = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .unwrap();
    match how.as_str() {
        "raw-writes" => {
            rustix::io::write(rustix::stdio::stdout(), b"raw to 1\n").unwrap();
            rustix::io::write(rustix::stdio::stderr(), b"raw to 2\n").unwrap();
        }
        "close-0" => {
            // SAFETY: descriptor 0 is this process's; nothing uses it after.
            assert_eq!(unsafe { libc::close(0) }, 0);
        }
        "close-1-and-2" => {
            std::io::stdout().flush().unwrap();
            // SAFETY: closes this process's standard output and error;
            // printing afterwards fails quietly (Rust ignores EBADF there).
            assert_eq!(unsafe { libc::close(1) }, 0);
            // SAFETY: as above.
            assert_eq!(unsafe { libc::close(2) }, 0);
            println!("into the void");
        }
        "dup2-over-0-1-2" => {
            for fd in 0..=2 {
                // SAFETY: dup2 onto a standard descriptor number of this
                // process; `null` stays open for the duration of the call.
                assert_eq!(
                    unsafe { libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&null), fd) },
                    fd
                );
            }
            println!("to /dev/null");
        }
        other => panic!("unknown abuse {other}"),
    }
    drop(null);
    42
}

#[test]
fn nothing_a_task_does_to_descriptors_0_1_2_reaches_its_messages() {
    let mut mp = nuclear();
    let cases = ["raw-writes", "close-0", "close-1-and-2", "dup2-over-0-1-2"];
    let tasks: Vec<_> = cases
        .iter()
        .map(|how| {
            mp.run(abuses_its_standard_descriptors, how.to_string())
                .unwrap()
        })
        .collect();
    mp.process_until_done().unwrap();
    for (how, task) in cases.iter().zip(&tasks) {
        assert_eq!(mp.value(*task), Some(&42), "{how}: {:?}", mp.outcome(*task));
    }
    let raw = mp.report(tasks[0]).unwrap();
    assert_eq!(raw.stdout, b"raw to 1\n");
    assert_eq!(raw.stderr, b"raw to 2\n");
}
