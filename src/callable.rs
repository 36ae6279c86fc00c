//! How a function travels to a worker.
//!
//! A worker is the same executable as its parent, so every function sits at
//! the same distance from any other function in both processes, whatever
//! address the loader chose for each (ASLR shifts the whole image). The
//! parent sends two such distances, measured from [`anchor`]: the function
//! (the one-argument shim of the user's function, see [`signatures`]) and
//! the entry point monomorphised for its argument and return types
//! ([`invoke`]). The worker adds them to its own anchor, checks nothing
//! else can be meant (its executable identity must equal the parent's, see
//! [`crate::identity`]), and calls the entry point, which decodes the
//! argument, calls the function and encodes what it returned.
//!
//! This is the one place where dummymp needs `unsafe` outside of a system
//! call: turning those addresses back into function pointers, and making
//! the zero-sized value of a function item in the worker.

mod signatures;

pub use signatures::TaskFunction;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::protocol::TaskResult;

/// The entry point a worker calls: the user's function's address and the
/// encoded argument in, the result out.
pub(crate) type Entry = fn(usize, &[u8]) -> TaskResult;

/// The reference point of every address sent to a worker.
#[inline(never)]
fn anchor() {}

fn anchor_address() -> usize {
    anchor as fn() as usize
}

/// The distance of `address` from the anchor, as sent to a worker.
fn offset_of(address: usize) -> u64 {
    address.wrapping_sub(anchor_address()) as u64
}

/// The address a distance received from the parent stands for.
fn address_at(offset: u64) -> usize {
    anchor_address().wrapping_add(offset as usize)
}

/// The distances of `function` and of its entry point.
pub(crate) fn offsets_of<A, R>(function: fn(A) -> R) -> (u64, u64)
where
    A: DeserializeOwned + 'static,
    R: Serialize + 'static,
{
    let entry: Entry = invoke::<A, R>;
    (offset_of(entry as usize), offset_of(function as usize))
}

/// A checksum binding the two offsets to one executable build, sent with
/// them: a request whose offsets were damaged or made up is refused before
/// anything is called. (It guards against accidents; a program's own user
/// can run any of its code anyway.)
pub(crate) fn seal(identity: &[u8], entry: u64, function: u64) -> u64 {
    use std::hash::{Hash, Hasher};
    // `DefaultHasher::new` has fixed keys: the same in every process.
    let mut hasher = std::hash::DefaultHasher::new();
    (identity, entry, function).hash(&mut hasher);
    hasher.finish()
}

/// Checks, before anything is called, that `entry` and `function` were
/// sealed for this build and lead into the code of this executable.
pub(crate) fn verify(
    identity: &[u8],
    entry: u64,
    function: u64,
    seal_sent: u64,
) -> Result<(), String> {
    if seal(identity, entry, function) != seal_sent {
        return Err(
            "the request's function addresses are damaged (their checksum does not match): \
             refusing to call anything"
                .to_string(),
        );
    }
    let code =
        crate::identity::code().map_err(|e| format!("cannot find this executable's code: {e}"))?;
    for address in [address_at(entry), address_at(function)] {
        if !code.range.contains(&address) {
            return Err(format!(
                "the request names address {address:#x}, outside this executable's code: \
                 refusing to call it"
            ));
        }
    }
    Ok(())
}

/// Calls the entry point at `entry` with the function at `function`.
///
/// # Safety
///
/// Both offsets must come from [`offsets_of`] in a process running the same
/// executable build as this one (the worker checks the executable identity
/// before calling this).
pub(crate) unsafe fn call(entry: u64, function: u64, args: &[u8]) -> TaskResult {
    // SAFETY: `entry` was computed by `offsets_of` from an `Entry` in a
    // process of the same executable build, so anchor + offset is the
    // address of that very `Entry` in this process; the caller guarantees
    // the identity. `usize` and `fn` pointers have the same size.
    let entry = unsafe { std::mem::transmute::<usize, Entry>(address_at(entry)) };
    entry(address_at(function), args)
}

