//! [`Command`]: an external program to run as a task, in the vocabulary of
//! [`std::process::Command`].

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::{Path, PathBuf};

/// The shell that runs [`Command::shell`] lines.
pub const SHELL: &str = "/bin/sh";

/// An external program to run as a task: a program and its arguments, or a
/// shell line run by `/bin/sh -c`, with optional changes to its environment
/// and working directory.
///
/// Its standard input is `/dev/null`; its standard output and error are
/// handled like a function task's (see [`OutputMode`](crate::OutputMode)).
/// It runs in a process group of its own, like every task.
///
/// ```
/// # dummymp::init();
/// use dummymp::{Command, DummyMp, Outcome, OutputMode};
///
/// let mut mp = DummyMp::new();
/// mp.set_output_mode(OutputMode::Captured);
/// let listing = mp.run_command(Command::new("ls").arg("/"))?;
/// let piped = mp.run_command(Command::shell("echo $GREETING | tr a-z A-Z").env("GREETING", "hi"))?;
/// mp.process_until_done()?;
/// assert_eq!(mp.outcome(listing), Some(&Outcome::Exited { code: 0 }));
/// assert_eq!(mp.report(piped).unwrap().stdout, b"HI\n");
/// # Ok::<(), dummymp::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Command {
    program: OsString,
    args: Vec<OsString>,
    /// The line, for a shell command (its arguments are `-c` and the line).
    shell_line: Option<OsString>,
    env: Vec<(OsString, Option<OsString>)>,
    env_clear: bool,
    current_dir: Option<PathBuf>,
}

