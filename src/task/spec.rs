//! [`TaskSpec`]: one unit of work handed to the engine, a function call in
//! a worker or a command, with its options and where its output goes.

use std::borrow::Cow;
use std::ffi::{OsStr, OsString};
use std::fmt;

use std::sync::Arc;

use crate::callable;
use crate::command::Command;
use crate::error::Error;
use crate::task::TaskOptions;
use crate::task::{ForkHost, ForkHostRef};
use crate::task::{OutputMode, TaskId};

/// Where a task's output lines go.
///
/// ```
/// use dummymp::OutputMode;
/// use dummymp::engine::OutputRoute;
/// assert_eq!(OutputRoute::default(), OutputRoute::Relay(OutputMode::Tagged));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputRoute {
    /// Relayed by the engine as the [`OutputMode`] says.
    Relay(OutputMode),
    /// Handed to the front end as [`Event::Output`](crate::engine::Event::Output),
    /// as it arrives: whole lines for a function task, raw chunks for a
    /// command.
    Events,
}

impl Default for OutputRoute {
    fn default() -> Self {
        OutputRoute::Relay(OutputMode::Tagged)
    }
}

/// What the engine tells a command builder when the task starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartInfo {
    /// The task.
    pub id: TaskId,
    /// Its slot: the smallest number from 1 that no other running task
    /// holds (so that N tasks at once use slots 1 to N).
    pub slot: usize,
    /// Which attempt this is, from 1.
    pub attempt: u32,
}

type CommandBuilder = Box<dyn FnMut(&StartInfo) -> Command + Send>;

/// A call as it travels to a worker.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub target: CallTarget,
    /// The encoded argument, or a foreign call's payload.
    pub args: Vec<u8>,
}

/// What a worker calls.
#[derive(Debug, Clone)]
pub(crate) enum CallTarget {
    /// A Rust function of this program, by its address offsets.
    Function { entry: u64, function: u64 },
    /// A foreign worker's handler.
    Foreign(ForeignWorker),
}

/// How a foreign worker (one that serves calls through
/// [`foreign::serve`](crate::foreign::serve), such as the Python package's)
/// is started: a program ([`ForeignWorker::new`]; the engine adds its own
/// two arguments after `args`), or a copy of this very process made when
/// the task starts ([`ForeignWorker::forked`]).
///
/// ```
/// use dummymp::engine::ForeignWorker;
/// let python = ForeignWorker::new("python3")
///     .args(["-c", "import dummymp._worker as w; w.main()"])
///     .env("PYTHONPATH", "/opt/lib");
/// assert_eq!(python.program(), "python3");
/// assert!(!python.is_forked());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ForeignWorker {
    pub(crate) program: OsString,
    pub(crate) args: Vec<OsString>,
    pub(crate) env: Vec<(OsString, OsString)>,
    pub(crate) fork: Option<ForkHostRef>,
}

impl ForeignWorker {
    /// Starts `program`.
    ///
    /// ```
    /// use dummymp::engine::ForeignWorker;
    /// assert_eq!(ForeignWorker::new("python3").program(), "python3");
    /// ```
    pub fn new(program: impl AsRef<OsStr>) -> ForeignWorker {
        ForeignWorker {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            env: Vec::new(),
            fork: None,
        }
    }

    /// Starts each worker as a copy of this process, made by `host` when
    /// its task starts: the task sees this program's state as it is then.
    /// Only the local launcher can make one (a Slurm node has nothing to
    /// copy); under another the task fails to start. See
    /// [`ForkHost`](crate::foreign::ForkHost), which has an example.
    ///
    /// ```
    /// # dummymp::init();
    /// use std::sync::Arc;
    /// use dummymp::engine::ForeignWorker;
    /// use dummymp::foreign::{self, ForeignResult, ForkHost, ForkedLink};
    /// struct Echo;
    /// impl ForkHost for Echo {
    ///     fn prepare(&self) {}
    ///     fn resume(&self) {}
    ///     fn serve(&self, link: ForkedLink) -> i32 {
    ///         foreign::serve_forked(link, |call| ForeignResult::Returned(call.payload.to_vec()))
    ///     }
    /// }
    /// let worker = ForeignWorker::forked(Arc::new(Echo));
    /// assert!(worker.is_forked());
    /// ```
    pub fn forked(host: Arc<dyn ForkHost>) -> ForeignWorker {
        ForeignWorker {
            program: OsString::new(),
            args: Vec::new(),
            env: Vec::new(),
            fork: Some(ForkHostRef(host)),
        }
    }

