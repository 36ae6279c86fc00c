//! A Slurm allocation as the environment of a batch script (or of `salloc`)
//! describes it, and how many single-task workers fit in it at once.
//!
//! Slurm tells a program started in an allocation what it was given through
//! environment variables: `SLURM_JOB_ID`, `SLURM_JOB_CPUS_PER_NODE` (in a
//! compressed form such as `72(x2),36`), `SLURM_JOB_NUM_NODES`, and, when the
//! user asked for them, `SLURM_NTASKS` and `SLURM_CPUS_PER_TASK`. This module
//! reads them through a lookup function, so that tests need no real
//! environment, and never touches the process environment itself.
//!
//! The facts behind the rules here were measured on Slurm 22.05 (see
//! `docs/slurm.md`).

use std::fmt;

/// The variable whose presence says "this process runs inside an allocation".
const JOB_ID: &str = "SLURM_JOB_ID";
/// CPUs allocated on each node of the job, in Slurm's compressed form.
const JOB_CPUS_PER_NODE: &str = "SLURM_JOB_CPUS_PER_NODE";
/// Number of nodes of the job.
const JOB_NUM_NODES: &str = "SLURM_JOB_NUM_NODES";
/// Number of tasks the user asked for (`-n`); describes the step inside one.
const NTASKS: &str = "SLURM_NTASKS";
/// CPUs per task the user asked for (`-c`).
const CPUS_PER_TASK: &str = "SLURM_CPUS_PER_TASK";
/// Set inside a job step started by `srun`, not in a batch script or `salloc`.
const STEP_ID: &str = "SLURM_STEP_ID";

/// Why the Slurm variables of the environment could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SlurmAllocationError {
    /// `SLURM_JOB_ID` is set but a variable every allocation has is not.
    #[error("{variable} is not set although SLURM_JOB_ID is: not a Slurm allocation we understand")]
    Missing {
        /// The variable that is missing.
        variable: &'static str,
    },
    /// A variable that must hold a whole number holds something else.
    #[error("{variable}={value:?} is not a {expected}")]
    NotANumber {
        /// The variable.
        variable: &'static str,
        /// Its value.
        value: String,
        /// What it should have been, for the message.
        expected: &'static str,
    },
    /// `SLURM_JOB_CPUS_PER_NODE` is not of the form `4`, `2(x3),1`, `72(x2),36`.
    #[error("SLURM_JOB_CPUS_PER_NODE={value:?} is malformed: {reason}")]
    MalformedCpusPerNode {
        /// Its value.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// `SLURM_JOB_NUM_NODES` and `SLURM_JOB_CPUS_PER_NODE` disagree.
    #[error("SLURM_JOB_NUM_NODES={declared} but SLURM_JOB_CPUS_PER_NODE lists {listed} node(s)")]
    NodeCountMismatch {
        /// The node count `SLURM_JOB_NUM_NODES` gives.
        declared: u32,
        /// The node count `SLURM_JOB_CPUS_PER_NODE` lists.
        listed: u64,
    },
    /// A worker was asked to need no CPU at all.
    #[error("a worker needs at least one CPU (cpus_per_task is 0)")]
    NoCpusPerTask,
    /// No node of the allocation has as many CPUs as one worker needs.
    #[error(
        "a worker needs {cpus_per_task} CPUs but the largest node of the allocation has {largest_node}"
    )]
    WorkerTooLarge {
        /// CPUs one worker needs.
        cpus_per_task: u32,
        /// CPUs of the allocation's largest node.
        largest_node: u32,
    },
}

/// Consecutive nodes of an allocation that have the same number of CPUs:
/// one item of `SLURM_JOB_CPUS_PER_NODE` (`72(x2)` is 2 nodes of 72 CPUs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NodeGroup {
    /// CPUs allocated on each node of the group.
    pub(crate) cpus: u32,
    /// How many nodes the group has (at least 1).
    pub(crate) nodes: u32,
}

