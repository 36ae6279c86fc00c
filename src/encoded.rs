//! Encoded values (arguments and return values, postcard) and the limit on
//! their size: encoding that stops at the limit, and a big return value
//! kept in the pieces it arrived in and decoded from them, each piece freed
//! as soon as it is read, so that the parent never holds the encoded value
//! whole beside the decoded one.

use std::collections::VecDeque;

use postcard::de_flavors::Flavor as DeFlavor;
use postcard::ser_flavors::Flavor as SerFlavor;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The most bytes one encoded value may take: the arguments of one call
/// (or a foreign call's payload), or one return value, as postcard
/// encodes them. It bounds every message between the parent and a
/// worker; larger arguments are refused when queued
/// ([`Error::ArgumentsTooLarge`](crate::Error::ArgumentsTooLarge)), a
/// larger return value fails its task
/// ([`Outcome::Failed`](crate::Outcome::Failed), naming the limit).
///
/// ```
/// assert_eq!(dummymp::MESSAGE_LIMIT, 1 << 30); // 1 GiB
/// ```
pub const MESSAGE_LIMIT: usize = 1 << 30;

/// [`MESSAGE_LIMIT`] in words, for messages.
pub(crate) fn limit_text() -> String {
    format!("1 GiB ({MESSAGE_LIMIT} bytes)")
}

/// Why a value too large to travel fails: `what` ("the return value")
/// takes more than the limit.
pub(crate) fn too_large(what: &str) -> String {
    format!(
        "{what} would take more than {} encoded, the most one message between dummymp's processes \
         may carry (dummymp::MESSAGE_LIMIT): pass something smaller, such as the path of a file \
         that holds the data",
        limit_text()
    )
}

/// Encodes `value` with postcard, giving up (with
/// [`postcard::Error::SerializeBufferFull`], which nothing else gives) as
/// soon as it takes more than `limit` bytes.
pub(crate) fn encode_within<T: Serialize + ?Sized>(
    value: &T,
    limit: usize,
) -> Result<Vec<u8>, postcard::Error> {
    postcard::serialize_with_flavor(
        value,
        Bounded {
            bytes: Vec::new(),
            limit,
        },
    )
}

/// A postcard output that refuses to grow past `limit`.
struct Bounded {
    bytes: Vec<u8>,
    limit: usize,
}

impl SerFlavor for Bounded {
    type Output = Vec<u8>;

    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        if self.bytes.len() >= self.limit {
            return Err(postcard::Error::SerializeBufferFull);
        }
        self.bytes.push(data);
        Ok(())
    }

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        if data.len() > self.limit - self.bytes.len() {
            return Err(postcard::Error::SerializeBufferFull);
        }
        self.bytes.extend_from_slice(data);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<Vec<u8>> {
        Ok(self.bytes)
    }
}

/// An encoded value as the parent received it.
#[derive(Debug)]
pub(crate) enum Encoded {
    /// In one piece (a value that came in a small message).
    Whole(Vec<u8>),
    /// In the pieces a big one arrived in.
    Pieces(Pieces),
}

impl Encoded {
    /// The value in one piece. Joining frees each piece as soon as it is
    /// copied: the memory held grows by one piece at most.
    pub(crate) fn into_vec(self) -> Vec<u8> {
        match self {
            Encoded::Whole(bytes) => bytes,
            Encoded::Pieces(mut pieces) => {
                let mut bytes = Vec::with_capacity(pieces.len);
                while let Some(piece) = pieces.pieces.pop_front() {
                    bytes.extend_from_slice(&piece[pieces.skip..]);
                    pieces.skip = 0;
                }
                bytes
            }
        }
    }

    /// Decodes the value. From pieces, each is freed once read: for most
    /// types (not those holding a string or byte string as big as
    /// themselves, which serde builds from one contiguous slice) the
    /// memory held stays about the size of the value.
    pub(crate) fn decode<T: DeserializeOwned>(self) -> Result<T, postcard::Error> {
        match self {
            Encoded::Whole(bytes) => postcard::from_bytes(&bytes),
            Encoded::Pieces(pieces) => {
                // Room for what serde borrows from the input (a `&str` it
                // parses, say), which must outlive the read. Zeroed memory
                // is only resident once written to.
                let mut borrowed = vec![0u8; pieces.len];
                let mut deserializer =
                    postcard::Deserializer::from_flavor(PieceReader::new(pieces, &mut borrowed));
                T::deserialize(&mut deserializer)
            }
        }
    }
}

