//! One function over many inputs, the values back in order: `map`, the
//! habit of Python's `Pool.map` and rayon's `par_iter().map().collect()`.
//!
//! Run it with `cargo run --release --example map`.

/// Counts the primes below `limit`, slowly: a CPU-bound task.
fn count_primes(limit: u64) -> usize {
    (2..limit)
        .filter(|&n| (2..).take_while(|d| d * d <= n).all(|d| n % d != 0))
        .count()
}

/// Parses a number, and panics on anything else.
fn parse(text: String) -> i64 {
    text.trim().parse().expect("a number")
}

fn main() -> Result<(), dummymp::Error> {
    dummymp::init(); // first line of main: a worker runs its task here
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();

    let mut mp = dummymp::DummyMp::new();
    // One task per input; as many at once as the CPUs others leave free.
    let counts = mp.map(count_primes, [10_000, 100_000, 200_000, 300_000])?;
    println!("primes below 10k, 100k, 200k, 300k: {counts:?}");

    // When some tasks fail, the error names each one and how it ended;
    // the values of the others stay in the queue.
    let inputs = ["1", "two", "3"].map(String::from);
    match mp.map(parse, inputs) {
        Ok(values) => println!("parsed: {values:?}"),
        Err(dummymp::Error::TasksFailed { failed, of }) => {
            println!("{} of {of} inputs failed:", failed.len());
            for failure in &failed {
                println!("  {failure}");
            }
            println!("the others: {:?}", mp.take_returns::<i64>()?);
        }
        Err(other) => return Err(other),
    }

    // Queue many without waiting: the handles come back, in order.
    let handles = mp.run_many(count_primes, [1_000, 2_000])?;
    mp.process_until_done()?;
    for handle in handles {
        println!("task {} returned {:?}", handle.index(), mp.value(handle));
    }
    Ok(())
}
