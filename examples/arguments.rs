//! Functions of several arguments, of none, closures, and your own types
//! as arguments and return values (through the re-exported serde).
//!
//! Run it with `cargo run --release --example arguments`.

use dummymp::serde::{Deserialize, Serialize};

/// Your own types derive serde's traits through `dummymp::serde`: no serde
/// dependency of your own.
#[derive(Debug, Serialize, Deserialize)]
#[serde(crate = "dummymp::serde")]
struct Rectangle {
    width: f64,
    height: f64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(crate = "dummymp::serde")]
struct Summary {
    area: f64,
    label: String,
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_string())
        .unwrap_or_default()
}

fn describe(shape: Rectangle, label: String) -> Summary {
    Summary {
        area: shape.width * shape.height,
        label,
    }
}

fn main() -> Result<(), dummymp::Error> {
    dummymp::init();
    let mut mp = dummymp::DummyMp::new();

    // No argument: `()`.
    let host = mp.run(hostname, ())?;
    // Several arguments: a tuple. Arguments are owned (`String`, not `&str`).
    let summary = mp.run(
        describe,
        (
            Rectangle {
                width: 3.0,
                height: 4.0,
            },
            "a small one".to_string(),
        ),
    )?;
    // A closure that captures nothing, its parameter types written out.
    let product = mp.run(|a: u64, b: u64, c: u64| a * b * c, (2, 3, 7))?;

    mp.process_until_done()?;
    println!("the tasks ran on {:?}", mp.value(host));
    println!("{:?}", mp.value(summary));
    println!("2 * 3 * 7 = {:?}", mp.value(product));
    Ok(())
}
