//! What the parent and a worker say to each other, and how it is framed.
//!
//! The two talk only over the worker's standard input (parent to worker:
//! [`TaskRequest`]s, which a reused worker runs one after the other, in the
//! order they come: the parent may send the next ones before the worker
//! has finished the one it runs; closing it ends the worker) and standard
//! output (worker to parent: [`WorkerMessage`]s, ending each task with
//! [`WorkerMessage::Finished`], so that whatever follows belongs to the
//! next task). Each message is a little-endian `u32`
//! length followed by that many bytes of postcard.
//!
//! A message carries at most one encoded value (arguments, payload, return
//! value) of up to [`MESSAGE_LIMIT`] bytes, and a little more: a larger
//! frame is taken as a broken stream. A big frame (from
//! [`LARGE_FRAME_LEN`]) is received in pieces rather than in one buffer,
//! so that the value it carries can be decoded piece by piece (see
//! [`crate::encoded`]).

use std::collections::VecDeque;
use std::io::{self, Read};

use serde::{Deserialize, Serialize};

use crate::encoded::{MESSAGE_LIMIT, Pieces, limit_text};
use crate::task::Stream;

/// Bumped whenever a message changes shape.
pub(crate) const PROTOCOL_VERSION: u32 = 3;

/// Frames larger than this are taken as a broken stream: a value of
/// [`MESSAGE_LIMIT`] bytes, and room for what travels with it (names,
/// the executable's identity).
pub(crate) const MAX_FRAME_LEN: usize = MESSAGE_LIMIT + (1 << 20);

/// Frames from this size on are received in pieces.
const LARGE_FRAME_LEN: usize = 1 << 20;

/// The largest piece of a large frame. Allocations this big are mapped
/// and unmapped on their own by the C library's allocator (its dynamic
/// threshold stops at 32 MiB), so that a piece freed is memory given back.
const PIECE_LEN: usize = 32 << 20;

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

/// A [`TaskRequest`] as the parent encodes it: the same fields, in the same
/// order, borrowed (serde encodes a slice as it encodes a `Vec`), so that
/// the argument is not copied once more for the frame.
#[derive(Debug, Serialize)]
pub(crate) struct TaskRequestRef<'a> {
    pub protocol: u32,
    pub executable: &'a [u8],
    pub task_id: u64,
    pub call: &'a RequestedCall,
    pub function_name: &'a str,
    pub log_level: u8,
    pub args: &'a [u8],
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

/// How the call ended, as the worker saw it. `V` is the returned value as
/// it travels (postcard-encoded bytes); the parent keeps it as it arrived
/// ([`Encoded`](crate::encoded::Encoded)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum TaskResult<V = Vec<u8>> {
    /// The function returned; its postcard-encoded value.
    Returned(V),
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

impl<V> TaskResult<V> {
    /// The same result, with the returned value turned into a `W`.
    pub(crate) fn map_returned<W>(self, f: impl FnOnce(V) -> W) -> TaskResult<W> {
        match self {
            TaskResult::Returned(value) => TaskResult::Returned(f(value)),
            TaskResult::Panicked { message, location } => {
                TaskResult::Panicked { message, location }
            }
            TaskResult::Failed(reason) => TaskResult::Failed(reason),
            TaskResult::NotStarted { error, errno } => TaskResult::NotStarted { error, errno },
            TaskResult::Raised {
                exception,
                message,
                traceback,
            } => TaskResult::Raised {
                exception,
                message,
                traceback,
            },
        }
    }
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

/// How `WorkerMessage::Finished(TaskResult::Returned(_))` begins, before
/// the value's length: the two variant tags.
fn returned_tags() -> &'static [u8] {
    static TAGS: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    TAGS.get_or_init(|| {
        let mut tags =
            postcard::to_stdvec(&WorkerMessage::Finished(TaskResult::Returned(Vec::new())))
                .expect("an empty message encodes");
        // The last byte is the empty value's length, 0.
        tags.pop();
        tags
    })
}

