//! What the parent and a worker say to each other, and how it is framed.
//!
//! The two talk only over the worker's standard input (parent to worker:
//! [`TaskRequest`]s, one at a time, each sent once the worker has finished
//! the one before; closing it ends the worker) and standard output (worker
//! to parent: [`WorkerMessage`]s, ending each task with
//! [`WorkerMessage::Finished`]). Each message is a little-endian `u32`
//! length followed by that many bytes of postcard.

use std::io::{self, Read};

use serde::{Deserialize, Serialize};

use crate::task::Stream;

/// Bumped whenever a message changes shape.
pub(crate) const PROTOCOL_VERSION: u32 = 3;

/// Frames larger than this are taken as a broken stream.
pub(crate) const MAX_FRAME_LEN: usize = 1 << 30;

/// Everything a worker needs to run one call.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct TaskRequest {
    /// [`PROTOCOL_VERSION`] of the parent.
    pub protocol: u32,
    /// Identity of the code that must run the call (the parent's
    /// executable, or the library that serves foreign calls); the worker
    /// refuses to run if its own differs.
    pub executable: Vec<u8>,
    /// The task's call index.
    pub task_id: u64,
    /// What to call.
    pub call: RequestedCall,
    /// The function's name, for messages.
    pub function_name: String,
    /// The parent's `log::max_level()`, so that records nobody wants are
    /// never sent.
    pub log_level: u8,
    /// The postcard-encoded argument, or a foreign call's payload.
    pub args: Vec<u8>,
    /// Whether the worker waits for another request once this one is done
    /// (a reused worker) instead of exiting.
    pub keep_alive: bool,
}

/// What a request asks the worker to call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum RequestedCall {
    /// A Rust function of the same executable build.
    Function {
        /// Where the typed entry point is, relative to the address anchor.
        entry: u64,
        /// Where the user's function is, relative to the address anchor.
        function: u64,
        /// Binds `entry` and `function` to the executable's identity (see
        /// `callable::seal`).
        seal: u64,
    },
    /// The payload, for the handler a foreign worker (the Python package)
    /// serves calls with.
    Payload,
}

/// A `log` record, as it travels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct LogRecord {
    pub level: u8,
    pub target: String,
    pub module_path: Option<String>,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub message: String,
}

/// How the call ended, as the worker saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum TaskResult {
    /// The function returned; its postcard-encoded value.
    Returned(Vec<u8>),
    /// The function panicked.
    Panicked {
        message: String,
        location: Option<String>,
    },
    /// The worker could not run the call or deliver its value.
    Failed(String),
    /// The worker could not set itself up for a reason that may pass (the
    /// system refused a thread): the parent treats it like a refused start.
    NotStarted { error: String, errno: Option<i32> },
    /// A foreign worker's call raised an exception.
    Raised {
        exception: String,
        message: String,
        traceback: String,
    },
}

/// One message from a worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum WorkerMessage {
    Log(LogRecord),
    /// Whole lines (each ending in a newline), except for a task's very
    /// last bytes without one, or a piece of an overlong line.
    Output {
        stream: Stream,
        data: Vec<u8>,
    },
    Finished(TaskResult),
}

/// Encodes one framed message.
pub(crate) fn encode_frame<T: Serialize>(message: &T) -> Result<Vec<u8>, postcard::Error> {
    let mut frame = postcard::to_extend(message, vec![0u8; 4])?;
    let len = u32::try_from(frame.len() - 4).map_err(|_| postcard::Error::SerializeBufferFull)?;
    frame[..4].copy_from_slice(&len.to_le_bytes());
    Ok(frame)
}

/// Reads one framed message, blocking. Memory grows with the bytes that
/// actually arrive, never with the length a frame claims.
pub(crate) fn read_frame(reader: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    reader.read_exact(&mut len)?;
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_FRAME_LEN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes"),
        ));
    }
    let mut payload = Vec::with_capacity(len.min(64 * 1024));
    let read = reader.take(len as u64).read_to_end(&mut payload)?;
    if read < len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("the frame was cut short after {read} of {len} bytes"),
        ));
    }
    Ok(payload)
}