/// A value received in pieces, the first `skip` bytes of the first not
/// part of it.
#[derive(Debug, Default)]
pub(crate) struct Pieces {
    pieces: VecDeque<Vec<u8>>,
    skip: usize,
    /// The bytes of the value (not counting `skip`).
    len: usize,
}

impl Pieces {
    /// The pieces of a message, in order.
    pub(crate) fn new(pieces: VecDeque<Vec<u8>>) -> Pieces {
        let len = pieces.iter().map(Vec::len).sum();
        Pieces {
            pieces,
            skip: 0,
            len,
        }
    }

    /// The first bytes, up to `n` (fewer when the first piece is shorter).
    pub(crate) fn head(&self, n: usize) -> &[u8] {
        let first = self.pieces.front().map_or(&[][..], |p| &p[self.skip..]);
        &first[..n.min(first.len())]
    }

    /// Drops the first `n` bytes, which must lie in the first piece.
    pub(crate) fn skip(&mut self, n: usize) {
        debug_assert!(n <= self.head(n).len());
        self.skip += n;
        self.len -= n;
    }

    /// How many bytes it holds.
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

/// Reads a value's pieces for postcard, freeing each once read.
struct PieceReader<'de> {
    /// The piece being read.
    current: Vec<u8>,
    /// Where reading is in it.
    at: usize,
    /// The pieces after it.
    rest: VecDeque<Vec<u8>>,
    /// Their bytes.
    rest_len: usize,
    /// What `try_take_n_temp` hands out when it spans pieces.
    temp: Vec<u8>,
    /// Where `try_take_n` copies what serde may keep borrowing.
    borrowed: &'de mut [u8],
}

impl<'de> PieceReader<'de> {
    fn new(pieces: Pieces, borrowed: &'de mut [u8]) -> PieceReader<'de> {
        let mut rest = pieces.pieces;
        let current = rest.pop_front().unwrap_or_default();
        PieceReader {
            rest_len: pieces.len + pieces.skip - current.len(),
            current,
            at: pieces.skip,
            rest,
            temp: Vec::new(),
            borrowed,
        }
    }

    /// Bytes not read yet.
    fn left(&self) -> usize {
        self.current.len() - self.at + self.rest_len
    }

    /// The unread bytes of the current piece, after moving on (and
    /// freeing the piece read) if it has none.
    fn available(&mut self) -> &[u8] {
        while self.at == self.current.len() {
            let Some(next) = self.rest.pop_front() else {
                break;
            };
            self.rest_len -= next.len();
            self.current = next;
            self.at = 0;
        }
        &self.current[self.at..]
    }

    /// Copies the next `out.len()` bytes into `out`.
    fn copy_into(&mut self, out: &mut [u8]) -> postcard::Result<()> {
        if out.len() > self.left() {
            return Err(postcard::Error::DeserializeUnexpectedEnd);
        }
        let mut filled = 0;
        while filled < out.len() {
            let available = self.available();
            let n = available.len().min(out.len() - filled);
            out[filled..filled + n].copy_from_slice(&available[..n]);
            filled += n;
            self.at += n;
        }
        Ok(())
    }
}

impl<'de> DeFlavor<'de> for PieceReader<'de> {
    type Remainder = ();
    type Source = ();

