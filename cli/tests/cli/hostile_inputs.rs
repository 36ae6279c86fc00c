//! Hostile inputs reach the command as exactly one argument each, never
//! interpreted, and dummymp's memory does not grow with the number of
//! input lines.
//!
//! The command is a script that prints each of its arguments followed by a
//! NUL byte, so that the test sees the argument vector exactly.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Command;

use crate::support::{binary, write_argv_printer};

/// Values a shell would do something with.
const HOSTILE: &[&[u8]] = &[
    b"a; touch pwned",
    b"$(touch pwned)",
    b"`touch pwned`",
    b"' ; touch pwned ; '",
    b"\" ; touch pwned ; \"",
    b"\\",
    b"*",
    b"~",
    b"a b  c",
    b" leading and trailing ",
    b"\ttab",
    b"-n",
    b"--",
    b"{}",
    b"{.}",
    b"%s%d",
    b"&& touch pwned",
    b"| touch pwned",
    b">pwned",
    b"<pwned",
    b"#comment",
    b"$HOME",
    b"${IFS}",
    b"!!",
    b"\xff\xfe invalid UTF-8 \xc3",
    "ünïcødé".as_bytes(),
    b"",
];

/// Runs `dummymp --priority nuclear -k ARGS` in `dir` with `stdin`.
fn run_with_input(dir: &Path, args: &[&[u8]], stdin: &[u8]) -> std::process::Output {
    let input = dir.join("stdin.data");
    std::fs::write(&input, stdin).unwrap();
    Command::new(binary())
        .args(["--priority", "nuclear", "-k"])
        .args(args.iter().map(|a| std::ffi::OsStr::from_bytes(a)))
        .current_dir(dir)
        .stdin(std::fs::File::open(&input).unwrap())
        .output()
        .unwrap()
}

/// dummymp's peak resident memory in kB, as its last job (an argument
/// printer run directly, so dummymp is its parent) saw it.
fn peak_seen_by_last_job(dir: &Path) -> u64 {
    std::fs::read_to_string(dir.join("hwm"))
        .expect("a job recorded dummymp's peak")
        .trim()
        .parse()
        .unwrap()
}

/// Splits NUL-terminated arguments.
fn arguments(output: &[u8]) -> Vec<Vec<u8>> {
    let mut args: Vec<Vec<u8>> = output.split(|&b| b == 0).map(<[u8]>::to_vec).collect();
    assert_eq!(args.pop(), Some(Vec::new()), "ends with a NUL");
    args
}

fn assert_nothing_interpreted(dir: &Path) {
    assert!(!dir.join("pwned").exists(), "an input ran as a command");
}

#[test]
fn hostile_values_from_null_separated_input_are_one_argument_each() {
    for template in ["./argv {}", "./argv {} | cat"] {
        let dir = tempfile::tempdir().unwrap();
        write_argv_printer(&dir.path().join("argv"));
        let mut values: Vec<Vec<u8>> = HOSTILE.iter().map(|v| v.to_vec()).collect();
        values.push(b"two\nlines".to_vec());
        values.push(b"\n".to_vec());
        let mut stdin = Vec::new();
        for value in &values {
            stdin.extend_from_slice(value);
            stdin.push(0);
        }
        let output = run_with_input(dir.path(), &[b"-0", template.as_bytes()], &stdin);
        assert!(output.status.success(), "{template}: {output:?}");
        assert_eq!(arguments(&output.stdout), values, "{template}");
        assert_nothing_interpreted(dir.path());
    }
}

#[test]
fn hostile_values_from_lines_and_sources_are_one_argument_each() {
    let dir = tempfile::tempdir().unwrap();
    write_argv_printer(&dir.path().join("argv"));
    let mut file = Vec::new();
    for value in HOSTILE {
        file.extend_from_slice(value);
        file.push(b'\n');
    }
    std::fs::write(dir.path().join("values.txt"), &file).unwrap();
    // Two sources: every value paired with `x`, by number.
    for template in ["./argv {1} {2}", "./argv {1} {2} ; true"] {
        let output = run_with_input(
            dir.path(),
            &[template.as_bytes(), b"::::", b"values.txt", b":::", b"x"],
            b"",
        );
        assert!(output.status.success(), "{template}: {output:?}");
        let expected: Vec<Vec<u8>> = HOSTILE
            .iter()
            .flat_map(|v| [v.to_vec(), b"x".to_vec()])
            .collect();
        assert_eq!(arguments(&output.stdout), expected, "{template}");
        assert_nothing_interpreted(dir.path());
    }
}

#[test]
fn an_argument_of_100_kib_passes_whole_and_one_over_the_systems_limit_fails_its_job_only() {
    // Linux refuses a single argument longer than 128 KiB (E2BIG).
    let dir = tempfile::tempdir().unwrap();
    write_argv_printer(&dir.path().join("argv"));
    let big = vec![b'b'; 100 * 1024];
    let huge = vec![b'h'; 1 << 20];
    let mut stdin = Vec::new();
    for value in [&b"small"[..], &big, &huge, b"last"] {
        stdin.extend_from_slice(value);
        stdin.push(b'\n');
    }
    for template in ["./argv {}", "./argv {} | cat"] {
        let output = run_with_input(dir.path(), &[template.as_bytes()], &stdin);
        assert_eq!(output.status.code(), Some(1), "one job failed: {output:?}");
        assert_eq!(
            arguments(&output.stdout),
            [b"small".to_vec(), big.clone(), b"last".to_vec()],
            "{template}"
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("Argument list too long") && stderr.len() < 4096,
            "{template}: the error is named, the value not repeated: {}",
            &stderr[..stderr.len().min(300)]
        );
    }
}

