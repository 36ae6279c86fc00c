//! Tests that run the built `dummymp` binary.

mod control;
mod inputs;
mod logs;
mod output;
mod replacement;
mod scheduling;
mod signals;
mod slurm;
mod support;
mod usage;