    fn pop(&mut self) -> postcard::Result<u8> {
        if let Some(&byte) = self.current.get(self.at) {
            self.at += 1;
            return Ok(byte);
        }
        let byte = *self
            .available()
            .first()
            .ok_or(postcard::Error::DeserializeUnexpectedEnd)?;
        self.at += 1;
        Ok(byte)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left())
    }

    fn try_take_n(&mut self, ct: usize) -> postcard::Result<&'de [u8]> {
        if ct > self.borrowed.len() {
            return Err(postcard::Error::DeserializeUnexpectedEnd);
        }
        let (taken, rest) = std::mem::take(&mut self.borrowed).split_at_mut(ct);
        self.borrowed = rest;
        self.copy_into(taken)?;
        Ok(taken)
    }

    fn try_take_n_temp<'a>(&'a mut self, ct: usize) -> postcard::Result<&'a [u8]>
    where
        'de: 'a,
    {
        if ct > self.left() {
            return Err(postcard::Error::DeserializeUnexpectedEnd);
        }
        // Within one piece: handed out as it is.
        if self.available().len() >= ct {
            let start = self.at;
            self.at += ct;
            return Ok(&self.current[start..start + ct]);
        }
        let mut temp = std::mem::take(&mut self.temp);
        temp.clear();
        temp.resize(ct, 0);
        self.copy_into(&mut temp)?;
        self.temp = temp;
        Ok(&self.temp)
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Mixed {
        name: String,
        numbers: Vec<u64>,
        bytes: Vec<u8>,
        nested: Vec<(char, Option<String>)>,
        last: f64,
    }

    fn sample() -> Mixed {
        Mixed {
            name: "a name that spans pieces".repeat(7),
            numbers: (0..500).map(|n| n * 1_000_003).collect(),
            bytes: (0..=255).collect(),
            nested: vec![('é', Some("x".repeat(40))), ('z', None)],
            last: 2.5,
        }
    }

    /// `bytes` cut into pieces of `size`, after `skip` bytes of junk.
    fn pieces_of(bytes: &[u8], size: usize, skip: usize) -> Pieces {
        let mut all = vec![0xEE; skip];
        all.extend_from_slice(bytes);
        let mut pieces = Pieces::new(all.chunks(size).map(<[u8]>::to_vec).collect());
        pieces.skip(skip.min(size));
        pieces
    }

    #[test]
    fn values_decode_from_pieces_of_any_size() {
        let value = sample();
        let bytes = postcard::to_stdvec(&value).unwrap();
        for size in [1, 2, 3, 7, 64, 1000, bytes.len()] {
            let skip = 3.min(size);
            let pieces = pieces_of(&bytes, size, skip);
            assert_eq!(pieces.len(), bytes.len());
            let back: Mixed = Encoded::Pieces(pieces).decode().unwrap();
            assert_eq!(back, value, "pieces of {size}");
            let joined = Encoded::Pieces(pieces_of(&bytes, size, skip)).into_vec();
            assert_eq!(joined, bytes, "pieces of {size}");
        }
    }

    #[test]
    fn borrowed_strings_are_read_across_pieces() {
        // serde hands a `&str` to this type's visitor, borrowed from the
        // input.
        #[derive(Debug, PartialEq)]
        struct Parsed(u32);
        impl<'de> Deserialize<'de> for Parsed {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text: &'de str = Deserialize::deserialize(d)?;
                text.parse().map(Parsed).map_err(serde::de::Error::custom)
            }
        }
        let bytes = postcard::to_stdvec(&("1234567", "89")).unwrap();
        for size in [1, 2, 5, bytes.len()] {
            let back: (Parsed, Parsed) = Encoded::Pieces(pieces_of(&bytes, size, 0))
                .decode()
                .unwrap();
            assert_eq!(back, (Parsed(1234567), Parsed(89)));
        }
    }

    #[test]
    fn short_input_is_an_error() {
        let bytes = postcard::to_stdvec(&sample()).unwrap();
        let cut = &bytes[..bytes.len() - 5];
        let result: Result<Mixed, _> = Encoded::Pieces(pieces_of(cut, 10, 0)).decode();
        assert!(result.is_err());
    }

    #[test]
    fn encoding_stops_at_the_limit() {
        let value = vec![1u8; 100];
        let encoded = encode_within(&value, 101).unwrap();
        assert_eq!(encoded, postcard::to_stdvec(&value).unwrap());
        assert_eq!(
            encode_within(&value, 100).unwrap_err(),
            postcard::Error::SerializeBufferFull
        );
        assert_eq!(
            encode_within("a string", 3).unwrap_err(),
            postcard::Error::SerializeBufferFull
        );
    }

    #[test]
    fn the_limit_is_named_in_words_and_bytes() {
        let text = too_large("the return value");
        assert!(text.starts_with("the return value would take more than 1 GiB (1073741824 bytes)"));
    }
}
