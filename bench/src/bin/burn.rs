//! `burn SECONDS`: burns CPU until this process has used SECONDS of CPU
//! time (default 0.5), whatever the contention. The CPU-bound job of the
//! command-line contenders (xargs, GNU parallel, the dummymp CLI). Extra
//! arguments are ignored, so `xargs -n1` may append one.

fn main() {
    let seconds: f64 = dummymp_bench::arg(1, "seconds", 0.5);
    dummymp_bench::burn_cpu(seconds);
}
