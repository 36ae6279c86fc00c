//! `--bar`: a progress bar with an ETA on standard error.
//!
//! By default the bar is shown only when standard error is a terminal and
//! more than [`AUTO_MIN_JOBS`]` - 1` jobs are queued; `--bar` shows it even
//! when standard error is not a terminal, `--no-bar` never.

use std::io::{self, IsTerminal, Write};
use std::os::fd::AsFd;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle, TermLike};

/// With the default choice, the bar appears once this many jobs are known.
pub const AUTO_MIN_JOBS: u64 = 5;

/// How often a visible bar is redrawn while nothing happens (for its ETA
/// and elapsed time).
const TICK: Duration = Duration::from_secs(1);

/// How often a bar drawn to something that is not a terminal may redraw.
const PLAIN_REFRESH_HZ: u8 = 2;

/// Whether to show a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarChoice {
    /// When standard error is a terminal and enough jobs are queued.
    Auto,
    /// Always (`--bar`).
    Always,
    /// Never (`--no-bar`).
    Never,
}

/// The `--bar` display: how many jobs are known, and the progress bar
/// (indicatif's), created once it is wanted.
#[derive(Debug)]
pub struct ProgressDisplay {
    choice: BarChoice,
    stderr_is_terminal: bool,
    known_jobs: u64,
    bar: Option<ProgressBar>,
}

impl ProgressDisplay {
    /// No bar yet.
    pub(crate) fn new(choice: BarChoice) -> ProgressDisplay {
        ProgressDisplay {
            choice,
            stderr_is_terminal: io::stderr().is_terminal(),
            known_jobs: 0,
            bar: None,
        }
    }

    /// Counts `count` more jobs that will run. Returns the bar when this
    /// call created it.
    pub(crate) fn add_jobs(&mut self, count: u64) -> Option<ProgressBar> {
        self.known_jobs += count;
        if let Some(bar) = &self.bar {
            bar.set_length(self.known_jobs);
            return None;
        }
        let wanted = match self.choice {
            BarChoice::Always => true,
            BarChoice::Never => false,
            BarChoice::Auto => self.stderr_is_terminal && self.known_jobs >= AUTO_MIN_JOBS,
        };
        if !wanted {
            return None;
        }
        let target = if self.stderr_is_terminal {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::term_like_with_hz(Box::new(PlainStderr), PLAIN_REFRESH_HZ)
        };
        let bar = ProgressBar::with_draw_target(Some(self.known_jobs), target);
        let style = ProgressStyle::with_template(
            "{elapsed_precise} [{wide_bar}] {pos}/{len} jobs, {msg}ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style.progress_chars("=> "));
        bar.enable_steady_tick(TICK);
        self.bar = Some(bar.clone());
        Some(bar)
    }

    /// Counts one finished job.
    pub(crate) fn job_done(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    /// Shows `message` (how many jobs run, are paused, why jobs wait)
    /// before the ETA.
    pub(crate) fn set_message(&self, message: String) {
        if let Some(bar) = &self.bar {
            bar.set_message(message);
        }
    }

    /// Leaves the bar in its final state: full when every job ran, else
    /// where the run stopped.
    pub(crate) fn finish(&self, every_job_ran: bool) {
        if let Some(bar) = &self.bar {
            bar.set_message("");
            if every_job_ran {
                bar.finish();
            } else {
                bar.abandon();
            }
        }
    }
}

/// Draws on standard error when it is not a terminal (`--bar` into a file
/// or pipe): plain text, 80 columns.
#[derive(Debug)]
struct PlainStderr;

impl PlainStderr {
    fn put(&self, text: &str) -> io::Result<()> {
        crate::output::write_fd(io::stderr().as_fd(), text.as_bytes())
    }
}

impl TermLike for PlainStderr {
    fn width(&self) -> u16 {
        80
    }

    fn move_cursor_up(&self, n: usize) -> io::Result<()> {
        self.put(&format!("\x1b[{n}A"))
    }

    fn move_cursor_down(&self, n: usize) -> io::Result<()> {
        self.put(&format!("\x1b[{n}B"))
    }

    fn move_cursor_right(&self, n: usize) -> io::Result<()> {
        self.put(&format!("\x1b[{n}C"))
    }

    fn move_cursor_left(&self, n: usize) -> io::Result<()> {
        self.put(&format!("\x1b[{n}D"))
    }

    fn write_line(&self, s: &str) -> io::Result<()> {
        self.put(&format!("{s}\n"))
    }

    fn write_str(&self, s: &str) -> io::Result<()> {
        self.put(s)
    }

    fn clear_line(&self) -> io::Result<()> {
        self.put("\r")
    }

    fn flush(&self) -> io::Result<()> {
        io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_means_never() {
        let mut progress = ProgressDisplay::new(BarChoice::Never);
        assert!(progress.add_jobs(1000).is_none());
        assert!(progress.bar.is_none());
    }

    #[test]
    fn always_creates_the_bar_once_and_grows_it() {
        let mut progress = ProgressDisplay::new(BarChoice::Always);
        let bar = progress.add_jobs(2).expect("created");
        assert!(progress.add_jobs(3).is_none());
        assert_eq!(bar.length(), Some(5));
        bar.set_draw_target(ProgressDrawTarget::hidden());
        progress.job_done();
        assert_eq!(bar.position(), 1);
        progress.finish(false);
        assert_eq!(
            bar.position(),
            1,
            "a stopped run leaves the bar where it was"
        );
    }
}
