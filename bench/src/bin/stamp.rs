//! `stamp [SECONDS]`: prints `CLOCK_MONOTONIC` in nanoseconds as it starts,
//! then burns SECONDS (default 0.2) of CPU time. The job of the dummymp CLI
//! when the politeness scenario asks when its first job started. Extra
//! arguments are ignored, so a job input may be appended.

fn main() {
    let started = dummymp_bench::monotonic_ns();
    println!("{started}");
    let seconds: f64 = dummymp_bench::arg(1, "seconds", 0.2);
    dummymp_bench::burn_cpu(seconds);
}
