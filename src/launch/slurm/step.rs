//! The `srun` command line that runs a task as a job step: the engine's
//! [`LaunchSpec`] wrapped in `srun`, to be started like any local process.

use std::ffi::OsString;
use std::io;
use std::os::unix::ffi::OsStrExt;

use super::options::SlurmOptions;
use crate::launch::{LaunchIo, LaunchSpec};

/// The local process to start for `spec`: `srun` with the options below,
/// then `--`, the task's program and its arguments.
///
/// - `--exact --nodes=1 --ntasks=1 --cpus-per-task=<c>`: one task on one
///   node with exactly the CPUs it needs (without `--exact` a step takes
///   every CPU of the job on its node; without `--nodes=1`, in an
///   allocation of several nodes, `srun` warns at every step that it
///   cannot run one task on them all);
/// - `--mem=0` inside an allocation: the step may use the job's memory on
///   its node without reserving all of it (outside one it would ask for a
///   whole node's memory);
/// - `--unbuffered`: output reaches us as it is written, not line by line
///   (the worker protocol is not line based);
/// - `--verbose`: `srun` names the step and its node as it launches it,
///   and gives the task's wait status when it ends (see `news`), which is
///   how the step is signalled and how its end is told apart from its
///   node's failure; the rest of what it says is only logged.
///
/// A niceness to start at is applied on the node, by `nice` (`srun`'s own
/// niceness does not reach the task unless the cluster propagates it);
/// the step is then named after the task's program, not `nice`.
///
/// `srun` starts the step in its own working directory with its own
/// environment (`--export=ALL`), so those are set on `srun`; a spec that
/// clears the environment runs its program under `env -i` instead, so
/// that `srun` itself keeps the variables that tell it about the
/// allocation. The worker program `/proc/self/exe` means nothing on
/// another node: the executable's path is used instead (it must be on a
/// file system every node shares).
pub(crate) fn srun_spec(options: &SlurmOptions, spec: &LaunchSpec) -> io::Result<LaunchSpec> {
    let mut args: Vec<OsString> = vec![
        "--exact".into(),
        "--nodes=1".into(),
        "--ntasks=1".into(),
        format!("--cpus-per-task={}", options.step_cpus(spec.cpus)).into(),
        "--unbuffered".into(),
        "--verbose".into(),
    ];
    if options.allocation.is_some() {
        args.push("--mem=0".into());
    }
    let program = program_for_nodes(&spec.program)?;
    let nice = spec.niceness.filter(|&n| n > 0);
    match (&options.job_name, nice) {
        (Some(name), _) => args.push(format!("--job-name={name}").into()),
        (None, Some(_)) => {
            let mut name = OsString::from("--job-name=");
            let path = std::path::Path::new(&program);
            name.push(path.file_name().unwrap_or(path.as_os_str()));
            args.push(name);
        }
        (None, None) => {}
    }
    args.extend(options.srun_args.iter().cloned());
    args.push("--".into());
    if let Some(niceness) = nice {
        args.extend(["nice".into(), "-n".into(), niceness.to_string().into()]);
    }
    if spec.env_clear {
        args.push("env".into());
        args.push("-i".into());
        for (key, value) in &spec.env {
            if let Some(value) = value {
                let mut assignment = key.clone();
                assignment.push("=");
                assignment.push(value);
                args.push(assignment);
            }
        }
    }
    args.push(program);
    args.extend(spec.args.iter().cloned());
    let mut env = if spec.env_clear {
        Vec::new()
    } else {
        spec.env.clone()
    };
    if matches!(spec.io, LaunchIo::Worker | LaunchIo::WorkerWithStderrPipe) {
        // Through srun the worker's standard input is no socket of ours:
        // the ticket in its environment (srun exports ours) tells it it is
        // a worker.
        use crate::invocation::{TICKET_VARIABLE, ticket};
        env.push((TICKET_VARIABLE.into(), Some(ticket().into())));
    }
    Ok(LaunchSpec {
        program: options.srun.clone().into_os_string(),
        argv0: None,
        args,
        env,
        env_clear: false,
        current_dir: spec.current_dir.clone(),
        io: match spec.io {
            LaunchIo::Worker | LaunchIo::WorkerWithStderrPipe => LaunchIo::WorkerWithStderrPipe,
            LaunchIo::Command => LaunchIo::Command,
        },
        // srun itself runs at ours: the niceness is the task's.
        niceness: None,
        forkable: false,
        cpus: spec.cpus,
        fork: None,
    })
}

