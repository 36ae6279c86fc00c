//! What Slurm's messages say about how a job step ended, turned into the
//! task's [`Outcome`]: the task's own exit behind `srun`'s exit code, a
//! step that Slurm cancelled, a step that never started.
//!
//! `srun` exits with its task's exit code, or 128 + the number of the
//! signal that killed it, but also with 1 or 255 when it could not create
//! the step at all, so its exit code alone is ambiguous. Its messages are
//! not (Slurm 22.05):
//!
//! ```text
//! srun: error: node7: task 0: Exited with exit code 3
//! srun: error: node7: task 0: Segmentation fault
//! slurmstepd-node7: error: *** STEP 12.4 ON node7 CANCELLED AT 2026-01-01T10:00:00 ***
//! slurmstepd-node7: error: *** STEP 12.4 ON node7 CANCELLED AT 2026-01-01T10:00:00 DUE TO TIME LIMIT ***
//! slurmstepd-node7: error: execve(): /no/such/program: No such file or directory
//! srun: error: Unable to create step for job 12: More processors requested than permitted
//! ```

use super::news::StepNews;
use crate::task::{Outcome, ProcessExit};

/// The outcome and process exit of a task whose job step ended with
/// `outcome` and `srun` exiting as `exit`, given what Slurm said about the
/// step. Outcomes the task or we decided (a value, a panic, a timeout, a
/// kill) are kept as they are; a clean exit is kept unless the task's node
/// failed before its end reached `srun` (`srun` then exits with 0).
pub(crate) fn explain(
    outcome: Outcome,
    exit: Option<ProcessExit>,
    news: &StepNews,
) -> (Outcome, Option<ProcessExit>) {
    let explainable = matches!(
        &outcome,
        Outcome::Exited { .. }
            | Outcome::ExitedEarly { .. }
            | Outcome::Signaled { .. }
            | Outcome::Failed { .. }
    );
    if !explainable || news.is_empty() {
        return (outcome, exit);
    }
    // Its node failed and its end never reached srun: it is lost, however
    // srun exited. (Steps on the other nodes that Slurm then cancelled
    // heard of their tasks' ends, and are explained below.)
    if news.task_status.is_none()
        && let Some(node) = &news.failed_node
    {
        return (Outcome::NodeLost { node: node.clone() }, None);
    }
    if outcome == (Outcome::Exited { code: 0 }) {
        return (outcome, exit);
    }
    let said = &news.lines;
    let task_exit = news
        .task_status
        .map(exit_of_wait_status)
        .or_else(|| said.iter().rev().find_map(|line| task_exit(line, exit)))
        .or(exit);
    if let Some(ended) = said.iter().rev().find_map(|line| ended_by_slurm(line)) {
        let reason = format!("Slurm ended the job step: {ended}");
        return (Outcome::Failed { reason }, task_exit);
    }
    if let Some(line) = said.iter().find(|line| line.contains("execve()")) {
        let error = format!(
            "the job step could not start its program: {}",
            message_of(line)
        );
        return (Outcome::FailedToStart { error, errno: None }, exit);
    }
    let task_ended =
        news.task_status.is_some() || said.iter().any(|line| line.contains(": task 0: "));
    match task_exit {
        Some(task_exit) if task_ended => {
            let outcome = match (&outcome, task_exit) {
                (Outcome::Failed { .. }, _) => outcome,
                (Outcome::ExitedEarly { .. }, ProcessExit::Code(code)) => {
                    Outcome::ExitedEarly { code }
                }
                (_, ProcessExit::Code(code)) => Outcome::Exited { code },
                (_, ProcessExit::Signal(signal)) => Outcome::Signaled { signal },
            };
            (outcome, Some(task_exit))
        }
        _ => {
            // srun said something, but nothing about a task: it could not
            // run the step.
            let errors: Vec<&str> = said
                .iter()
                .filter(|line| line.starts_with("srun: error: "))
                .map(|line| message_of(line))
                .collect();
            if errors.is_empty() || matches!(outcome, Outcome::Failed { .. }) {
                return (outcome, exit);
            }
            let error = format!("srun could not run the job step: {}", errors.join("; "));
            (Outcome::FailedToStart { error, errno: None }, exit)
        }
    }
}

/// A wait status (as `waitpid` gives it) as an exit code or a signal.
fn exit_of_wait_status(status: i32) -> ProcessExit {
    match status & 0x7f {
        0 => ProcessExit::Code((status >> 8) & 0xff),
        signal => ProcessExit::Signal(signal),
    }
}

