//! From the command line to a finished run: parses the options, reads the
//! inputs, checks a `--resume` job log, and hands everything to the event
//! loop (or to `--dry-run`).

use std::ffi::OsString;

use clap::Parser;
use clap::error::ErrorKind;
use dummymp::TaskOptions;
use dummymp::engine::Engine;

use dummymp::Priority;
use regex::bytes::Regex;

use crate::command_line::{CommandLine, InputSource, SourceSpec};
use crate::concurrency::scheduler_for;
use crate::dry_run;
use crate::error::CliError;
use crate::inputs::{InputShape, JobInputs, LineLimit};
use crate::job_log::JobLogWriter;
use crate::options::{DEFAULT_MAX_CHARS, Options};
use crate::output::{OutputGrouping, Printer};
use crate::progress::{BarChoice, ProgressDisplay};
use crate::results::ResultsWriter;
use crate::resume::{CommandForms, ResumeMode, ResumePlan};
use crate::runner::{RunParts, RunSettings, Runner, SCRATCH_SIZE};
use crate::signals::SignalPipes;
use crate::template::{JobValues, Template, TemplateOptions};

/// Runs `dummymp` with these arguments (the program name first); returns
/// the exit status.
pub(crate) fn run(args: impl IntoIterator<Item = OsString>) -> Result<u8, CliError> {
    let options = match Options::try_parse_from(args) {
        Ok(options) => options,
        Err(error) => return help_or_usage_error(error),
    };
    let line = CommandLine::split(options.command.clone())?;
    let separator = if options.null { 0 } else { b'\n' };
    let mut inputs = JobInputs::new(input_sources(&options, line.sources), separator)?;
    let column_separator = options
        .colsep
        .as_deref()
        .map(|regex| Regex::new(regex).map_err(|e| CliError::ColumnSeparator(e.to_string())))
        .transpose()?;
    let fills_lines = options.context_replace || options.multiple || options.max_chars.is_some();
    let template_options = TemplateOptions {
        sources: match (&column_separator, options.max_args, fills_lines) {
            (None, None, false) => Some(inputs.source_count()),
            (None, Some(n), false) => Some(inputs.source_count() * n as usize),
            _ => None,
        },
        quote_command: options.quote,
        context_replace: options.context_replace,
    };
    let template = Template::parse_with(&line.command, template_options)?;
    let template_text = line
        .command
        .iter()
        .map(|word| word.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ");
    inputs.set_shape(InputShape {
        column_separator,
        max_args: options.max_args.map(|n| n as usize),
        line_limit: fills_lines.then(|| line_limit(&template, options.max_chars)),
        shuffle: options.shuf,
    })?;
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

    // --ungroup keeps our promise of whole lines: it is --line-buffer.
    let grouping = if options.line_buffer || options.ungroup {
        OutputGrouping::LineBuffer
    } else {
        OutputGrouping::Group
    };
    let bar = if options.bar || options.eta || options.progress {
        BarChoice::Always
    } else if options.no_bar {
        BarChoice::Never
    } else {
        BarChoice::Auto
    };
    let mut engine = Engine::new(scheduler_for(priority(&options), options.jobs));
    engine.set_nice(options.nice);
    engine.set_kill_grace(options.grace);
    engine.set_start_delay(options.delay);
    engine.scheduler_mut().set_memory_per_task(options.memfree);
    if options.slurm {
        engine.set_launcher(dummymp::Launcher::slurm().map_err(CliError::Library)?);
    }
    let mut task_options = TaskOptions::new().retries(options.retries.saturating_sub(1));
    if let Some(timeout) = options.timeout {
        task_options = task_options.timeout(timeout);
    }
    let mut printer = Printer::new(grouping, options.keep_order, options.results.is_some());
    printer.set_verbose(options.verbose);
    Runner::new(RunParts {
        settings: RunSettings {
            template,
            template_text,
            verbose: options.verbose,
            timeout: options.timeout,
            grouping,
            tag: options.tag,
            task_options,
            halt: options.halt.and_then(|halt| halt.0),
        },
        engine,
        signals,
        inputs,
        resume,
        printer,
        progress: ProgressDisplay::new(bar),
        job_log,
        results,
    })
    .run()
}

/// The priority mode: `--priority`, else generous with `--load` (which,
/// like GNU parallel's, holds jobs back while the machine is busy), else
/// normal.
fn priority(options: &Options) -> Priority {
    match (options.priority, options.load) {
        (Some(priority), _) => priority,
        (None, Some(_)) => Priority::Generous,
        (None, None) => Priority::Normal,
    }
}

/// The input sources: `-a` files first, then those after `:::`/`::::`;
/// with `--link` all linked.
fn input_sources(options: &Options, after_command: Vec<InputSource>) -> Vec<InputSource> {
    let mut sources: Vec<InputSource> = options
        .arg_files
        .iter()
        .map(|path| InputSource::combined(SourceSpec::File(path.clone())))
        .chain(after_command)
        .collect();
    if options.link {
        for source in sources.iter_mut().skip(1) {
            source.linked = true;
        }
    }
    sources
}

/// How many arguments fit on one command line of `template` (`-X`, `-m`,
/// `-s`): the line's length without arguments, and what each adds (its
/// rendering, and a separating space).
fn line_limit(template: &Template, max_chars: Option<usize>) -> LineLimit {
    let length = |template: &Template, values: &[Vec<u8>]| {
        let job = JobValues {
            seq: 1,
            slot: 1,
            inputs: values,
        };
        template.command_line(&job).map_or_else(
            // A refused value is refused when its job runs; here it only
            // needs a size.
            |_| values.iter().map(|v| v.len() + 3).sum::<usize>(),
            |line| line.len(),
        )
    };
    let base = length(template, &[]);
    let measured = template.clone();
    LineLimit {
        max_chars: max_chars.unwrap_or(DEFAULT_MAX_CHARS),
        base,
        cost: Box::new(move |values| length(&measured, values).saturating_sub(base) + 1),
    }
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
    let jobs = inputs.preview(plan.highest_seq(), scratch)?;
    plan.check_commands(jobs.len() as u64, |seq| {
        let values = jobs.get(usize::try_from(seq - 1).ok()?)?;
        let job = JobValues {
            seq,
            slot: 1,
            inputs: values,
        };
        Some(CommandForms {
            ours: template.command_line(&job).unwrap_or_default(),
            gnu: template.gnu_command_line(&job),
        })
    })
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
