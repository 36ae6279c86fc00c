//! `dummymp`: run shell commands in parallel, considerately.
//!
//! The scheduling decisions (priority modes, foreign-load measurement,
//! usable CPUs, process cap) are the `dummymp` library's [`Scheduler`]; this
//! program feeds it and runs the jobs.
//!
//! | what | module |
//! |---|---|
//! | options and `--help` | `options` |
//! | command words and `:::`/`::::` | `command_line` |
//! | inputs: combinations, standard input | `inputs` |
//! | replacement strings, direct or `sh -c` | `template`, `path_parts`, `quoting`, `shell_context` |
//! | `-j` and the scheduler settings | `concurrency` |
//! | the event loop | `runner` |
//! | starting a job | `spawn` |
//! | a job's state | `job`, `slots` |
//! | ending process groups | `process_groups` |
//! | signals | `signals` |
//! | printing output | `output` |
//! | `--joblog`, `--resume`, `--results` | `job_log`, `resume`, `results` |
//! | `--halt` | `halt` |
//! | `--bar` | `progress` |
//! | durations and sizes (`1h30m`, `2G`) | `units` |
//! | `--dry-run` | `dry_run` |
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
mod path_parts;
mod process_groups;
mod progress;
mod quoting;
mod results;
mod resume;
mod runner;
mod shell_context;
mod signals;
mod slots;
mod spawn;
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