/// How the task itself ended, from a line such as
/// `srun: error: node7: task 0: Exited with exit code 3` (a code) or
/// `... task 0: Killed` (a signal: `srun`'s exit code less 128).
fn task_exit(line: &str, srun_exit: Option<ProcessExit>) -> Option<ProcessExit> {
    let (_, about_task) = line.split_once(": task 0: ")?;
    if let Some(code) = about_task.strip_prefix("Exited with exit code ") {
        return code.trim().parse().ok().map(ProcessExit::Code);
    }
    match srun_exit {
        Some(ProcessExit::Code(code)) if (129..=128 + 64).contains(&code) => {
            Some(ProcessExit::Signal(code - 128))
        }
        _ => None,
    }
}

/// What Slurm says when it ended a step: the text of a line such as
/// `slurmstepd-node7: error: *** STEP 12.4 ON node7 CANCELLED AT ... ***`.
fn ended_by_slurm(line: &str) -> Option<String> {
    if !line.contains(" CANCELLED AT ") {
        return None;
    }
    let text = message_of(line);
    let text = text.trim_start_matches('*').trim_end_matches('*').trim();
    Some(text.to_string())
}

/// A line without its `srun: error: ` (or `slurmstepd-x: error: `) prefix.
fn message_of(line: &str) -> &str {
    match line.split_once(": error: ") {
        Some((_, message)) => message,
        None => line.split_once(": ").map_or(line, |(_, message)| message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Slurm said, as the messages' reader would have read `said`.
    fn lines(said: &[&str]) -> StepNews {
        let mut news = StepNews::default();
        for line in said {
            news.take(line);
        }
        news
    }

    #[test]
    fn the_tasks_own_exit_code_is_kept() {
        let said = lines(&["srun: error: vm: task 0: Exited with exit code 3"]);
        let code = Some(ProcessExit::Code(3));
        assert_eq!(
            explain(Outcome::Exited { code: 3 }, code, &said),
            (Outcome::Exited { code: 3 }, code)
        );
        // A task that exits with 137 by itself was not killed.
        let said = lines(&["srun: error: vm: task 0: Exited with exit code 137"]);
        let code = Some(ProcessExit::Code(137));
        assert_eq!(
            explain(Outcome::Exited { code: 137 }, code, &said),
            (Outcome::Exited { code: 137 }, code)
        );
    }

    #[test]
    fn a_task_killed_by_a_signal_is_signaled() {
        let said = lines(&["srun: error: vm: task 0: Segmentation fault"]);
        assert_eq!(
            explain(
                Outcome::Exited { code: 139 },
                Some(ProcessExit::Code(139)),
                &said
            ),
            (
                Outcome::Signaled { signal: 11 },
                Some(ProcessExit::Signal(11))
            )
        );
    }

    #[test]
    fn the_wait_status_srun_received_is_the_tasks_exit() {
        let finished = |status: &str| {
            format!(
                "srun: launch/slurm: _task_finish: Received task exit notification for 1 \
                 task of StepId=4.1 (status={status})."
            )
        };
        let launched = "srun: launching StepId=4.1 on host node3, 1 tasks: 0";
        // srun exits with 1 both for a task's exit code 1 and when it
        // cannot create a step; the status tells.
        let said = lines(&[
            launched,
            &finished("0x0100"),
            "srun: error: node3: task 0: Exited with exit code 1",
        ]);
        assert_eq!(
            explain(
                Outcome::Exited { code: 1 },
                Some(ProcessExit::Code(1)),
                &said
            ),
            (Outcome::Exited { code: 1 }, Some(ProcessExit::Code(1)))
        );
        // A task that exited with 130 by itself was not interrupted.
        let said = lines(&[launched, &finished("0x8200")]);
        assert_eq!(
            explain(
                Outcome::Exited { code: 130 },
                Some(ProcessExit::Code(130)),
                &said
            ),
            (Outcome::Exited { code: 130 }, Some(ProcessExit::Code(130)))
        );
        let said = lines(&[
            launched,
            &finished("0x0006"),
            "srun: error: node3: task 0: Aborted",
        ]);
        assert_eq!(
            explain(
                Outcome::Exited { code: 134 },
                Some(ProcessExit::Code(134)),
                &said
            ),
            (
                Outcome::Signaled { signal: 6 },
                Some(ProcessExit::Signal(6))
            )
        );
    }

    #[test]
    fn a_step_slurm_cancelled_says_so() {
        for (line, says) in [
            (
                "slurmstepd-vm: error: *** STEP 2.0 ON vm CANCELLED AT 2026-11-26T12:11:57 ***",
                "Slurm ended the job step: STEP 2.0 ON vm CANCELLED AT 2026-11-26T12:11:57",
            ),
            (
                "slurmstepd: error: *** STEP 2.0 ON vm CANCELLED AT 2026-11-26T12:11:57 DUE TO TIME LIMIT ***",
                "DUE TO TIME LIMIT",
            ),
        ] {
            let said = lines(&[line, "srun: error: vm: task 0: Killed"]);
            let (outcome, exit) = explain(
                Outcome::Exited { code: 137 },
                Some(ProcessExit::Code(137)),
                &said,
            );
            let Outcome::Failed { reason } = outcome else {
                panic!("{outcome:?}");
            };
            assert!(reason.contains(says), "{reason}");
            assert_eq!(exit, Some(ProcessExit::Signal(9)));
        }
    }

    #[test]
    fn a_task_whose_node_failed_is_lost_though_srun_exits_with_0() {
        // As srun -v said it, its node killed 2.5 s in (Slurm 22.05).
        let lost = lines(&[
            "srun: jobid 27: nodes(3):`node[1-3]', cpu counts: 2(x3)",
            "srun: launching StepId=27.0 on host node2, 1 tasks: 0",
            "srun: launch/slurm: _task_start: Node node2, 1 tasks started",
            "srun: error: Node failure on node2",
            "srun: Complete StepId=27.0+0 received",
        ]);
        let node2 = Outcome::NodeLost {
            node: "node2".into(),
        };
        // A command, and a worker that never sent its result.
        for outcome in [
            Outcome::Exited { code: 0 },
            Outcome::Failed {
                reason: "the worker's last message was cut short".into(),
            },
        ] {
            assert_eq!(
                explain(outcome, Some(ProcessExit::Code(0)), &lost),
                (node2.clone(), None)
            );
        }
        // A step on a node that stayed up, cancelled when the allocation
        // was revoked: its task's end is known, and it was not lost.
        let cancelled = lines(&[
            "srun: launching StepId=27.1 on host node3, 1 tasks: 0",
            "srun: Complete StepId=27.0+0 received",
            "slurmstepd-node3: error: *** STEP 27.1 ON node3 CANCELLED AT 2026-12-05T19:56:01 DUE TO NODE FAILURE, SEE SLURMCTLD LOG FOR DETAILS ***",
            "srun: Job step aborted: Waiting up to 32 seconds for job step to finish.",
            "srun: launch/slurm: _task_finish: Received task exit notification for 1 task of StepId=27.1 (status=0x000f).",
            "srun: error: node3: task 0: Terminated",
        ]);
        let (outcome, exit) = explain(
            Outcome::Exited { code: 143 },
            Some(ProcessExit::Code(143)),
            &cancelled,
        );
        let Outcome::Failed { reason } = outcome else {
            panic!("{outcome:?}");
        };
        assert!(reason.contains("DUE TO NODE FAILURE"), "{reason}");
        assert_eq!(exit, Some(ProcessExit::Signal(15)));
        // A value that came back before the node failed stays.
        assert_eq!(explain(Outcome::Returned, None, &lost).0, Outcome::Returned);
    }

    #[test]
    fn a_step_that_could_not_start_failed_to_start() {
        let said = lines(&[
            "slurmstepd-vm: error: execve(): /nonexistent: No such file or directory",
            "srun: error: vm: task 0: Exited with exit code 2",
        ]);
        let (outcome, _) = explain(
            Outcome::Exited { code: 2 },
            Some(ProcessExit::Code(2)),
            &said,
        );
        assert_eq!(
            outcome,
            Outcome::FailedToStart {
                error: "the job step could not start its program: execve(): /nonexistent: \
                        No such file or directory"
                    .into(),
                errno: None
            }
        );
        let said = lines(&[
            "srun: error: Unable to create step for job 3: More processors requested than permitted",
        ]);
        let (outcome, _) = explain(
            Outcome::Exited { code: 1 },
            Some(ProcessExit::Code(1)),
            &said,
        );
        let Outcome::FailedToStart { error, .. } = outcome else {
            panic!("{outcome:?}");
        };
        assert!(error.starts_with("srun could not run the job step: Unable to create step"));
    }

    #[test]
    fn what_the_task_or_we_decided_stays() {
        let said = lines(&["slurmstepd-vm: error: *** STEP 2.0 ON vm CANCELLED AT 2026 ***"]);
        for outcome in [
            Outcome::Returned,
            Outcome::Killed,
            Outcome::TimedOut,
            Outcome::Exited { code: 0 },
        ] {
            assert_eq!(explain(outcome.clone(), None, &said).0, outcome);
        }
        let silent = explain(
            Outcome::Exited { code: 4 },
            Some(ProcessExit::Code(4)),
            &StepNews::default(),
        );
        assert_eq!(silent.0, Outcome::Exited { code: 4 });
    }
}
