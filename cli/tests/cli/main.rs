//! Tests that run the built `dummymp` binary.

mod compat;
mod contention;
mod control;
mod explain;
mod faults;
mod hostile_inputs;
mod inputs;
mod logs;
mod output;
mod quoting;
mod replacement;
mod scheduling;
mod signals;
mod slurm;
mod support;
mod terminal_stop;
mod usage;
