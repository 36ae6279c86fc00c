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

use crate::task::{Outcome, ProcessExit};

/// The outcome and process exit of a task whose job step ended with
/// `outcome` and `srun` exiting as `exit`, given what Slurm `said` (its
/// lines, oldest first). Outcomes the task or we decided (a value, a
/// panic, a timeout, a kill, a clean exit) are kept as they are.
pub(crate) fn explain(
    outcome: Outcome,
    exit: Option<ProcessExit>,
    said: &[String],
) -> (Outcome, Option<ProcessExit>) {
    let explainable = match &outcome {
        Outcome::Exited { code } => *code != 0,
        Outcome::ExitedEarly { .. } => true,
        Outcome::Signaled { .. } | Outcome::Failed { .. } => true,
        _ => false,
    };
    if !explainable || said.is_empty() {
        return (outcome, exit);
    }
    let task_exit = said
        .iter()
        .rev()
        .find_map(|line| task_exit(line, exit))
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
    match task_exit {
        Some(task_exit) if said.iter().any(|line| line.contains(": task 0: ")) => {
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
/// `slurmstepd-node7: error: *** STEP 12.4 ON node7 CANCELLED AT ... ***`,
/// or of a node failure.
fn ended_by_slurm(line: &str) -> Option<String> {
    if line.contains(" CANCELLED AT ") {
        let text = message_of(line);
        let text = text.trim_start_matches('*').trim_end_matches('*').trim();
        return Some(text.to_string());
    }
    line.to_ascii_lowercase()
        .contains("node fail")
        .then(|| message_of(line).to_string())
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

    fn lines(said: &[&str]) -> Vec<String> {
        said.iter().map(|s| s.to_string()).collect()
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
            ("srun: error: Node failure on vm", "Node failure on vm"),
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
        let silent = explain(Outcome::Exited { code: 4 }, Some(ProcessExit::Code(4)), &[]);
        assert_eq!(silent.0, Outcome::Exited { code: 4 });
    }
}
