//! Starting tasks as Slurm job steps.

// Not used yet: the Slurm launcher will read the allocation with it.
#[allow(dead_code)]
pub(crate) mod allocation;
