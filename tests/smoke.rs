dummymp::enable_test_support!();

fn double(x: u64) -> u64 {
    log::info!("doubling {x}");
    println!("out {x}");
    x * 2
}

#[test]
fn smoke() {
    let mut mp = dummymp::DummyMp::new();
    mp.set_priority_mode(dummymp::Priority::Nuclear);
    for i in 0..5 {
        mp.run(double, i).unwrap();
    }
    mp.process_until_done().unwrap();
    for r in mp.reports() {
        eprintln!("{r:?}");
    }
    assert_eq!(mp.returns::<u64>().len(), 5);
}