/// What Slurm gave the job this process runs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SlurmAllocation {
    /// The job's id (`SLURM_JOB_ID`).
    pub(crate) job_id: u64,
    /// CPUs per node, in node order, as groups of equal nodes.
    pub(crate) node_groups: Vec<NodeGroup>,
    /// Tasks the user asked for (`SLURM_NTASKS`), when given.
    pub(crate) ntasks: Option<u32>,
    /// CPUs per task the user asked for (`SLURM_CPUS_PER_TASK`), when given.
    pub(crate) cpus_per_task: Option<u32>,
    /// Whether this process is itself a job step started by `srun`
    /// (`SLURM_STEP_ID` set), in which case `SLURM_NTASKS` describes that
    /// step rather than the job.
    pub(crate) in_step: bool,
}

impl SlurmAllocation {
    /// Reads the allocation from environment values that `lookup` gives
    /// (`|name| std::env::var(name).ok()` in real use). `Ok(None)` when
    /// `SLURM_JOB_ID` is unset or empty: not inside an allocation. A variable
    /// set to the empty string counts as unset.
    pub(crate) fn from_env(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, SlurmAllocationError> {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let Some(job_id) = get(JOB_ID) else {
            return Ok(None);
        };
        let job_id = parse_number::<u64>(JOB_ID, &job_id, "job id (a whole number)")?;
        let cpus_per_node = get(JOB_CPUS_PER_NODE).ok_or(SlurmAllocationError::Missing {
            variable: JOB_CPUS_PER_NODE,
        })?;
        let node_groups = parse_cpus_per_node(&cpus_per_node)?;
        let allocation = SlurmAllocation {
            job_id,
            node_groups,
            ntasks: get(NTASKS)
                .map(|value| parse_positive(NTASKS, &value))
                .transpose()?,
            cpus_per_task: get(CPUS_PER_TASK)
                .map(|value| parse_positive(CPUS_PER_TASK, &value))
                .transpose()?,
            in_step: get(STEP_ID).is_some(),
        };
        if let Some(value) = get(JOB_NUM_NODES) {
            let declared = parse_positive(JOB_NUM_NODES, &value)?;
            let listed = allocation.node_count();
            if u64::from(declared) != listed {
                return Err(SlurmAllocationError::NodeCountMismatch { declared, listed });
            }
        }
        Ok(Some(allocation))
    }

    /// Number of nodes of the allocation.
    pub(crate) fn node_count(&self) -> u64 {
        self.node_groups
            .iter()
            .map(|group| u64::from(group.nodes))
            .sum()
    }

    /// CPUs of the whole allocation, all nodes together.
    pub(crate) fn total_cpus(&self) -> u64 {
        self.node_groups
            .iter()
            .map(|group| u64::from(group.cpus) * u64::from(group.nodes))
            .sum()
    }

    /// CPUs a worker needs when the caller does not say: what the user
    /// asked Slurm for per task (`-c`), else 1.
    pub(crate) fn default_cpus_per_task(&self) -> u32 {
        self.cpus_per_task.unwrap_or(1)
    }

    /// How many single-task workers needing `cpus_per_task` CPUs each can
    /// run at once in this allocation.
    ///
    /// A job step lives on one node here (`srun -n1`), so workers are packed
    /// node by node: the sum over nodes of `cpus_on_node / cpus_per_task`,
    /// rounded down (2 nodes of 5 CPUs hold 4 workers of 2 CPUs, not 5).
    /// When the user gave a task count (`SLURM_NTASKS`, from `-n`) the
    /// answer is at most that: the count is the user's own statement of how
    /// many things should run at once, and Slurm may hand out more CPUs than
    /// tasks times CPUs per task (whole cores under `CR_Core`, whole nodes
    /// with `--exclusive`), where steps beyond the count would only wait.
    /// Inside a job step (`SLURM_STEP_ID` set) `SLURM_NTASKS` counts that
    /// step's tasks, not the job's, so it bounds nothing there.
    pub(crate) fn concurrent_workers(
        &self,
        cpus_per_task: u32,
    ) -> Result<u64, SlurmAllocationError> {
        if cpus_per_task == 0 {
            return Err(SlurmAllocationError::NoCpusPerTask);
        }
        let packed: u64 = self
            .node_groups
            .iter()
            .map(|group| u64::from(group.cpus / cpus_per_task) * u64::from(group.nodes))
            .sum();
        if packed == 0 {
            return Err(SlurmAllocationError::WorkerTooLarge {
                cpus_per_task,
                largest_node: self
                    .node_groups
                    .iter()
                    .map(|group| group.cpus)
                    .max()
                    .unwrap_or(0),
            });
        }
        Ok(match self.ntasks {
            Some(ntasks) if !self.in_step => packed.min(u64::from(ntasks)),
            _ => packed,
        })
    }
}

impl fmt::Display for SlurmAllocation {
    /// `job 42: 3 node(s), 180 CPUs (72(x2),36)`, in Slurm's own notation.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "job {}: {} node(s), {} CPUs (",
            self.job_id,
            self.node_count(),
            self.total_cpus()
        )?;
        for (index, group) in self.node_groups.iter().enumerate() {
            if index > 0 {
                f.write_str(",")?;
            }
            match group.nodes {
                1 => write!(f, "{}", group.cpus)?,
                nodes => write!(f, "{}(x{nodes})", group.cpus)?,
            }
        }
        f.write_str(")")
    }
}

