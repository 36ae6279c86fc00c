//! The `log` logger of a worker: every record goes to the parent, which
//! hands it to its own logger.

use log::{LevelFilter, Log, Metadata, Record};

use super::Channel;
use crate::protocol::{LogRecord, WorkerMessage};

struct ForwardingLogger {
    channel: Channel,
}

impl Log for ForwardingLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        self.channel.send(&message(record));
    }

    fn flush(&self) {}
}

/// `record` as it travels to the parent.
fn message(record: &Record<'_>) -> WorkerMessage {
    WorkerMessage::Log(LogRecord {
        level: record.level() as u8,
        target: record.target().to_string(),
        module_path: record.module_path().map(str::to_string),
        file: record.file().map(str::to_string),
        line: record.line(),
        message: within_limit(record.args().to_string()),
    })
}

/// Sends `record` to the parent, whatever logger this process has, when it
/// is a worker (see [`foreign::forward_log`](crate::foreign::forward_log)),
/// and says whether it is one (a record a parent that is gone cannot take
/// is dropped, not logged here).
pub(crate) fn forward_log(record: &Record<'_>) -> bool {
    match super::CHANNEL.get() {
        Some(channel) => {
            channel.send(&message(record));
            true
        }
        None => false,
    }
}

/// `message`, cut (and saying so) if it is too long for one message to
/// the parent.
fn within_limit(mut message: String) -> String {
    let limit = crate::MESSAGE_LIMIT / 2;
    if message.len() <= limit {
        return message;
    }
    let full = message.len();
    let mut end = limit;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    message.truncate(end);
    message.push_str(&format!(
        " [cut from {full} bytes: a record must fit in a message of {}]",
        crate::encoded::limit_text()
    ));
    message
}

/// Installs the forwarding logger, passing on records up to `level` (the
/// parent's `log::max_level()`, as a number).
pub(super) fn install(channel: Channel, level: u8) {
    let level = LevelFilter::iter()
        .find(|l| *l as u8 == level)
        .unwrap_or(LevelFilter::Trace);
    if log::set_boxed_logger(Box::new(ForwardingLogger { channel })).is_ok() {
        log::set_max_level(level);
    }
}