    /// Adds arguments (of a program; a copy has none).
    ///
    /// ```
    /// use dummymp::engine::ForeignWorker;
    /// let worker = ForeignWorker::new("python3").args(["-m", "my_worker"]);
    /// assert_ne!(worker, ForeignWorker::new("python3"));
    /// ```
    pub fn args<I, S>(mut self, args: I) -> ForeignWorker
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets an environment variable (of a program; a copy has this
    /// process's).
    ///
    /// ```
    /// use dummymp::engine::ForeignWorker;
    /// let worker = ForeignWorker::new("python3").env("PYTHONPATH", "/opt/lib");
    /// assert_ne!(worker, ForeignWorker::new("python3"));
    /// ```
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> ForeignWorker {
        self.env
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// The program (empty for a copy of this process).
    ///
    /// ```
    /// use dummymp::engine::ForeignWorker;
    /// let worker = ForeignWorker::new("/usr/bin/python3").args(["-u"]);
    /// assert_eq!(worker.program(), "/usr/bin/python3");
    /// ```
    pub fn program(&self) -> &OsStr {
        &self.program
    }

    /// Whether workers are copies of this process.
    ///
    /// ```
    /// use dummymp::engine::ForeignWorker;
    /// assert!(!ForeignWorker::new("python3").is_forked());
    /// ```
    pub fn is_forked(&self) -> bool {
        self.fork.is_some()
    }
}

/// What a task runs.
pub(crate) enum Work {
    /// A function, in a worker.
    Call(Call),
    /// A command.
    Command(Command),
    /// A command built when the task starts.
    Deferred(CommandBuilder),
}

/// One unit of work for the [`Engine`](crate::engine::Engine): a function call (run
/// in a worker, a copy of this program) or a [`Command`], with its
/// [`TaskOptions`] and its [`OutputRoute`].
///
/// ```
/// use dummymp::engine::TaskSpec;
/// use dummymp::{Command, TaskOptions};
///
/// fn square(x: u64) -> u64 { x * x }
///
/// let call = TaskSpec::call(square, 7)?;
/// assert_eq!(call.name(), "fn(u64) -> u64");
/// let command = TaskSpec::command(Command::new("true"))
///     .with_options(TaskOptions::new().retries(2));
/// assert_eq!(command.name(), "true");
/// # Ok::<(), dummymp::Error>(())
/// ```
pub struct TaskSpec {
    pub(crate) work: Work,
    pub(crate) options: TaskOptions,
    pub(crate) output: OutputRoute,
    pub(crate) name: Cow<'static, str>,
    pub(crate) memory_key: Option<Cow<'static, str>>,
    /// Whether the front end decodes the returned value from the pieces a
    /// big one arrives in ([`DummyMp`](crate::DummyMp) does); else the
    /// engine joins them, for [`TaskReport::returned_bytes`](crate::TaskReport::returned_bytes).
    pub(crate) decoded_from_pieces: bool,
}

impl TaskSpec {
    /// A call of `function(args)` in a worker. `function` is a function
    /// item or a closure that captures nothing (see
    /// [`TaskFunction`](crate::TaskFunction)); `args` is serialised now.
    ///
    /// ```
    /// # dummymp::init();
    /// use dummymp::engine::TaskSpec;
    /// use dummymp::{DummyMp, Priority};
    /// fn add((a, b): (u32, u32)) -> u32 { a + b }
    /// let spec = TaskSpec::call(add, (2, 3))?;
    /// assert!(spec.is_call());
    /// let mut mp = DummyMp::new();
    /// mp.set_priority_mode(Priority::Nuclear);
    /// let id = mp.run_spec(spec);
    /// mp.process_until_done()?;
    /// assert_eq!(mp.report(id).unwrap().returned_bytes(), Some(&[5][..])); // postcard's 5u32
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::EncodeArguments`] when `args` cannot be serialised;
    /// [`Error::ArgumentsTooLarge`] when they take more than
    /// [`MESSAGE_LIMIT`](crate::MESSAGE_LIMIT) bytes encoded.
    pub fn call<F, Signature>(function: F, args: F::Args) -> Result<TaskSpec, Error>
    where
        F: callable::TaskFunction<Signature>,
    {
        let name = callable::short_type_name(std::any::type_name::<Signature>());
        let args =
            crate::encoded::encode_within(&args, crate::MESSAGE_LIMIT).map_err(|source| {
                match source {
                    postcard::Error::SerializeBufferFull => Error::ArgumentsTooLarge {
                        function: name,
                        limit: crate::MESSAGE_LIMIT,
                    },
                    source => Error::EncodeArguments {
                        function: name,
                        source,
                    },
                }
            })?;
        let (entry, function) = callable::offsets_of(function.into_pointer());
        // The function itself, not its signature: two functions of one
        // signature may need very different memory. Its path tells people
        // which it is; its address tells closures of one function apart.
        let memory_key = format!("{} @{function:#x}", std::any::type_name::<F>());
        Ok(TaskSpec {
            work: Work::Call(Call {
                target: CallTarget::Function { entry, function },
                args,
            }),
            options: TaskOptions::default(),
            output: OutputRoute::default(),
            name: Cow::Borrowed(name),
            memory_key: Some(Cow::Owned(memory_key)),
            decoded_from_pieces: false,
        })
    }

    /// A call of a foreign worker (see [`foreign`](crate::foreign)): the
    /// worker started from `worker` is handed `payload`; `name` names the
    /// task in reports and logs. A payload of more than
    /// [`MESSAGE_LIMIT`](crate::MESSAGE_LIMIT) bytes cannot travel: the
    /// task then ends as
    /// [`Outcome::FailedToStart`](crate::Outcome::FailedToStart), naming
    /// the limit.
    ///
    /// ```
    /// use dummymp::engine::{ForeignWorker, TaskSpec};
    /// let python = ForeignWorker::new("python3").args(["-m", "my_worker"]);
    /// let spec = TaskSpec::foreign(python, b"pickled call".to_vec(), "resize");
    /// assert!(spec.is_call());
    /// assert_eq!(spec.name(), "resize");
    /// ```
    pub fn foreign(
        worker: ForeignWorker,
        payload: Vec<u8>,
        name: impl Into<Cow<'static, str>>,
    ) -> TaskSpec {
        TaskSpec {
            work: Work::Call(Call {
                target: CallTarget::Foreign(worker),
                args: payload,
            }),
            options: TaskOptions::default(),
            output: OutputRoute::default(),
            name: name.into(),
            memory_key: None,
            decoded_from_pieces: false,
        }
    }

    /// A command.
    ///
    /// ```
    /// use dummymp::engine::TaskSpec;
    /// let spec = TaskSpec::command(dummymp::Command::new("gzip").arg("-9"));
    /// assert!(!spec.is_call());
    /// assert_eq!(spec.name(), "gzip -9");
    /// ```
    pub fn command(command: Command) -> TaskSpec {
        let name = Cow::Owned(command.display());
        TaskSpec {
            work: Work::Command(command),
            options: TaskOptions::default(),
            output: OutputRoute::default(),
            name,
            memory_key: None,
            decoded_from_pieces: false,
        }
    }

    /// A command that `build` makes when the task starts (each attempt),
    /// knowing its slot; `name` names it in reports and logs.
    ///
    /// ```
    /// # dummymp::init();
    /// use dummymp::engine::TaskSpec;
    /// use dummymp::{Command, DummyMp, OutputMode, Priority};
    /// let mut mp = DummyMp::new();
    /// mp.set_priority_mode(Priority::Nuclear);
    /// mp.set_output_mode(OutputMode::Captured);
    /// let spec = TaskSpec::command_with("echo slot", |start| {
    ///     Command::new("echo").arg(format!("slot {} attempt {}", start.slot, start.attempt))
    /// });
    /// let id = mp.run_spec(spec);
    /// mp.process_until_done()?;
    /// assert_eq!(mp.report(id).unwrap().stdout, b"slot 1 attempt 1\n");
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn command_with(
        name: impl Into<Cow<'static, str>>,
        build: impl FnMut(&StartInfo) -> Command + Send + 'static,
    ) -> TaskSpec {
        TaskSpec {
            work: Work::Deferred(Box::new(build)),
            options: TaskOptions::default(),
            output: OutputRoute::default(),
            name: name.into(),
            memory_key: None,
            decoded_from_pieces: false,
        }
    }

    /// Sets the options.
    ///
    /// ```
    /// use dummymp::engine::TaskSpec;
    /// use dummymp::{Command, TaskOptions};
    /// let spec = TaskSpec::command(Command::new("true")).with_options(TaskOptions::new().retries(3));
    /// assert_eq!(spec.options().get_retries(), 3);
    /// ```
    pub fn with_options(mut self, options: TaskOptions) -> TaskSpec {
        self.options = options;
        self
    }

    /// Sets where the output goes.
    ///
    /// ```
    /// # dummymp::init();
    /// use dummymp::engine::{Engine, Event, OutputRoute, TaskSpec};
    /// use dummymp::{Command, Priority, Scheduler};
    /// let mut engine = Engine::new(Scheduler::new(Priority::Nuclear, 0));
    /// engine.submit(TaskSpec::command(Command::new("echo").arg("hi")).with_output(OutputRoute::Events));
    /// let mut printed = Vec::new();
    /// while !engine.is_idle() {
    ///     engine.process(&mut |event: Event<'_>| {
    ///         if let Event::Output { data, .. } = event {
    ///             printed.extend_from_slice(data);
    ///         }
    ///     })?;
    ///     if !engine.is_idle() {
    ///         engine.wait(None, &[])?;
    ///     }
    /// }
    /// assert_eq!(printed, b"hi\n");
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn with_output(mut self, output: OutputRoute) -> TaskSpec {
        self.output = output;
        self
    }

    /// Sets the name reports and logs use.
    ///
    /// ```
    /// use dummymp::engine::TaskSpec;
    /// let spec = TaskSpec::command(dummymp::Command::new("true")).with_name("nothing");
    /// assert_eq!(spec.name(), "nothing");
    /// ```
    pub fn with_name(mut self, name: impl Into<Cow<'static, str>>) -> TaskSpec {
        self.name = name.into();
        self
    }

    /// Sets what the memory the task needs is learned under: tasks of one
    /// key are expected to need about as much as each other (the default
    /// key is the function for a call, such as `app::square @0x1f40`, and
    /// the name otherwise; a front end running one command template over
    /// many inputs uses the template).
    ///
    /// ```
    /// use dummymp::engine::TaskSpec;
    /// use dummymp::Command;
    /// let spec = TaskSpec::command(Command::new("convert").arg("a.png")).with_memory_key("convert {}");
    /// assert_eq!(spec.name(), "convert a.png");
    /// assert_eq!(spec.memory_key(), "convert {}");
    /// ```
    pub fn with_memory_key(mut self, key: impl Into<Cow<'static, str>>) -> TaskSpec {
        self.memory_key = Some(key.into());
        self
    }

    /// What the memory the task needs is learned under.
    ///
    /// ```
    /// use dummymp::engine::TaskSpec;
    ///
    /// fn square(x: u64) -> u64 { x * x }
    /// fn double(x: u64) -> u64 { x * 2 }
    ///
    /// // One signature, two functions: learned apart.
    /// let a = TaskSpec::call(square, 7)?;
    /// let b = TaskSpec::call(double, 7)?;
    /// assert_eq!(a.name(), b.name());
    /// assert_ne!(a.memory_key(), b.memory_key());
    /// assert!(a.memory_key().contains("square"));
    /// assert_eq!(a.memory_key(), TaskSpec::call(square, 8)?.memory_key());
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn memory_key(&self) -> &str {
        self.memory_key.as_deref().unwrap_or(&self.name)
    }

    /// The name reports and logs use.
    ///
    /// ```
    /// use dummymp::engine::TaskSpec;
    /// fn square(x: u64) -> u64 { x * x }
    /// assert_eq!(TaskSpec::command(dummymp::Command::shell("ls | wc -l")).name(), "ls | wc -l");
    /// assert_eq!(TaskSpec::call(square, 3)?.name(), "fn(u64) -> u64");
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The options.
    ///
    /// ```
    /// use dummymp::engine::TaskSpec;
    /// use dummymp::TaskOptions;
    /// let spec = TaskSpec::command(dummymp::Command::new("true"));
    /// assert_eq!(spec.options(), &TaskOptions::new());
    /// ```
    pub fn options(&self) -> &TaskOptions {
        &self.options
    }

    /// Whether it runs in a worker (a function or foreign call, as opposed
    /// to a command).
    ///
    /// ```
    /// use dummymp::engine::TaskSpec;
    /// fn one() -> u8 { 1 }
    /// assert!(TaskSpec::call(one, ())?.is_call());
    /// assert!(!TaskSpec::command(dummymp::Command::new("true")).is_call());
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn is_call(&self) -> bool {
        matches!(self.work, Work::Call(_))
    }
}

impl fmt::Debug for TaskSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.work {
            Work::Call(_) => "call",
            Work::Command(_) => "command",
            Work::Deferred(_) => "deferred command",
        };
        f.debug_struct("TaskSpec")
            .field("kind", &kind)
            .field("name", &self.name)
            .field("options", &self.options)
            .field("output", &self.output)
            .finish()
    }
}
