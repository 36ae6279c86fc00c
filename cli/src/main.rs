//! `dummymp`: run shell commands in parallel, considerately.
//!
//! A front end over the `dummymp` library's engine: the library starts,
//! watches, times out, ends and reaps the jobs and its [`Scheduler`] decides
//! how many run (priority modes, foreign load, usable CPUs, the cap); this
//! program reads the inputs, builds each job's command from the template,
//! and prints, logs and records what the jobs did.
//!
//! | what | module |
//! |---|---|
//! | from the arguments to a finished run | `app` |
//! | options and `--help` | `options` |
//! | command words and `:::`/`::::` | `command_line` |
//! | inputs: combinations, standard input | `inputs` (`combinations`, `records`) |
//! | replacement strings, direct or `sh -c` | `template` (`parse`, `render`) |
//! | the quoting context a value lands in; quoting it; `{/}`, `{.}` | `template::shell_context`, `template::quoting`, `template::path_parts` |
//! | `-j` and the scheduler settings | `concurrency` |
//! | the run's loop: jobs to the engine, its events to the screen and files | `runner` |
//! | submitting jobs; each engine event; why jobs wait; a finished job (logged, counted, printed, `--halt`); stopping | `runner::submitting`, `events`, `explaining`, `finishing`, `stopping` |
//! | a job's command; how it ended (the library's `Outcome` as GNU parallel's numbers) | `job` |
//! | stop signals (Ctrl-C), Ctrl-Z | `signals` |
//! | printing output; holding it until then | `output`, `output_buffer` |
//! | `--joblog`, `--resume`, `--results` | `job_log`, `resume`, `results` |
//! | `--halt` | `halt` |
//! | `--bar` | `progress` |
//! | durations and sizes (`1h30m`, `2G`) | `units` |
//! | `--dry-run` | `dry_run` |
//! | errors | `error` |
//! | exit statuses | `exit_status` |
//!
//! [`Scheduler`]: dummymp::Scheduler

mod app;
mod command_line;
mod concurrency;
mod dry_run;
mod error;
mod exit_status;
mod halt;
mod inputs;
mod job;
mod job_log;
mod options;
mod output;
mod output_buffer;
mod progress;
mod results;
mod resume;
mod runner;
mod signals;
mod template;
mod units;

use std::process::ExitCode;

fn main() -> ExitCode {
    match app::run(std::env::args_os()) {
        Ok(status) => ExitCode::from(status),
        Err(error) => {
            eprintln!("dummymp: {error}");
            ExitCode::from(exit_status::USAGE_ERROR)
        }
    }
}