/// Parses `SLURM_JOB_CPUS_PER_NODE`: comma-separated items, each a CPU
/// count `N` for one node or `N(xM)` for `M` consecutive nodes of `N` CPUs
/// (`4`, `2(x3),1`, `72(x2),36`).
pub(crate) fn parse_cpus_per_node(value: &str) -> Result<Vec<NodeGroup>, SlurmAllocationError> {
    let malformed = |reason| SlurmAllocationError::MalformedCpusPerNode {
        value: value.to_owned(),
        reason,
    };
    let mut groups = Vec::new();
    for item in value.trim().split(',') {
        let (cpus, nodes) = match item.split_once('(') {
            None => (item, "1"),
            Some((cpus, repeat)) => {
                let nodes = repeat
                    .strip_prefix('x')
                    .and_then(|rest| rest.strip_suffix(')'))
                    .ok_or_else(|| malformed("a repeat must read (xN)"))?;
                (cpus, nodes)
            }
        };
        let cpus = digits(cpus).ok_or_else(|| malformed("a CPU count is not a whole number"))?;
        let nodes = digits(nodes).ok_or_else(|| malformed("a node count is not a whole number"))?;
        if nodes == 0 {
            return Err(malformed("a node count is 0"));
        }
        groups.push(NodeGroup { cpus, nodes });
    }
    if groups.iter().all(|group| group.cpus == 0) {
        return Err(malformed("no node has a CPU"));
    }
    Ok(groups)
}