/// The start of the frame of `WorkerMessage::Finished(TaskResult::Returned)`
/// for a value of `len` bytes: the frame written as this and then the
/// value is the frame [`encode_frame`] makes, without copying the value.
pub(crate) fn returned_frame_head(len: usize) -> Result<Vec<u8>, postcard::Error> {
    let mut head = vec![0u8; 4];
    head.extend_from_slice(returned_tags());
    let mut head = postcard::to_extend(&len, head)?;
    let frame_len =
        u32::try_from(head.len() - 4 + len).map_err(|_| postcard::Error::SerializeBufferFull)?;
    head[..4].copy_from_slice(&frame_len.to_le_bytes());
    Ok(head)
}

/// The value of a large frame that holds
/// `WorkerMessage::Finished(TaskResult::Returned)`, left in its pieces;
/// any other message is handed back.
pub(crate) fn returned_value(mut frame: Pieces) -> Result<Pieces, Pieces> {
    let tags = returned_tags();
    // The tags and the value's length (a varint of at most 10 bytes).
    let head = frame.head(tags.len() + 10);
    let Some(after_tags) = head.strip_prefix(tags) else {
        return Err(frame);
    };
    let Ok((len, rest)) = postcard::take_from_bytes::<usize>(after_tags) else {
        return Err(frame);
    };
    let head_len = head.len() - rest.len();
    if head_len.checked_add(len) != Some(frame.len()) {
        return Err(frame);
    }
    frame.skip(head_len);
    Ok(frame)
}

/// Why a frame's claimed length is refused.
fn oversized(len: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "a frame of {len} bytes, larger than any message: a value of at most {} and what \
             travels with it",
            limit_text()
        ),
    )
}