impl Command {
    /// Runs `program` (looked up in `PATH` when it has no `/`) with no
    /// arguments yet.
    ///
    /// ```
    /// use dummymp::Command;
    /// let gzip = Command::new("gzip");
    /// assert_eq!(gzip.get_program(), "gzip");
    /// assert_eq!(gzip.get_args().count(), 0);
    /// ```
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        Command {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            shell_line: None,
            env: Vec::new(),
            env_clear: false,
            current_dir: None,
        }
    }

    /// Runs `line` with `/bin/sh -c`: pipes, redirections and variables
    /// work, and so does everything else the shell does, so never paste
    /// untrusted text into `line`; pass it through the environment instead
    /// (`Command::shell("grep -- \"$PATTERN\" f").env("PATTERN", text)`).
    ///
    /// ```
    /// use dummymp::Command;
    /// let count = Command::shell("ls | wc -l");
    /// assert_eq!(count.get_program(), dummymp::SHELL);
    /// assert_eq!(count.get_args().collect::<Vec<_>>(), ["-c", "ls | wc -l"]);
    /// ```
    pub fn shell(line: impl AsRef<OsStr>) -> Command {
        let line = line.as_ref().to_owned();
        let mut command = Command::new(SHELL);
        command.args = vec![OsString::from("-c"), line.clone()];
        command.shell_line = Some(line);
        command
    }

    /// Adds an argument.
    ///
    /// ```
    /// use dummymp::Command;
    /// let gzip = Command::new("gzip").arg("-9").arg("big file.txt");
    /// assert_eq!(gzip.get_args().collect::<Vec<_>>(), ["-9", "big file.txt"]);
    /// ```
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Command {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Adds arguments.
    ///
    /// ```
    /// use dummymp::Command;
    /// let tar = Command::new("tar").args(["-czf", "out.tgz", "src"]);
    /// assert_eq!(tar.display(), "tar -czf out.tgz src");
    /// ```
    pub fn args<I, S>(mut self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets an environment variable for the task.
    ///
    /// ```
    /// # dummymp::init();
    /// use dummymp::{Command, DummyMp, OutputMode, Priority};
    /// let mut mp = DummyMp::new();
    /// mp.set_priority_mode(Priority::Nuclear);
    /// mp.set_output_mode(OutputMode::Captured);
    /// let task = mp.run_command(Command::shell("echo $NAME").env("NAME", "world"))?;
    /// mp.process_until_done()?;
    /// assert_eq!(mp.report(task).unwrap().stdout, b"world\n");
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Command {
        self.env
            .push((key.as_ref().to_owned(), Some(value.as_ref().to_owned())));
        self
    }

    /// Sets environment variables for the task.
    ///
    /// ```
    /// use dummymp::Command;
    /// let make = Command::new("make").envs([("CC", "clang"), ("JOBS", "4")]);
    /// let set: Vec<_> = make.get_envs().collect();
    /// assert_eq!(set, [("CC".as_ref(), Some("clang".as_ref())), ("JOBS".as_ref(), Some("4".as_ref()))]);
    /// ```
    pub fn envs<I, K, V>(mut self, vars: I) -> Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        for (key, value) in vars {
            self = self.env(key, value);
        }
        self
    }

    /// Removes an environment variable from the task's environment.
    ///
    /// ```
    /// use dummymp::Command;
    /// let ls = Command::new("ls").env_remove("LS_COLORS");
    /// assert_eq!(ls.get_envs().collect::<Vec<_>>(), [("LS_COLORS".as_ref(), None)]);
    /// ```
    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Command {
        self.env.push((key.as_ref().to_owned(), None));
        self
    }

    /// Starts the task with an empty environment (plus what
    /// [`env`](Command::env) adds).
    ///
    /// ```
    /// # dummymp::init();
    /// use dummymp::{Command, DummyMp, OutputMode, Priority};
    /// let mut mp = DummyMp::new();
    /// mp.set_priority_mode(Priority::Nuclear);
    /// mp.set_output_mode(OutputMode::Captured);
    /// let env = Command::new("/usr/bin/env").env_clear().env("ONLY", "this");
    /// assert!(env.get_env_clear());
    /// let task = mp.run_command(env)?;
    /// mp.process_until_done()?;
    /// assert_eq!(mp.report(task).unwrap().stdout, b"ONLY=this\n");
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn env_clear(mut self) -> Command {
        self.env_clear = true;
        self.env.clear();
        self
    }

    /// Runs the task in `dir` instead of the parent's working directory
    /// (as it is when the task starts).
    ///
    /// ```
    /// # dummymp::init();
    /// use dummymp::{Command, DummyMp, OutputMode, Priority};
    /// let mut mp = DummyMp::new();
    /// mp.set_priority_mode(Priority::Nuclear);
    /// mp.set_output_mode(OutputMode::Captured);
    /// let task = mp.run_command(Command::new("pwd").current_dir("/"))?;
    /// mp.process_until_done()?;
    /// assert_eq!(mp.report(task).unwrap().stdout, b"/\n");
    /// # Ok::<(), dummymp::Error>(())
    /// ```
    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Command {
        self.current_dir = Some(dir.as_ref().to_owned());
        self
    }

    /// The program.
    ///
    /// ```
    /// use dummymp::Command;
    /// assert_eq!(Command::new("ls").arg("-l").get_program(), "ls");
    /// assert_eq!(Command::shell("ls -l").get_program(), "/bin/sh");
    /// ```
    pub fn get_program(&self) -> &OsStr {
        &self.program
    }

    /// The arguments (for a shell command: `-c` and the line).
    ///
    /// ```
    /// use dummymp::Command;
    /// let ls = Command::new("ls").args(["-l", "/tmp"]);
    /// assert_eq!(ls.get_args().collect::<Vec<_>>(), ["-l", "/tmp"]);
    /// ```
    pub fn get_args(&self) -> impl Iterator<Item = &OsStr> {
        self.args.iter().map(OsString::as_os_str)
    }

    /// The shell line, for a command made with [`Command::shell`].
    ///
    /// ```
    /// use dummymp::Command;
    /// assert_eq!(Command::shell("ls | wc -l").get_shell_line(), Some("ls | wc -l".as_ref()));
    /// assert_eq!(Command::new("ls").get_shell_line(), None);
    /// ```
    pub fn get_shell_line(&self) -> Option<&OsStr> {
        self.shell_line.as_deref()
    }

    /// The environment changes: `(key, Some(value))` sets, `(key, None)`
    /// removes.
    ///
    /// ```
    /// use dummymp::Command;
    /// let cc = Command::new("cc").env("LANG", "C").env_remove("CFLAGS");
    /// let changes: Vec<_> = cc.get_envs().collect();
    /// assert_eq!(changes, [("LANG".as_ref(), Some("C".as_ref())), ("CFLAGS".as_ref(), None)]);
    /// ```
    pub fn get_envs(&self) -> impl Iterator<Item = (&OsStr, Option<&OsStr>)> {
        self.env.iter().map(|(k, v)| (k.as_os_str(), v.as_deref()))
    }

    /// Whether the environment starts empty.
    ///
    /// ```
    /// use dummymp::Command;
    /// assert!(!Command::new("env").get_env_clear());
    /// assert!(Command::new("env").env_clear().get_env_clear());
    /// ```
    pub fn get_env_clear(&self) -> bool {
        self.env_clear
    }

    /// The working directory, when set.
    ///
    /// ```
    /// use dummymp::Command;
    /// use std::path::Path;
    /// assert_eq!(Command::new("ls").get_current_dir(), None);
    /// assert_eq!(Command::new("ls").current_dir("/tmp").get_current_dir(), Some(Path::new("/tmp")));
    /// ```
    pub fn get_current_dir(&self) -> Option<&Path> {
        self.current_dir.as_deref()
    }

    /// The command as a user would type it: the shell line, or the program
    /// and its arguments separated by spaces.
    ///
    /// ```
    /// use dummymp::Command;
    /// assert_eq!(Command::new("gzip").args(["-9", "a b"]).display(), "gzip -9 a b");
    /// assert_eq!(Command::shell("ls | wc -l").display(), "ls | wc -l");
    /// ```
    pub fn display(&self) -> String {
        match &self.shell_line {
            Some(line) => line.to_string_lossy().into_owned(),
            None => std::iter::once(&self.program)
                .chain(&self.args)
                .map(|word| word.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" "),
        }
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Command")
            .field("program", &self.program)
            .field("args", &self.args)
            .field("env", &self.env)
            .field("env_clear", &self.env_clear)
            .field("current_dir", &self.current_dir)
            .finish()
    }
}