/// `text` as a number when it is nothing but ASCII digits (no sign, no
/// blanks) and fits a `u32`.
fn digits(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Parses a variable that holds a whole number of type `N`, blanks around it
/// allowed.
fn parse_number<N: std::str::FromStr>(
    variable: &'static str,
    value: &str,
    expected: &'static str,
) -> Result<N, SlurmAllocationError> {
    let trimmed = value.trim();
    trimmed
        .bytes()
        .all(|byte| byte.is_ascii_digit())
        .then(|| trimmed.parse().ok())
        .flatten()
        .ok_or_else(|| SlurmAllocationError::NotANumber {
            variable,
            value: value.to_owned(),
            expected,
        })
}

/// Parses a variable that holds a count of at least 1.
fn parse_positive(variable: &'static str, value: &str) -> Result<u32, SlurmAllocationError> {
    let expected = "whole number of at least 1";
    match parse_number::<u32>(variable, value, expected)? {
        0 => Err(SlurmAllocationError::NotANumber {
            variable,
            value: value.to_owned(),
            expected,
        }),
        count => Ok(count),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The allocation that `vars` (name, value pairs) describe.
    fn read(vars: &[(&str, &str)]) -> Result<Option<SlurmAllocation>, SlurmAllocationError> {
        SlurmAllocation::from_env(|name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        })
    }

    /// Like [`read`], for a set of variables that must describe an allocation.
    fn allocation(vars: &[(&str, &str)]) -> SlurmAllocation {
        read(vars)
            .expect("well-formed variables")
            .expect("SLURM_JOB_ID is set")
    }

    fn group(cpus: u32, nodes: u32) -> NodeGroup {
        NodeGroup { cpus, nodes }
    }

    #[test]
    fn no_job_id_means_no_allocation() {
        assert_eq!(read(&[]), Ok(None));
        assert_eq!(read(&[("SLURM_JOB_CPUS_PER_NODE", "4")]), Ok(None));
        assert_eq!(read(&[("SLURM_JOB_ID", "")]), Ok(None));
    }

    #[test]
    fn cpus_per_node_forms() {
        assert_eq!(parse_cpus_per_node("4"), Ok(vec![group(4, 1)]));
        assert_eq!(
            parse_cpus_per_node("2(x3),1"),
            Ok(vec![group(2, 3), group(1, 1)])
        );
        assert_eq!(
            parse_cpus_per_node("72(x2),36"),
            Ok(vec![group(72, 2), group(36, 1)])
        );
        assert_eq!(
            parse_cpus_per_node("1,64(x99)\n"),
            Ok(vec![group(1, 1), group(64, 99)])
        );
    }

    #[test]
    fn malformed_cpus_per_node() {
        for bad in [
            "",
            ",",
            "4,",
            "x4",
            "-4",
            "+4",
            "4.5",
            "4 (x2)",
            "4(2)",
            "4(x)",
            "4(x2",
            "4(x2))",
            "4(x0)",
            "4(x-1)",
            "(x2)",
            "0",
            "0(x3)",
            "99999999999",
            "4(x99999999999)",
        ] {
            assert!(
                matches!(
                    parse_cpus_per_node(bad),
                    Err(SlurmAllocationError::MalformedCpusPerNode { .. })
                ),
                "{bad:?} was accepted as {:?}",
                parse_cpus_per_node(bad)
            );
        }
    }

    #[test]
    fn salloc_n2_as_measured() {
        // `salloc -n2` on the 2-CPU CI node, as Slurm 22.05 set it.
        let job = allocation(&[
            ("SLURM_JOB_ID", "65"),
            ("SLURM_JOB_CPUS_PER_NODE", "2"),
            ("SLURM_JOB_NUM_NODES", "1"),
            ("SLURM_NTASKS", "2"),
            ("SLURM_NODELIST", "vm"),
        ]);
        assert_eq!(job.job_id, 65);
        assert_eq!(job.node_count(), 1);
        assert_eq!(job.total_cpus(), 2);
        assert_eq!(job.ntasks, Some(2));
        assert_eq!(job.cpus_per_task, None);
        assert!(!job.in_step);
        assert_eq!(job.default_cpus_per_task(), 1);
        assert_eq!(job.concurrent_workers(1), Ok(2));
        assert_eq!(job.concurrent_workers(2), Ok(1));
        assert_eq!(job.to_string(), "job 65: 1 node(s), 2 CPUs (2)");
    }

    #[test]
    fn packing_is_per_node() {
        let job = allocation(&[
            ("SLURM_JOB_ID", "7"),
            ("SLURM_JOB_CPUS_PER_NODE", "5(x2),3"),
        ]);
        assert_eq!(job.node_count(), 3);
        assert_eq!(job.total_cpus(), 13);
        assert_eq!(job.concurrent_workers(1), Ok(13));
        // 2 + 2 + 1, not 13 / 2 = 6: a worker cannot span two nodes.
        assert_eq!(job.concurrent_workers(2), Ok(5));
        assert_eq!(job.concurrent_workers(4), Ok(2));
        assert_eq!(job.concurrent_workers(5), Ok(2));
        assert_eq!(
            job.concurrent_workers(6),
            Err(SlurmAllocationError::WorkerTooLarge {
                cpus_per_task: 6,
                largest_node: 5
            })
        );
        assert_eq!(
            job.concurrent_workers(0),
            Err(SlurmAllocationError::NoCpusPerTask)
        );
    }

    #[test]
    fn ntasks_bounds_the_count_outside_a_step() {
        // `sbatch -N2 -n6 -c2` on nodes that Slurm gave whole (--exclusive).
        let vars = [
            ("SLURM_JOB_ID", "1234"),
            ("SLURM_JOB_CPUS_PER_NODE", "64(x2)"),
            ("SLURM_JOB_NUM_NODES", "2"),
            ("SLURM_NTASKS", "6"),
            ("SLURM_CPUS_PER_TASK", "2"),
        ];
        let job = allocation(&vars);
        assert_eq!(job.default_cpus_per_task(), 2);
        assert_eq!(job.concurrent_workers(2), Ok(6));
        assert_eq!(job.concurrent_workers(32), Ok(4));

        // The same from inside a step: SLURM_NTASKS is the step's own.
        let mut in_step = vars.to_vec();
        in_step.push(("SLURM_STEP_ID", "0"));
        in_step.retain(|(name, _)| *name != "SLURM_NTASKS");
        in_step.push(("SLURM_NTASKS", "1"));
        let step = allocation(&in_step);
        assert!(step.in_step);
        assert_eq!(step.concurrent_workers(2), Ok(64));
    }

    #[test]
    fn large_allocation() {
        let job = allocation(&[
            ("SLURM_JOB_ID", "99"),
            ("SLURM_JOB_CPUS_PER_NODE", "64(x100)"),
            ("SLURM_JOB_NUM_NODES", "100"),
        ]);
        assert_eq!(job.concurrent_workers(1), Ok(6400));
        assert_eq!(job.concurrent_workers(3), Ok(2100));
        assert_eq!(job.to_string(), "job 99: 100 node(s), 6400 CPUs (64(x100))");
    }

    #[test]
    fn malformed_numbers() {
        for (name, value) in [
            ("SLURM_JOB_ID", "abc"),
            ("SLURM_JOB_ID", "12_3"),
            ("SLURM_JOB_ID", "-1"),
            ("SLURM_NTASKS", "0"),
            ("SLURM_NTASKS", "two"),
            ("SLURM_NTASKS", "2.0"),
            ("SLURM_CPUS_PER_TASK", "0"),
            ("SLURM_CPUS_PER_TASK", "-2"),
            ("SLURM_JOB_NUM_NODES", "x"),
            ("SLURM_JOB_NUM_NODES", "0"),
        ] {
            let mut vars = vec![("SLURM_JOB_ID", "1"), ("SLURM_JOB_CPUS_PER_NODE", "4")];
            vars.retain(|(key, _)| *key != name);
            vars.push((name, value));
            let error = read(&vars).expect_err(name);
            assert!(
                matches!(
                    &error,
                    SlurmAllocationError::NotANumber { variable, value: found, .. }
                        if *variable == name && found == value
                ),
                "{name}={value:?} gave {error:?}"
            );
        }
    }

    #[test]
    fn blanks_around_numbers_are_accepted() {
        let job = allocation(&[
            ("SLURM_JOB_ID", " 42\n"),
            ("SLURM_JOB_CPUS_PER_NODE", "4\n"),
            ("SLURM_NTASKS", "2 "),
        ]);
        assert_eq!((job.job_id, job.ntasks), (42, Some(2)));
    }

    #[test]
    fn missing_and_inconsistent_variables() {
        assert_eq!(
            read(&[("SLURM_JOB_ID", "5")]),
            Err(SlurmAllocationError::Missing {
                variable: "SLURM_JOB_CPUS_PER_NODE"
            })
        );
        assert_eq!(
            read(&[
                ("SLURM_JOB_ID", "5"),
                ("SLURM_JOB_CPUS_PER_NODE", "2(x3),1"),
                ("SLURM_JOB_NUM_NODES", "3"),
            ]),
            Err(SlurmAllocationError::NodeCountMismatch {
                declared: 3,
                listed: 4
            })
        );
    }

    #[test]
    fn errors_read_well() {
        let error = read(&[("SLURM_JOB_ID", "5"), ("SLURM_JOB_CPUS_PER_NODE", "4(x")])
            .expect_err("malformed");
        assert_eq!(
            error.to_string(),
            "SLURM_JOB_CPUS_PER_NODE=\"4(x\" is malformed: a repeat must read (xN)"
        );
    }
}
