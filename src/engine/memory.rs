//! The memory side of starting and ending tasks: which estimate holds the
//! task at the head of the queue back (and whether it can ever start), and
//! what an attempt's end says about the memory its kind needs.
//!
//! A *stated* estimate ([`TaskOptions::memory`](crate::TaskOptions::memory),
//! [`Scheduler::set_memory_per_task`]) is the caller's word: a task that
//! cannot have that much even with none of ours running is reported at
//! once. A *learned* one (the largest recent peak of the same function or
//! command) is a guess: it keeps a task from starting beside ours, but
//! never refuses one, and with none of ours running the task starts as one
//! of unknown size. Nothing of ours waits for ever: while ours run, one of
//! them ends; with none running, inside a memory cgroup of ours a task
//! starts or is reported, and on the machine's memory it waits only for
//! other users to free theirs (the scheduler's decision says so: limit
//! `Memory` with none of ours running).

use crate::scheduler::Scheduler;
use crate::scheduler::memory::Bytes;
use crate::task::{Outcome, TaskSpec};
use crate::{MemoryFit, Priority};

/// What memory says about the task at the head of the queue.
pub(super) enum HeadMemory {
    /// It starts when the scheduler's slots allow, for this estimate.
    Estimate(Option<u64>),
    /// It can never start, for this reason.
    Never(String),
}

/// The estimate for `spec` with `running` of ours running; `settled`: none
/// runs and nothing of ours is still being swept up (the memory of ours
/// that can be freed is free).
pub(super) fn head_memory(
    scheduler: &Scheduler,
    spec: &TaskSpec,
    running: usize,
    settled: bool,
) -> HeadMemory {
    let stated = spec.options.memory.or_else(|| scheduler.memory_per_task());
    if let Some(bytes) = stated {
        let ours = if settled { 0 } else { running.max(1) };
        return match scheduler.memory_never_fits(ours, bytes) {
            (MemoryFit::Never, status) => {
                let facts = status.map_or_else(String::new, |status| format!(" ({status})"));
                HeadMemory::Never(never_fits_message(bytes, scheduler.priority(), &facts))
            }
            _ => HeadMemory::Estimate(Some(bytes)),
        };
    }
    if running == 0 {
        // Waiting for a learned size with none of ours running would be
        // waiting for other users only (for ever, where the memory held is
        // our own process's or a cgroup's page cache).
        return HeadMemory::Estimate(None);
    }
    HeadMemory::Estimate(scheduler.learned_memory(spec.memory_key()))
}

/// Why a task stated to need `bytes` is not started.
fn never_fits_message(bytes: u64, priority: Priority, facts: &str) -> String {
    format!(
        "it needs {} of memory, more than this machine can ever give a task in \
         {priority} mode, even with none of ours running{facts}: state a smaller \
         need, or run it where more memory is free",
        Bytes(bytes)
    )
}

/// An attempt's outcome once the out-of-memory killer is considered: a
/// `SIGKILL` that we did not send (a task we end has another outcome) to
/// its process, or to a process it waited for (it exited with 128 + 9, as
/// a shell does), while the kernel counted an out-of-memory kill not yet
/// put down to another task, becomes [`Outcome::OutOfMemory`].
pub(super) fn explain_oom(scheduler: &mut Scheduler, outcome: Outcome) -> Outcome {
    const SIGKILL: i32 = 9;
    let killed = matches!(
        outcome,
        Outcome::Signaled { signal: SIGKILL } | Outcome::Exited { code: 137 }
    );
    if !killed {
        return outcome;
    }
    match scheduler.out_of_memory_kill() {
        Some(limit) => Outcome::OutOfMemory { limit },
        None => outcome,
    }
}

/// The peak to learn from an attempt that ended with `outcome` and peaked
/// at `peak` bytes: one the out-of-memory killer ended needed at least all
/// there was, whatever it reached (a learned size never refuses a task, so
/// this only keeps the next ones of its kind from starting beside ours).
pub(super) fn peak_to_learn(outcome: &Outcome, peak: Option<u64>) -> Option<u64> {
    match outcome {
        Outcome::OutOfMemory { limit: Some(limit) } => Some(*limit),
        _ => peak,
    }
}