#[test]
fn lines_of_10_mb_fail_their_jobs_with_the_error_named_and_memory_stays_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let line = vec![b'l'; 10_000_000];
    let mut stdin = Vec::new();
    for _ in 0..4 {
        stdin.extend_from_slice(&line);
        stdin.push(b'\n');
    }
    stdin.extend_from_slice(b"short\n");
    write_argv_printer(&dir.path().join("argv"));
    let output = run_with_input(dir.path(), &[b"-j", b"1", b"./argv"], &stdin);
    assert_eq!(output.status.code(), Some(4), "{:?}", output.status);
    assert_eq!(output.stdout, b"short\0");
    let peak_kib = peak_seen_by_last_job(dir.path());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.matches("Argument list too long").count(), 4);
    assert!(stderr.len() < 4096, "the values are not repeated");
    // 40 MB of input went through; one line at a time is held (and its
    // command), not all of them.
    eprintln!("dummymp peak RSS with 10 MB lines: {peak_kib} kB");
    assert!(peak_kib < 64 * 1024, "peak {peak_kib} kB");
}

#[test]
fn many_empty_lines_are_one_empty_argument_each_and_memory_does_not_grow_with_them() {
    let dir = tempfile::tempdir().unwrap();
    write_argv_printer(&dir.path().join("argv"));
    // The full 1,000,000 runs in bench/soak/run.sh; here few enough for
    // a debug build on 2 cores.
    let count = 3_000;
    let stdin = vec![b'\n'; count];
    let output = run_with_input(dir.path(), &[b"-j", b"1", b"./argv"], &stdin);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        output.stdout,
        vec![0u8; count],
        "one empty argument per line"
    );
    let peak_kib = peak_seen_by_last_job(dir.path());
    eprintln!("dummymp peak RSS with {count} empty lines: {peak_kib} kB");
    assert!(peak_kib < 32 * 1024, "peak {peak_kib} kB");
}

/// The template fuzzer's seeds and every crash it found (kept in
/// `fuzz/regressions/cli_template/` once fixed), replayed through the
/// program with `--dry-run`: a usage error is fine, a panic is not.
#[test]
fn the_template_fuzzers_inputs_are_handled() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("fuzz");
    let mut files = Vec::new();
    for dir in ["seeds/cli_template", "regressions/cli_template"] {
        if let Ok(entries) = std::fs::read_dir(root.join(dir)) {
            files.extend(entries.flatten().map(|e| e.path()));
        }
    }
    assert!(!files.is_empty(), "the seeds are in {}", root.display());
    let dir = tempfile::tempdir().unwrap();
    for file in files {
        // The fuzz target's layout: a selector byte (sources, words), then
        // NUL-separated words and input values.
        let data = std::fs::read(&file).unwrap();
        let Some((&selector, rest)) = data.split_first() else {
            continue;
        };
        let sources = usize::from(selector % 4);
        let word_count = usize::from(selector / 4 % 4) + 1;
        let fields: Vec<&[u8]> = rest.split(|&b| b == 0).collect();
        let (words, inputs) = fields.split_at(word_count.min(fields.len()));
        let mut command = Command::new(binary());
        command.arg("--dry-run");
        command.args(words.iter().map(|w| std::ffi::OsStr::from_bytes(w)));
        for source in 0..sources.max(1) {
            command.arg(":::");
            command.arg(std::ffi::OsStr::from_bytes(
                inputs.get(source).copied().unwrap_or(b"x"),
            ));
        }
        let output = command.current_dir(dir.path()).output().unwrap();
        assert!(
            matches!(output.status.code(), Some(0 | 255)),
            "{}: {output:?}",
            file.display()
        );
    }
}

/// Standard input is read as jobs need it: after 2,000 jobs, dummymp has
/// read a chunk or two of a 4 MiB input, not all of it (which would make
/// its memory grow with the input: ~23 bytes per empty line).
#[test]
fn standard_input_is_read_as_jobs_need_it() {
    let dir = tempfile::tempdir().unwrap();
    // Jobs 1 to 1,999 end at once; job 2,000 waits until dummymp sleeps in
    // poll(2) (no event says so: it looks), notes how far dummymp has read
    // its standard input, and stops the run. Later jobs hold their slot
    // until then (dummymp ends them when it is stopped), so that only job
    // 2,000 writes `probed`.
    let probe = dir.path().join("probe");
    std::fs::write(
        &probe,
        "#!/bin/sh\n\
         [ \"$1\" -lt 2000 ] && exit 0\n\
         [ \"$1\" -gt 2000 ] && exec sleep 600\n\
         while :; do case \"$(cat /proc/$PPID/wchan)\" in *poll*) break ;; esac; sleep 0.01; done\n\
         sed -n 's/^pos:[[:space:]]*//p' /proc/$PPID/fdinfo/0 > probed\n\
         kill -TERM $PPID\n",
    )
    .unwrap();
    let mut permissions = std::fs::metadata(&probe).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&probe, permissions).unwrap();
    let input = vec![b'\n'; 4 << 20];
    let output = run_with_input(dir.path(), &[b"-j", b"2", b"./probe {#}"], &input);
    assert_eq!(output.status.code(), Some(143), "{output:?}");
    let read: usize = std::fs::read_to_string(dir.path().join("probed"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(read < 1 << 20, "{read} of {} bytes read ahead", input.len());
}
