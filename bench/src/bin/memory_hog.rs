//! `memory_hog BYTES`: a foreign program that holds memory, for the memory
//! admission part of the politeness scenario. Takes BYTES and writes every
//! page (so that they are resident), prints one JSON line once they are,
//! then holds them until its standard input closes (or it is killed). It
//! asks the kernel to pick it first should memory run out
//! (`oom_score_adj` 1000), so that it never costs another program on the
//! machine its life.

use std::io::Read;
use std::time::Instant;

use serde::Serialize;

#[derive(Serialize)]
struct Report {
    bytes: u64,
    oom_score_adj_set: bool,
    touch_s: f64,
}

fn main() {
    let bytes: u64 = dummymp_bench::arg(1, "bytes", 0);
    let oom_score_adj_set = std::fs::write("/proc/self/oom_score_adj", "1000").is_ok();
    let t0 = Instant::now();
    let held = dummymp_bench::touched_bytes(bytes);
    dummymp_bench::emit(&Report {
        bytes,
        oom_score_adj_set,
        touch_s: t0.elapsed().as_secs_f64(),
    });
    // Held until the runner closes our standard input (or ends).
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    std::hint::black_box(&held);
}
