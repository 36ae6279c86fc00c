//! What a task's process is: the [`LaunchSpec`] the launch seam starts
//! (the program, its arguments and environment, how it talks to us, its
//! niceness), and for a function task the encoded request its worker is
//! sent.

use std::io;

use super::Engine;
use super::yielding::YIELDING_NICENESS;
use crate::identity;
use crate::invocation::worker_args;
use crate::launch::{LaunchIo, LaunchSpec};
use crate::platform;
use crate::protocol::{self, PROTOCOL_VERSION, RequestedCall, TaskRequestRef};
use crate::task::{CallTarget, StartInfo, TaskSpec, Work};

impl Engine {
    /// The process to start for `spec`, and the request to send a worker.
    pub(super) fn launch_spec(
        &self,
        spec: &mut TaskSpec,
        start: &StartInfo,
    ) -> io::Result<(LaunchSpec, Option<Vec<u8>>)> {
        let cpus = spec.options.cpus;
        let command = match &mut spec.work {
            Work::Call(call) => {
                let mut args = Vec::new();
                let (program, argv0, env) = match &call.target {
                    CallTarget::Function { .. } => match &self.settings.worker_program {
                        Some(program) => (program.clone().into_os_string(), None, Vec::new()),
                        None => (
                            platform::self_exe_for_spawn().into_os_string(),
                            Some(platform::self_exe_display_name().to_owned()),
                            Vec::new(),
                        ),
                    },
                    // A copy of this process has no program: `fork` below.
                    CallTarget::Foreign(worker) => {
                        args.clone_from(&worker.args);
                        let env = worker
                            .env
                            .iter()
                            .map(|(k, v)| (k.clone(), Some(v.clone())))
                            .collect();
                        (worker.program.clone(), None, env)
                    }
                };
                let forkable = matches!(call.target, CallTarget::Function { .. })
                    && self.settings.worker_program.is_none();
                let fork = match &call.target {
                    CallTarget::Foreign(worker) => worker.fork.clone(),
                    CallTarget::Function { .. } => None,
                };
                let frame = self.worker_request(spec, start)?;
                // The worker's standard input is a socket: that and the
                // ticket make it a worker. (A launcher that replaces standard
                // input passes the ticket in the environment too.) A copy
                // of this process needs neither.
                if fork.is_none() {
                    args.extend(worker_args());
                }
                let spec = LaunchSpec {
                    program,
                    argv0,
                    args,
                    env,
                    env_clear: false,
                    current_dir: None,
                    io: LaunchIo::Worker,
                    niceness: self.start_niceness(),
                    forkable,
                    cpus,
                    fork,
                };
                return Ok((spec, Some(frame)));
            }
            Work::Command(command) => command.clone(),
            Work::Deferred(build) => build(start),
        };
        Ok((
            LaunchSpec {
                program: command.get_program().to_owned(),
                argv0: None,
                args: command.get_args().map(ToOwned::to_owned).collect(),
                env: command
                    .get_envs()
                    .map(|(k, v)| (k.to_owned(), v.map(ToOwned::to_owned)))
                    .collect(),
                env_clear: command.get_env_clear(),
                current_dir: command.get_current_dir().map(ToOwned::to_owned),
                io: LaunchIo::Command,
                niceness: self.start_niceness(),
                forkable: false,
                cpus,
                fork: None,
            },
            None,
        ))
    }

    /// The encoded request that asks a worker to run `spec`, a function
    /// call (else an error).
    pub(super) fn worker_request(&self, spec: &TaskSpec, start: &StartInfo) -> io::Result<Vec<u8>> {
        let Work::Call(call) = &spec.work else {
            return Err(io::Error::other(
                "only a function call has a worker's request",
            ));
        };
        let executable = identity::current();
        let requested = match &call.target {
            CallTarget::Function { entry, function } => RequestedCall::Function {
                entry: *entry,
                function: *function,
                seal: crate::callable::seal(executable, *entry, *function),
            },
            CallTarget::Foreign(_) => RequestedCall::Payload,
        };
        if call.args.len() > crate::MESSAGE_LIMIT {
            // A foreign payload (arguments were checked when queued).
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                crate::encoded::too_large("the call's payload"),
            ));
        }
        let request = TaskRequestRef {
            protocol: PROTOCOL_VERSION,
            executable,
            task_id: start.id.0 as u64,
            call: &requested,
            function_name: &spec.name,
            log_level: log::max_level() as u8,
            args: &call.args,
            keep_alive: self.settings.reuse_workers,
        };
        protocol::encode_frame(&request).map_err(io::Error::other)
    }

    /// The niceness tasks start at now.
    fn start_niceness(&self) -> Option<i32> {
        if self.yielding.renice_new {
            Some(YIELDING_NICENESS)
        } else {
            self.settings.niceness
        }
    }
}
