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
/// - `--exact --ntasks=1 --cpus-per-task=<c>`: one task with exactly the
///   CPUs it needs (without `--exact` a step takes every CPU of the job on
///   its node);
/// - `--mem=0` inside an allocation: the step may use the job's memory on
///   its node without reserving all of it (outside one it would ask for a
///   whole node's memory);
/// - `--unbuffered`: output reaches us as it is written, not line by line
///   (the worker protocol is not line based);
/// - `--quiet`: no "step creation temporarily disabled" chatter while a
///   step waits for CPUs; errors are still written, and read (see
///   `messages`).
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
        "--ntasks=1".into(),
        format!("--cpus-per-task={}", options.step_cpus(spec.cpus)).into(),
        "--unbuffered".into(),
        "--quiet".into(),
    ];
    if options.allocation.is_some() {
        args.push("--mem=0".into());
    }
    if let Some(name) = &options.job_name {
        args.push(format!("--job-name={name}").into());
    }
    args.extend(options.srun_args.iter().cloned());
    args.push("--".into());
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
    args.push(program_for_nodes(&spec.program)?);
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
        niceness: spec.niceness,
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
        let srun = srun_spec(&options, &command_spec()).unwrap();
        assert_eq!(srun.program, "srun");
        assert_eq!(
            words(&srun),
            [
                "--exact",
                "--ntasks=1",
                "--cpus-per-task=1",
                "--unbuffered",
                "--quiet",
                "--job-name=render",
                "--",
                "echo",
                "hello"
            ]
        );
        assert_eq!(srun.env, command_spec().env, "srun passes them on");
        assert_eq!(srun.current_dir, command_spec().current_dir);
        assert_eq!(srun.io, LaunchIo::Command);
        assert_eq!(srun.niceness, Some(5));
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
