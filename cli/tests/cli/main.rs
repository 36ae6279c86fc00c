//! Tests that run the built `dummymp` binary.

mod control;
mod faults;
mod hostile_inputs;
mod inputs;
mod logs;
mod output;
mod replacement;
mod scheduling;
mod signals;
mod support;
mod usage;