/// Reads one framed message, blocking; `None` when the stream ends
/// cleanly before it (between messages).
pub(crate) fn read_frame_or_end(reader: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut first = [0u8; 1];
    loop {
        match reader.read(&mut first) {
            Ok(0) => return Ok(None),
            Ok(_) => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    read_frame(&mut first.chain(reader)).map(Some)
}

/// Reassembles frames from bytes that arrive in pieces.
#[derive(Debug, Default)]
pub(crate) struct FrameBuffer {
    bytes: Vec<u8>,
    start: usize,
}

impl FrameBuffer {
    /// Drops the frames already handed out, keeping an incomplete one.
    fn compact(&mut self) {
        if self.start > 0 && self.start == self.bytes.len() {
            self.bytes.clear();
            self.start = 0;
        } else if self.start > self.bytes.len() / 2 {
            self.bytes.drain(..self.start);
            self.start = 0;
        }
    }

    /// Reads what `fd` (non-blocking) holds, up to about `at_most` bytes,
    /// onto the end (into spare capacity: nothing is zeroed first).
    /// Returns how many bytes came (0 at end of file), or `None` when
    /// nothing is there yet.
    pub(crate) fn read_from(
        &mut self,
        fd: impl std::os::fd::AsFd,
        at_most: usize,
    ) -> io::Result<Option<usize>> {
        self.compact();
        crate::platform::read_now_onto(fd, &mut self.bytes, at_most)
    }

    /// Appends bytes that arrived some other way (tests, the fuzz entry).
    pub(crate) fn push(&mut self, data: &[u8]) {
        self.compact();
        self.bytes.extend_from_slice(data);
    }

    /// The next complete frame's payload, if one is in.
    pub(crate) fn next_frame(&mut self) -> io::Result<Option<&[u8]>> {
        let available = &self.bytes[self.start..];
        if available.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_le_bytes(available[..4].try_into().expect("four bytes")) as usize;
        if len > MAX_FRAME_LEN {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("frame of {len} bytes"),
            ));
        }
        if available.len() < 4 + len {
            return Ok(None);
        }
        let begin = self.start + 4;
        self.start = begin + len;
        Ok(Some(&self.bytes[begin..begin + len]))
    }

    /// Whether bytes of an incomplete frame are held.
    pub(crate) fn has_partial(&self) -> bool {
        self.start < self.bytes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_survive_any_split() {
        let messages = vec![
            WorkerMessage::Output {
                stream: Stream::Stdout,
                data: b"hello\n".to_vec(),
            },
            WorkerMessage::Log(LogRecord {
                level: 3,
                target: "t".into(),
                module_path: Some("m".into()),
                file: None,
                line: Some(7),
                message: "x".repeat(1000),
            }),
            WorkerMessage::Finished(TaskResult::Returned(vec![1, 2, 3])),
        ];
        let stream: Vec<u8> = messages
            .iter()
            .flat_map(|m| encode_frame(m).unwrap())
            .collect();
        for chunk in [1, 3, 7, 100, stream.len()] {
            let mut buffer = FrameBuffer::default();
            let mut decoded = Vec::new();
            for piece in stream.chunks(chunk) {
                buffer.push(piece);
                while let Some(frame) = buffer.next_frame().unwrap() {
                    decoded.push(postcard::from_bytes::<WorkerMessage>(frame).unwrap());
                }
            }
            assert_eq!(decoded, messages, "chunk size {chunk}");
            assert!(!buffer.has_partial());
        }
    }

    #[test]
    fn blocking_reader_reads_one_frame() {
        let request = TaskRequest {
            protocol: PROTOCOL_VERSION,
            executable: vec![9; 20],
            task_id: 4,
            call: RequestedCall::Function {
                entry: 1,
                function: 2,
                seal: 3,
            },
            function_name: "f".into(),
            log_level: 5,
            args: vec![1],
            keep_alive: true,
        };
        let frame = encode_frame(&request).unwrap();
        let payload = read_frame(&mut &frame[..]).unwrap();
        let back: TaskRequest = postcard::from_bytes(&payload).unwrap();
        assert_eq!(back.task_id, 4);
        assert!(back.keep_alive);
        assert_eq!(back.executable, vec![9; 20]);
    }

    #[test]
    fn a_frame_claiming_more_than_arrives_allocates_only_what_arrives() {
        // Claims 1 GiB - 1 but carries 3 bytes: an error, not a 1 GiB buffer.
        let mut stream = ((1u32 << 30) - 1).to_le_bytes().to_vec();
        stream.extend_from_slice(b"abc");
        let error = read_frame(&mut &stream[..]).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
        assert!(error.to_string().contains("3 of"), "{error}");
    }

    #[test]
    fn frames_follow_each_other_until_the_stream_ends() {
        let one = encode_frame(&WorkerMessage::Finished(TaskResult::Returned(vec![1]))).unwrap();
        let two = encode_frame(&WorkerMessage::Finished(TaskResult::Returned(vec![2]))).unwrap();
        let stream = [one.clone(), two.clone()].concat();
        let mut reader = &stream[..];
        assert_eq!(read_frame_or_end(&mut reader).unwrap().unwrap(), one[4..]);
        assert_eq!(read_frame_or_end(&mut reader).unwrap().unwrap(), two[4..]);
        assert!(read_frame_or_end(&mut reader).unwrap().is_none());
        let cut = &one[..one.len() - 1];
        assert!(
            read_frame_or_end(&mut &cut[..]).is_err(),
            "a cut frame is an error"
        );
    }

    #[test]
    fn absurd_lengths_are_refused() {
        let mut buffer = FrameBuffer::default();
        buffer.push(&u32::MAX.to_le_bytes());
        assert!(buffer.next_frame().is_err());
    }
}
