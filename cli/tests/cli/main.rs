//! Tests that run the built `dummymp` binary.

#[path = "../../../tests/common/cgroup.rs"]
mod cgroup;
#[path = "../../../tests/common/cluster.rs"]
mod cluster;

mod compat;
mod contention;
mod control;
mod explain;
mod faults;
mod hostile_inputs;
mod inputs;
mod logs;
mod memory;
mod output;
mod quoting;
mod replacement;
mod scheduling;
mod signals;
mod slurm;
mod spill;
mod support;
mod terminal_stop;
mod usage;
