//! The trivial Rust child: an empty `main`. Spawning it 2 at a time is the
//! floor for a fresh Rust process per task (a dummymp worker is a
//! re-executed Rust program). It deliberately does nothing, not even
//! `dummymp::init()`.

fn main() {}
