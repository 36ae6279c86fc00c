//! From the command line to a finished run: parses the options, reads the
//! inputs, checks a `--resume` job log, and hands everything to the event
//! loop (or to `--dry-run`).

use std::ffi::OsString;

use clap::Parser;
use clap::error::ErrorKind;
use dummymp::TaskOptions;
use dummymp::engine::Engine;

use crate::command_line::CommandLine;
use crate::concurrency::scheduler_for;
use crate::dry_run;
use crate::error::CliError;
use crate::inputs::JobInputs;
use crate::job_log::JobLogWriter;
use crate::options::Options;
use crate::output::{OutputMode, Printer};
use crate::progress::{BarChoice, Progress};
use crate::results::ResultsWriter;
use crate::resume::{ResumeMode, ResumePlan};
use crate::runner::{RunParts, RunSettings, Runner, SCRATCH_SIZE};
use crate::signals::SignalPipes;
use crate::template::{JobValues, Template};

/// Runs `dummymp` with these arguments (the program name first); returns
/// the exit status.
pub fn run(args: impl IntoIterator<Item = OsString>) -> Result<u8, CliError> {
    let options = match Options::try_parse_from(args) {
        Ok(options) => options,
        Err(error) => return help_or_usage_error(error),
    };
    let line = CommandLine::split(options.command)?;
    let separator = if options.null { 0 } else { b'\n' };
    let mut inputs = JobInputs::new(line.sources, separator)?;
    let template = Template::parse(&line.command, inputs.source_count())?;
    let mut scratch = vec![0u8; SCRATCH_SIZE];

    let resume_mode = if options.resume {
        Some(ResumeMode::Logged)
    } else if options.resume_failed {
        Some(ResumeMode::Succeeded)
    } else {
        None
    };
    let resume = match (resume_mode, &options.joblog) {
        (Some(mode), Some(path)) => {
            let plan = ResumePlan::read(path, mode)?;
            // With {%} the command depends on the slot a job got, which
            // differs from run to run: such logs cannot be compared.
            if !template.uses_slot() {
                check_resume(&plan, &template, &mut inputs, &mut scratch)?;
            }
            Some(plan)
        }
        _ => None,
    };

    if options.dry_run {
        return dry_run::print_commands(&template, &mut inputs, resume.as_ref(), &mut scratch);
    }

    let appending = resume.is_some();
    let job_log = options
        .joblog
        .as_deref()
        .map(|path| JobLogWriter::open(path, appending))
        .transpose()?;
    let results = options
        .results
        .as_deref()
        .map(|path| ResultsWriter::open(path, appending))
        .transpose()?;

    let signals = SignalPipes::install()?;

    let output_mode = if options.line_buffer {
        OutputMode::LineBuffer
    } else {
        OutputMode::Group
    };
    let bar = if options.bar {
        BarChoice::Always
    } else if options.no_bar {
        BarChoice::Never
    } else {
        BarChoice::Auto
    };
    let mut engine = Engine::new(scheduler_for(options.priority, options.jobs));
    engine.set_nice(options.nice);
    engine.set_kill_grace(options.grace);
    if options.slurm {
        engine.set_launcher(dummymp::Launcher::slurm().map_err(CliError::Library)?);
    }
    let mut task_options = TaskOptions::new().retries(options.retries.saturating_sub(1));
    if let Some(timeout) = options.timeout {
        task_options = task_options.timeout(timeout);
    }
    Runner::new(RunParts {
        settings: RunSettings {
            template,
            output_mode,
            tag: options.tag,
            task_options,
            halt: options.halt.and_then(|halt| halt.0),
        },
        engine,
        signals,
        inputs,
        resume,
        printer: Printer::new(output_mode, options.keep_order, options.results.is_some()),
        progress: Progress::new(bar),
        job_log,
        results,
    })
    .run()
}

/// `--help` and `--version` print and succeed; any other clap error is a
/// usage error, reported as its first line.
fn help_or_usage_error(error: clap::Error) -> Result<u8, CliError> {
    match error.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => match error.print() {
            Ok(()) => Ok(0),
            // `dummymp --help | head`: the reader has seen enough.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                Ok(crate::exit_status::OUTPUT_CLOSED)
            }
            Err(e) => Err(CliError::Output(e)),
        },
        _ => Err(CliError::Usage(first_paragraph(
            &error.render().to_string(),
        ))),
    }
}

/// The first paragraph of a clap error message as one line, without its
/// `error: ` prefix (the usage and the hints that follow are left out).
fn first_paragraph(text: &str) -> String {
    let paragraph: Vec<&str> = text
        .lines()
        .map(str::trim)
        .take_while(|line| !line.is_empty())
        .collect();
    let line = paragraph.join(" ");
    line.strip_prefix("error: ").unwrap_or(&line).to_string()
}

/// Checks that the job log of an earlier run recorded the commands these
/// inputs give, reading standard input as far as the log goes.
fn check_resume(
    plan: &ResumePlan,
    template: &Template,
    inputs: &mut JobInputs,
    scratch: &mut [u8],
) -> Result<(), CliError> {
    let command_for = |seq: u64, values: &[Vec<u8>]| {
        template
            .invocation(&JobValues {
                seq,
                slot: 1,
                inputs: values,
            })
            .display()
    };
    match inputs {
        JobInputs::Combinations { combinations, .. } => {
            plan.check_commands(combinations.total(), |seq| {
                let values = combinations.at(seq - 1)?;
                Some(command_for(seq, &values))
            })
        }
        JobInputs::Stdin(records) => {
            let wanted = usize::try_from(plan.highest_seq()).unwrap_or(usize::MAX);
            records.read_until(wanted, scratch)?;
            plan.check_commands(records.ready_count() as u64, |seq| {
                let record = records.peek(usize::try_from(seq - 1).ok()?)?;
                Some(command_for(seq, &[record.to_vec()]))
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_errors_become_one_line() {
        let text = "error: the following required arguments were not provided:\n  \
                    --joblog <FILE>\n\nUsage: dummymp --joblog <FILE> --resume\n";
        assert_eq!(
            first_paragraph(text),
            "the following required arguments were not provided: --joblog <FILE>"
        );
        let text = "error: unexpected argument '--x' found\n\n  tip: use '-- --x'\n";
        assert_eq!(first_paragraph(text), "unexpected argument '--x' found");
    }
}
