//! Entry points for the fuzz targets in `fuzz/` (not an API: hidden, and
//! free to change).

/// Feeds `data` through both of the protocol's decoders, as hostile
/// bytes from a worker or a parent would arrive: the parent's frame
/// buffer (`protocol::FrameBuffer`) in pieces of a size
/// the first byte picks, each frame decoded as a worker message, and
/// the worker's blocking frame reader, its frame decoded as a task
/// request. Stops at the first broken frame, as the engine does.
/// Returns how many messages decoded. Never panics, and allocates no
/// more than a few times `data.len()`, whatever the frames claim.
///
/// ```
/// assert_eq!(dummymp::__fuzz::decode_protocol_bytes(&[]), 0);
/// ```
pub fn decode_protocol_bytes(data: &[u8]) -> usize {
    use crate::encoded::Encoded;
    use crate::protocol::{
        Frame, FrameBuffer, TaskRequest, WorkerMessage, read_frame, returned_value,
    };
    let Some((&selector, stream)) = data.split_first() else {
        return 0;
    };
    let piece = usize::from(selector % 64) + 1;
    let mut frames = FrameBuffer::default();
    let mut decoded = 0;
    'stream: for chunk in stream.chunks(piece) {
        frames.push(chunk);
        loop {
            match frames.next_frame() {
                Ok(Some(Frame::Small(frame))) => {
                    match postcard::from_bytes::<WorkerMessage>(frame) {
                        Ok(_) => decoded += 1,
                        Err(_) => break 'stream,
                    }
                }
                Ok(Some(Frame::Large(pieces))) => match returned_value(pieces) {
                    Ok(_) => decoded += 1,
                    Err(pieces) => {
                        let bytes = Encoded::Pieces(pieces).into_vec();
                        match postcard::from_bytes::<WorkerMessage>(&bytes) {
                            Ok(_) => decoded += 1,
                            Err(_) => break 'stream,
                        }
                    }
                },
                Ok(None) => break,
                Err(_) => break 'stream,
            }
        }
    }
    let mut reader = stream;
    if let Ok(frame) = read_frame(&mut reader)
        && postcard::from_bytes::<TaskRequest>(&frame).is_ok()
    {
        decoded += 1;
    }
    decoded
}

/// A well-formed stream for [`decode_protocol_bytes`] (its selector
/// byte first): five messages of the kinds a worker sends (no task
/// request). Seeds for the fuzzers.
///
/// ```
/// use dummymp::__fuzz::{decode_protocol_bytes, sample_protocol_bytes};
/// assert_eq!(decode_protocol_bytes(&sample_protocol_bytes()), 5);
/// ```
pub fn sample_protocol_bytes() -> Vec<u8> {
    use crate::protocol::{LogRecord, TaskResult, WorkerMessage, encode_frame};
    let messages = [
        WorkerMessage::Output {
            stream: crate::task::Stream::Stdout,
            data: b"a line\n".to_vec(),
        },
        WorkerMessage::Log(LogRecord {
            level: 3,
            target: "t".into(),
            module_path: Some("m".into()),
            file: Some("f.rs".into()),
            line: Some(1),
            message: "hello".into(),
        }),
        WorkerMessage::Finished(TaskResult::Returned(vec![1, 2, 3])),
        WorkerMessage::Finished(TaskResult::Panicked {
            message: "boom".into(),
            location: None,
        }),
        WorkerMessage::Finished(TaskResult::NotStarted {
            error: "EAGAIN".into(),
            errno: Some(11),
        }),
    ];
    let mut stream = vec![7u8];
    for message in &messages {
        stream.extend(encode_frame(message).unwrap_or_default());
    }
    stream
}