/// The entry point for functions of type `fn(A) -> R`.
fn invoke<A, R>(function: usize, args: &[u8]) -> TaskResult
where
    A: DeserializeOwned,
    R: Serialize,
{
    // SAFETY: `invoke::<A, R>` is only ever reached through `call`, with
    // `function` sent alongside this entry point by `offsets_of::<A, R>`,
    // which took it from a value of type `fn(A) -> R`. The same executable
    // build maps it to the same function here.
    let function = unsafe { std::mem::transmute::<usize, fn(A) -> R>(function) };
    let args: A = match postcard::from_bytes(args) {
        Ok(args) => args,
        Err(e) => return TaskResult::Failed(format!("cannot decode the arguments: {e}")),
    };
    // A panic unwinds to the worker, which catches it. Encoding stops at
    // the limit: a value too big to travel costs no more than the limit to
    // find out.
    match crate::encoded::encode_within(&function(args), crate::MESSAGE_LIMIT) {
        Ok(bytes) => TaskResult::Returned(bytes),
        Err(postcard::Error::SerializeBufferFull) => {
            TaskResult::Failed(crate::encoded::too_large("the return value"))
        }
        Err(e) => TaskResult::Failed(format!("cannot serialise the return value: {e}")),
    }
}

/// `fn(u64) -> core::option::Option<u64>` becomes `fn(u64) -> Option<u64>`.
/// Each distinct name is shortened (and kept) once.
pub(crate) fn short_type_name(name: &'static str) -> &'static str {
    static SHORT: std::sync::Mutex<std::collections::BTreeMap<&'static str, &'static str>> =
        std::sync::Mutex::new(std::collections::BTreeMap::new());
    let mut known = SHORT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    known.entry(name).or_insert_with(|| {
        let mut short = String::with_capacity(name.len());
        let mut word = String::new();
        let mut chars = name.chars().peekable();
        while let Some(c) = chars.next() {
            if c == ':' && chars.peek() == Some(&':') {
                chars.next();
                word.clear();
            } else if c.is_alphanumeric() || c == '_' {
                word.push(c);
            } else {
                short.push_str(&word);
                word.clear();
                short.push(c);
            }
        }
        short.push_str(&word);
        if short == name {
            name
        } else {
            Box::leak(short.into_boxed_str())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_lose_their_paths() {
        assert_eq!(
            short_type_name("fn(u64) -> core::option::Option<u64>"),
            "fn(u64) -> Option<u64>"
        );
        assert_eq!(
            short_type_name("fn((alloc::string::String, u8))"),
            "fn((String, u8))"
        );
    }

    fn double(x: u64) -> u64 {
        x * 2
    }

    #[test]
    fn offsets_lead_back_to_the_same_function() {
        let (entry, function) = offsets_of(double as fn(u64) -> u64);
        let args = postcard::to_stdvec(&21u64).unwrap();
        // SAFETY: the offsets come from this very process.
        let result = unsafe { call(entry, function, &args) };
        let TaskResult::Returned(bytes) = result else {
            panic!("{result:?}")
        };
        assert_eq!(postcard::from_bytes::<u64>(&bytes).unwrap(), 42);
    }

    #[test]
    fn sealed_offsets_are_verified_and_others_refused() {
        let identity = crate::identity::current();
        let (entry, function) = offsets_of(double as fn(u64) -> u64);
        let sealed = seal(identity, entry, function);
        assert_eq!(verify(identity, entry, function, sealed), Ok(()));
        let damaged = verify(identity, entry, function ^ 0x40, sealed).unwrap_err();
        assert!(damaged.contains("checksum"), "{damaged}");
        // Sealed, but pointing at data, not code.
        static DATA: u64 = 7;
        let data = offset_of(&DATA as *const u64 as usize);
        let outside = verify(identity, entry, data, seal(identity, entry, data)).unwrap_err();
        assert!(outside.contains("outside"), "{outside}");
    }

    #[test]
    fn bad_arguments_are_a_failure_not_a_crash() {
        let (entry, function) = offsets_of(double as fn(u64) -> u64);
        // SAFETY: the offsets come from this very process.
        let result = unsafe { call(entry, function, &[]) };
        assert!(matches!(result, TaskResult::Failed(m) if m.contains("decode")));
    }
}