/// Reads one framed message, blocking. Memory grows with the bytes that
/// actually arrive, never with the length a frame claims.
pub(crate) fn read_frame(reader: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    reader.read_exact(&mut len)?;
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_FRAME_LEN {
        return Err(oversized(len));
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

/// Reassembles frames from bytes that arrive in pieces; a large frame is
/// kept in pieces of its own.
#[derive(Debug, Default)]
pub(crate) struct FrameBuffer {
    bytes: Vec<u8>,
    start: usize,
    /// The large frame being received, if one is.
    large: Option<LargeFrame>,
    /// Whether the last read took less than there was room for: the
    /// descriptor held no more then.
    drained: bool,
}

/// A large frame being received.
#[derive(Debug)]
struct LargeFrame {
    /// Its length.
    len: usize,
    /// How much of it has come.
    received: usize,
    pieces: VecDeque<Vec<u8>>,
}

impl LargeFrame {
    fn new(len: usize) -> LargeFrame {
        LargeFrame {
            len,
            received: 0,
            pieces: VecDeque::new(),
        }
    }

    /// The piece to fill next: the last one while it has room, else a new
    /// one, of at least `coming` bytes (what is about to arrive). Pieces
    /// grow with what has arrived (up to [`PIECE_LEN`]), so that a frame
    /// that claims more than comes costs only what comes; a piece never has
    /// room for more than the frame still lacks.
    fn piece(&mut self, coming: usize) -> &mut Vec<u8> {
        if self
            .pieces
            .back()
            .is_none_or(|last| last.len() == last.capacity())
        {
            let size = self
                .received
                .max(coming)
                .clamp(1, PIECE_LEN)
                .min(self.len - self.received);
            // `with_capacity` gives exactly this capacity: reads into it
            // never go past the frame.
            self.pieces.push_back(Vec::with_capacity(size));
        }
        self.pieces.back_mut().expect("a piece was just made")
    }

    /// Takes `data` (no more than the frame lacks).
    fn extend(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let piece = self.piece(data.len());
            let n = data.len().min(piece.capacity() - piece.len());
            piece.extend_from_slice(&data[..n]);
            self.received += n;
            data = &data[n..];
        }
    }

    fn is_complete(&self) -> bool {
        self.received == self.len
    }
}

/// A frame's payload, as [`FrameBuffer::next_frame`] hands it out.
#[derive(Debug)]
pub(crate) enum Frame<'a> {
    /// A small frame, in the buffer.
    Small(&'a [u8]),
    /// A large frame, in its pieces.
    Large(Pieces),
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
    /// nothing is there yet. Within a large frame, reads into its pieces,
    /// and no further than its end.
    pub(crate) fn read_from(
        &mut self,
        fd: impl std::os::fd::AsFd,
        at_most: usize,
    ) -> io::Result<Option<usize>> {
        if let Some(large) = self.large.as_mut().filter(|l| !l.is_complete()) {
            let piece = large.piece(at_most);
            let room = piece.capacity() - piece.len();
            let n = crate::platform::read_now_into_spare(fd, piece)?;
            if let Some(n) = n {
                large.received += n;
            }
            self.drained = n.is_some_and(|n| n < room);
            return Ok(n);
        }
        self.compact();
        self.bytes.reserve(at_most);
        let room = self.bytes.capacity() - self.bytes.len();
        let n = crate::platform::read_now_into_spare(fd, &mut self.bytes)?;
        self.drained = n.is_some_and(|n| n < room);
        Ok(n)
    }

    /// Whether the last [`FrameBuffer::read_from`] took less than it had
    /// room for: the descriptor held nothing more at that moment, so that
    /// another read now would most likely find nothing (readiness tells
    /// when more comes).
    pub(crate) fn drained(&self) -> bool {
        self.drained
    }

    /// Appends bytes that arrived some other way (tests, the fuzz entry).
    pub(crate) fn push(&mut self, mut data: &[u8]) {
        if let Some(large) = self.large.as_mut().filter(|l| !l.is_complete()) {
            let n = data.len().min(large.len - large.received);
            large.extend(&data[..n]);
            data = &data[n..];
        }
        self.compact();
        self.bytes.extend_from_slice(data);
    }

    /// The next complete frame's payload, if one is in.
    pub(crate) fn next_frame(&mut self) -> io::Result<Option<Frame<'_>>> {
        if let Some(large) = &self.large {
            if !large.is_complete() {
                return Ok(None);
            }
            let large = self.large.take().expect("a large frame");
            return Ok(Some(Frame::Large(Pieces::new(large.pieces))));
        }
        let available = &self.bytes[self.start..];
        if available.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_le_bytes(available[..4].try_into().expect("four bytes")) as usize;
        if len > MAX_FRAME_LEN {
            return Err(oversized(len));
        }
        if len >= LARGE_FRAME_LEN {
            // What came of it so far moves to its pieces; the rest is read
            // into them.
            let mut large = LargeFrame::new(len);
            let here = (available.len() - 4).min(len);
            large.extend(&available[4..4 + here]);
            self.start += 4 + here;
            let complete = large.is_complete();
            self.large = Some(large);
            if !complete {
                return Ok(None);
            }
            return self.next_frame();
        }
        if available.len() < 4 + len {
            return Ok(None);
        }
        let begin = self.start + 4;
        self.start = begin + len;
        Ok(Some(Frame::Small(&self.bytes[begin..begin + len])))
    }

    /// Whether bytes of an incomplete frame are held.
    pub(crate) fn has_partial(&self) -> bool {
        self.start < self.bytes.len() || self.large.is_some()
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
                    let Frame::Small(frame) = frame else {
                        panic!("a small frame came as a large one");
                    };
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
    fn absurd_lengths_are_refused_naming_the_limit() {
        let mut buffer = FrameBuffer::default();
        buffer.push(&u32::MAX.to_le_bytes());
        let error = buffer.next_frame().unwrap_err();
        assert!(error.to_string().contains("1 GiB"), "{error}");
    }

    /// A large frame between two small ones, pushed in pieces of `chunk`.
    fn large_between_small(value: &[u8], chunk: usize) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
        let small = |data: &[u8]| WorkerMessage::Output {
            stream: Stream::Stdout,
            data: data.to_vec(),
        };
        let large = WorkerMessage::Finished(TaskResult::Returned(value.to_vec()));
        let stream = [
            encode_frame(&small(b"before\n")).unwrap(),
            encode_frame(&large).unwrap(),
            encode_frame(&small(b"after\n")).unwrap(),
        ]
        .concat();
        let mut buffer = FrameBuffer::default();
        let (mut smalls, mut values) = (Vec::new(), Vec::new());
        for piece in stream.chunks(chunk) {
            buffer.push(piece);
            while let Some(frame) = buffer.next_frame().unwrap() {
                match frame {
                    Frame::Small(frame) => smalls.push(frame.to_vec()),
                    Frame::Large(pieces) => {
                        let pieces = returned_value(pieces).expect("a returned value");
                        values.push(crate::encoded::Encoded::Pieces(pieces).into_vec());
                    }
                }
            }
        }
        assert!(!buffer.has_partial());
        (smalls, values)
    }

    #[test]
    fn large_frames_arrive_in_pieces_and_keep_their_place() {
        let value: Vec<u8> = (0..LARGE_FRAME_LEN + 300_000).map(|i| i as u8).collect();
        for chunk in [4093, 65536, 1 << 20, 3 << 20] {
            let (smalls, values) = large_between_small(&value, chunk);
            assert_eq!(smalls.len(), 2, "chunk {chunk}");
            assert_eq!(values.len(), 1, "chunk {chunk}");
            assert!(values[0] == value, "chunk {chunk}");
        }
    }

    #[test]
    fn a_large_frame_of_another_message_is_handed_back() {
        let message = WorkerMessage::Log(LogRecord {
            level: 3,
            target: "t".into(),
            module_path: None,
            file: None,
            line: None,
            message: "x".repeat(LARGE_FRAME_LEN),
        });
        let frame = encode_frame(&message).unwrap();
        let mut buffer = FrameBuffer::default();
        buffer.push(&frame);
        let Some(Frame::Large(pieces)) = buffer.next_frame().unwrap() else {
            panic!("a large frame");
        };
        let pieces = returned_value(pieces).expect_err("not a returned value");
        let bytes = crate::encoded::Encoded::Pieces(pieces).into_vec();
        assert_eq!(
            postcard::from_bytes::<WorkerMessage>(&bytes).unwrap(),
            message
        );
    }

    #[test]
    fn a_returned_frame_written_in_two_parts_is_the_same_frame() {
        for len in [0, 1, 127, 128, 300, 70_000] {
            let value: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let whole = encode_frame(&WorkerMessage::Finished(TaskResult::Returned(
                value.clone(),
            )))
            .unwrap();
            let mut parts = returned_frame_head(len).unwrap();
            parts.extend_from_slice(&value);
            assert_eq!(parts, whole, "a value of {len} bytes");
        }
    }

    #[test]
    fn a_borrowed_request_encodes_as_the_request() {
        let call = RequestedCall::Function {
            entry: 1,
            function: 2,
            seal: 3,
        };
        let request = TaskRequestRef {
            protocol: PROTOCOL_VERSION,
            executable: b"exe",
            task_id: 9,
            call: &call,
            function_name: "fn(u8) -> u8",
            log_level: 4,
            args: &[1, 2, 3, 200],
            keep_alive: true,
        };
        let frame = encode_frame(&request).unwrap();
        let back: TaskRequest = postcard::from_bytes(&frame[4..]).unwrap();
        assert_eq!(
            (back.executable, back.task_id, back.call, back.function_name),
            (b"exe".to_vec(), 9, call, "fn(u8) -> u8".to_string())
        );
        assert_eq!(
            (back.log_level, back.args, back.keep_alive),
            (4, vec![1, 2, 3, 200], true)
        );
    }
}