/// `program` as a path that means the same on every node: the running
/// executable for `/proc/self/exe`.
fn program_for_nodes(program: &std::ffi::OsStr) -> io::Result<OsString> {
    if program == crate::platform::self_exe_for_spawn().as_os_str() {
        let exe = std::env::current_exe()?;
        if exe.as_os_str().as_bytes().ends_with(b" (deleted)") {
            return Err(io::Error::other(format!(
                "the running executable {} was deleted or replaced; a job step cannot start it",
                exe.display()
            )));
        }
        return Ok(exe.into_os_string());
    }
    Ok(program.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::launch::slurm::allocation::SlurmAllocation;

    fn command_spec() -> LaunchSpec {
        LaunchSpec {
            program: "echo".into(),
            argv0: None,
            args: vec!["hello".into()],
            env: vec![("A".into(), Some("1".into())), ("B".into(), None)],
            env_clear: false,
            current_dir: Some("/tmp".into()),
            io: LaunchIo::Command,
            niceness: Some(5),
            forkable: false,
            cpus: 1,
            fork: None,
        }
    }

    fn words(spec: &LaunchSpec) -> Vec<String> {
        spec.args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn a_command_becomes_one_exact_step() {
        let options = SlurmOptions::for_tests(None).job_name("render");
        let mut spec = command_spec();
        spec.niceness = None;
        let srun = srun_spec(&options, &spec).unwrap();
        assert_eq!(srun.program, "srun");
        assert_eq!(
            words(&srun),
            [
                "--exact",
                "--nodes=1",
                "--ntasks=1",
                "--cpus-per-task=1",
                "--unbuffered",
                "--verbose",
                "--job-name=render",
                "--",
                "echo",
                "hello"
            ]
        );
        assert_eq!(srun.env, command_spec().env, "srun passes them on");
        assert_eq!(srun.current_dir, command_spec().current_dir);
        assert_eq!(srun.io, LaunchIo::Command);
        assert_eq!(srun.niceness, None);
    }

    #[test]
    fn the_niceness_is_applied_on_the_node_and_the_step_keeps_its_name() {
        let srun = srun_spec(&SlurmOptions::for_tests(None), &command_spec()).unwrap();
        assert_eq!(srun.niceness, None, "srun runs at ours");
        let said = words(&srun);
        let separator = said.iter().position(|w| w == "--").unwrap();
        assert_eq!(said[separator + 1..], ["nice", "-n", "5", "echo", "hello"]);
        assert!(said[..separator].contains(&"--job-name=echo".to_string()));
        // A job name given is kept.
        let options = SlurmOptions::for_tests(None).job_name("render");
        let said = words(&srun_spec(&options, &command_spec()).unwrap());
        assert!(said.contains(&"--job-name=render".to_string()), "{said:?}");
        assert!(!said.contains(&"--job-name=echo".to_string()), "{said:?}");
    }

    #[test]
    fn inside_an_allocation_steps_share_the_memory_and_ask_for_cpus() {
        let allocation = SlurmAllocation::from_env(|name| match name {
            "SLURM_JOB_ID" => Some("9".into()),
            "SLURM_JOB_CPUS_PER_NODE" => Some("8".into()),
            _ => None,
        })
        .unwrap();
        let options = SlurmOptions::for_tests(allocation)
            .cpus_per_task(2)
            .srun_arg("--partition=short");
        let mut spec = command_spec();
        spec.cpus = 4;
        let words = words(&srun_spec(&options, &spec).unwrap());
        assert!(words.contains(&"--mem=0".to_string()), "{words:?}");
        assert!(
            words.contains(&"--cpus-per-task=4".to_string()),
            "{words:?}"
        );
        let extra = words.iter().position(|w| w == "--partition=short");
        let separator = words.iter().position(|w| w == "--");
        assert!(extra < separator, "{words:?}");
    }

    #[test]
    fn a_cleared_environment_is_cleared_on_the_node_not_for_srun() {
        let mut spec = command_spec();
        spec.env_clear = true;
        spec.niceness = None;
        let srun = srun_spec(&SlurmOptions::for_tests(None), &spec).unwrap();
        assert!(!srun.env_clear);
        assert!(srun.env.is_empty());
        let words = words(&srun);
        let separator = words.iter().position(|w| w == "--").unwrap();
        assert_eq!(
            words[separator + 1..],
            ["env", "-i", "A=1", "echo", "hello"]
        );
    }

    #[test]
    fn a_worker_runs_this_executable_by_its_path() {
        let mut spec = command_spec();
        spec.program = crate::platform::self_exe_for_spawn().into_os_string();
        spec.argv0 = Some("shown".into());
        spec.io = LaunchIo::Worker;
        let srun = srun_spec(&SlurmOptions::for_tests(None), &spec).unwrap();
        let exe = std::env::current_exe().unwrap().into_os_string();
        assert!(srun.args.contains(&exe));
        assert_eq!(srun.argv0, None);
        assert_eq!(srun.io, LaunchIo::WorkerWithStderrPipe);
    }
}
