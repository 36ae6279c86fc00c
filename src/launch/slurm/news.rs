//! What Slurm tells about one job step, line by line: which step it is and
//! on which node it runs, how its task ended, whether its node failed, and
//! which lines explain how it ended (the rest is chatter, only logged).
//!
//! `srun` is run with `--verbose`, which makes it name the step and its
//! node as it launches it and give the task's raw wait status when it
//! ends (Slurm 22.05):
//!
//! ```text
//! srun: launching StepId=27.2 on host node1, 1 tasks: 0
//! srun: launch/slurm: _task_finish: Received task exit notification for 1 task of StepId=27.2 (status=0x000f).
//! srun: error: node1: task 0: Terminated
//! srun: error: Node failure on node2
//! slurmstepd-node1: error: *** STEP 27.2 ON node1 CANCELLED AT 2026-12-05T19:56:01 DUE TO NODE FAILURE, SEE SLURMCTLD LOG FOR DETAILS ***
//! ```
//!
//! The step's id is what Slurm signals (`scancel --signal`), its node says
//! whether its processes are on this machine, and the wait status is the
//! task's own exit, unlike `srun`'s exit code (which is 0 when the node
//! failed, and 1 both for a task's exit code 1 and for a step that could
//! not be created).

use std::fmt;

/// A job step: `<job>.<step>`, as Slurm writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct StepId {
    pub job: u64,
    pub step: u64,
}

impl fmt::Display for StepId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.job, self.step)
    }
}

impl StepId {
    /// Reads `27.2` (or `27.2+0`, a component of a heterogeneous job)
    /// from the start of `text`.
    fn parse_start(text: &str) -> Option<StepId> {
        let end = text
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(text.len());
        let (job, step) = text[..end].split_once('.')?;
        Some(StepId {
            job: job.parse().ok()?,
            step: step.parse().ok()?,
        })
    }
}

/// What Slurm has said about a step so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct StepNews {
    /// The step, once `srun` launched it.
    pub step: Option<StepId>,
    /// The node it runs on, once launched.
    pub node: Option<String>,
    /// The task's wait status, as `srun` received it, once it ended.
    pub task_status: Option<i32>,
    /// The node whose failure Slurm reported to this `srun`.
    pub failed_node: Option<String>,
    /// The lines that explain how the step ended (errors, cancellations),
    /// the last [`KEPT_LINES`], oldest first.
    pub lines: Vec<String>,
}

/// How many explaining lines are kept per step (the last ones).
pub(crate) const KEPT_LINES: usize = 16;

impl StepNews {
    /// Takes in one line of Slurm's (without its newline); whether it is
    /// one that explains how the step ended (the others are `--verbose`'s
    /// chatter, or what is kept as facts).
    pub(crate) fn take(&mut self, line: &str) -> bool {
        if let Some(rest) = line.strip_prefix("srun: launching StepId=") {
            if let Some(step) = StepId::parse_start(rest) {
                self.step = Some(step);
                self.node = rest
                    .split_once(" on host ")
                    .and_then(|(_, after)| after.split([',', ' ']).next())
                    .filter(|node| !node.is_empty())
                    .map(str::to_string);
            }
            return false;
        }
        if let Some((_, rest)) = line.split_once("Received task exit notification for ") {
            if let Some(status) = task_status(rest, self.step) {
                self.task_status = Some(status);
            }
            return false;
        }
        if let Some((_, node)) = line.split_once(": error: Node failure on ") {
            self.failed_node = Some(node.trim().to_string());
        }
        if !explains(line) {
            return false;
        }
        if self.lines.len() == KEPT_LINES {
            self.lines.remove(0);
        }
        self.lines.push(line.to_string());
        true
    }

    /// Whether Slurm said anything that explains how the step ended.
    pub(crate) fn is_empty(&self) -> bool {
        self.lines.is_empty() && self.task_status.is_none() && self.failed_node.is_none()
    }
}

/// The wait status in `1 task of StepId=27.2 (status=0x000f).`, when the
/// line is about `step` (or the step is not known yet).
fn task_status(text: &str, step: Option<StepId>) -> Option<i32> {
    let (_, about) = text.split_once("StepId=")?;
    if let Some(step) = step
        && StepId::parse_start(about) != Some(step)
    {
        return None;
    }
    let (_, status) = about.split_once("(status=0x")?;
    let hex = status.split(')').next()?;
    i32::from_str_radix(hex, 16).ok()
}

/// Whether a line of Slurm's says something about how the step ended
/// (rather than what `--verbose` adds: options, plug-ins, progress).
fn explains(line: &str) -> bool {
    if !line.starts_with("srun: ") {
        return true; // slurmstepd's: errors and cancellations
    }
    line.contains(" error: ") || line.contains("Warning") || line.contains(": task 0: ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(lines: &[&str]) -> StepNews {
        let mut news = StepNews::default();
        for line in lines {
            news.take(line);
        }
        news
    }

    #[test]
    fn the_step_and_its_node_are_read_from_the_launch() {
        let news = read(&[
            "srun: jobid 27: nodes(3):`node[1-3]', cpu counts: 2(x3)",
            "srun: launching StepId=27.2 on host node1, 1 tasks: 0",
            "srun: launch/slurm: _task_start: Node node1, 1 tasks started",
        ]);
        assert_eq!(news.step, Some(StepId { job: 27, step: 2 }));
        assert_eq!(news.step.unwrap().to_string(), "27.2");
        assert_eq!(news.node.as_deref(), Some("node1"));
        assert!(news.lines.is_empty(), "chatter: {:?}", news.lines);
        assert!(news.is_empty());
    }

    #[test]
    fn the_tasks_wait_status_is_read_for_its_own_step_only() {
        let news = read(&[
            "srun: launching StepId=9.0+0 on host vm, 1 tasks: 0",
            "srun: launch/slurm: _task_finish: Received task exit notification for 1 task of StepId=8.0 (status=0x0100).",
            "srun: launch/slurm: _task_finish: Received task exit notification for 1 task of StepId=9.0 (status=0x000f).",
            "srun: error: vm: task 0: Terminated",
        ]);
        assert_eq!(news.step, Some(StepId { job: 9, step: 0 }));
        assert_eq!(news.task_status, Some(15));
        assert_eq!(news.lines, ["srun: error: vm: task 0: Terminated"]);
    }

    #[test]
    fn a_node_failure_names_the_node() {
        let news = read(&[
            "srun: launching StepId=27.0 on host node2, 1 tasks: 0",
            "srun: error: Node failure on node2",
            "srun: Complete StepId=27.0+0 received",
        ]);
        assert_eq!(news.failed_node.as_deref(), Some("node2"));
        assert_eq!(news.task_status, None);
        assert_eq!(news.lines, ["srun: error: Node failure on node2"]);
    }

    #[test]
    fn only_the_last_explaining_lines_are_kept() {
        let mut news = StepNews::default();
        for i in 0..KEPT_LINES + 3 {
            news.take(&format!("slurmstepd-vm: error: line {i}"));
        }
        assert_eq!(news.lines.len(), KEPT_LINES);
        assert_eq!(news.lines[0], "slurmstepd-vm: error: line 3");
    }
}
