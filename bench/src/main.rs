use std::time::Instant;
fn noop(x: u32) -> u32 {
    x
}
fn main() {
    dummymp::init();
    if std::env::args().nth(1).as_deref() == Some("exit") {
        return;
    }
    let n: u32 = std::env::args()
        .nth(1)
        .map(|s| s.parse().unwrap())
        .unwrap_or(2000);
    let t = Instant::now();
    let mut mp = dummymp::DummyMp::new();
    mp.set_priority_mode(dummymp::Priority::Nuclear);
    mp.set_max_processes(2);
    for i in 0..n {
        mp.run(noop, i).unwrap();
    }
    mp.process_until_done().unwrap();
    let e = t.elapsed();
    assert_eq!(mp.returns::<u32>().len(), n as usize);
    println!(
        "dummymp: {:.3} ms/task",
        e.as_secs_f64() * 1000.0 / n as f64
    );
}
