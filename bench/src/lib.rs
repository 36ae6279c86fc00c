//! Shared pieces of the dummymp benchmark programs.
//!
//! Each program in `src/bin/` measures one thing and prints one JSON line
//! with the result on standard output; `bench/run.sh` runs them round by
//! round next to the other contenders and writes `BENCHMARKS.md`. Nothing
//! here is a test: the benchmarks never run inside `cargo test`.

use std::time::Duration;

use rustix::time::{ClockId, clock_gettime};
use serde::Serialize;

/// CPU time this process has used so far, all threads, user and system
/// (`CLOCK_PROCESS_CPUTIME_ID`, the same sum `getrusage(RUSAGE_SELF)`
/// reports).
pub fn process_cpu_time() -> Duration {
    let t = clock_gettime(ClockId::ProcessCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// `CLOCK_MONOTONIC` in nanoseconds: the same clock in every process, so a
/// value read in a child can be compared with one read in its parent.
pub fn monotonic_ns() -> u64 {
    let t = clock_gettime(ClockId::Monotonic);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// Burns CPU in a tight loop until this process has used `seconds` more
/// CPU time than when it was called, so that the work is the same however
/// much the CPU is shared. Returns the CPU time actually used.
pub fn burn_cpu(seconds: f64) -> f64 {
    let start = process_cpu_time();
    let goal = Duration::from_secs_f64(seconds);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    loop {
        for _ in 0..10_000 {
            // xorshift: cheap work the optimiser cannot drop.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        std::hint::black_box(x);
        let used = process_cpu_time().saturating_sub(start);
        if used >= goal {
            return used.as_secs_f64();
        }
    }
}

/// A buffer of `bytes` bytes with every page written, so that it is
/// resident (counted in the machine's used memory), not merely reserved.
/// Transparent huge pages are asked for (where the kernel leaves that to
/// the program), which makes touching gigabytes several times faster.
pub fn touched_bytes(bytes: u64) -> Vec<u8> {
    let mut buffer = vec![0u8; usize::try_from(bytes).unwrap_or(usize::MAX)];
    ask_for_huge_pages(&mut buffer);
    // 4 KiB steps reach every page whatever the page size.
    for byte in buffer.iter_mut().step_by(4096) {
        *byte = 1;
    }
    std::hint::black_box(&mut buffer);
    buffer
}

/// Advises the kernel to back the whole pages inside `buffer` with huge
/// pages; a kernel that declines or does not know the advice changes
/// nothing, so the answer is ignored.
fn ask_for_huge_pages(buffer: &mut [u8]) {
    const PAGE: usize = 4096;
    let start = buffer.as_mut_ptr() as usize;
    let aligned = start.next_multiple_of(PAGE);
    let end = (start + buffer.len()) / PAGE * PAGE;
    if end <= aligned {
        return;
    }
    // SAFETY: the range lies inside `buffer`, which this function borrows
    // mutably; the advice only changes how the kernel backs those pages,
    // never their contents or whether they are mapped.
    let _ = unsafe {
        rustix::mm::madvise(
            aligned as *mut std::ffi::c_void,
            end - aligned,
            rustix::mm::Advice::LinuxHugepage,
        )
    };
}

/// Prints `value` as one line of JSON on standard output.
///
/// # Panics
///
/// When `value` cannot be serialised (never for the plain structs used
/// here).
pub fn emit<T: Serialize>(value: &T) {
    println!(
        "{}",
        serde_json::to_string(value).expect("benchmark results serialise to JSON")
    );
}

/// The `index`-th command-line argument parsed as `T`, or `default` when
/// it is absent.
///
/// # Panics
///
/// With a usage message when the argument is present but does not parse.
pub fn arg<T: std::str::FromStr>(index: usize, name: &str, default: T) -> T {
    match std::env::args().nth(index) {
        None => default,
        Some(text) => text.parse().unwrap_or_else(|_| {
            eprintln!("argument {index} ({name}): cannot parse {text:?}");
            std::process::exit(2)
        }),
    }
}

/// Parses a priority mode name (`nuclear`, `normal`, ...), exiting with a
/// message when it is not one.
pub fn priority(name: &str) -> dummymp::Priority {
    name.parse().unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    })
}

/// The `index`-th command-line argument as a worker choice: `"fresh"` (a
/// fresh worker per task, the default when it is absent) or `"reuse"`
/// (reused workers), exiting with a message when it is neither.
pub fn workers(index: usize) -> &'static str {
    match std::env::args().nth(index).as_deref() {
        None | Some("fresh") => "fresh",
        Some("reuse") => "reuse",
        Some(other) => {
            eprintln!("argument {index} (workers): fresh or reuse, not {other:?}");
            std::process::exit(2)
        }
    }
}

/// Median of `values` (the mean of the middle two for an even count); 0
/// for none.
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}
