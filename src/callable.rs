//! How a function travels to a worker.
//!
//! A worker is the same executable as its parent, so every function sits at
//! the same distance from any other function in both processes, whatever
//! address the loader chose for each (ASLR shifts the whole image). The
//! parent sends two such distances, measured from [`anchor`]: the user's
//! function and the entry point monomorphised for its argument and return
//! types ([`entry_for`]). The worker adds them to its own anchor, checks
//! nothing else can be meant (its executable identity must equal the
//! parent's, see [`crate::identity`]), and calls the entry point, which
//! decodes the argument, calls the function and encodes what it returned.
//!
//! This is the one place where dummymp needs `unsafe` outside of a system
//! call: turning those addresses back into function pointers.

use std::panic::{AssertUnwindSafe, catch_unwind};

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
    match catch_unwind(AssertUnwindSafe(move || function(args))) {
        Ok(value) => match postcard::to_stdvec(&value) {
            Ok(bytes) => TaskResult::Returned(bytes),
            Err(e) => TaskResult::Failed(format!("cannot serialise the return value: {e}")),
        },
        Err(payload) => crate::worker::panic_result(payload),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn bad_arguments_are_a_failure_not_a_crash() {
        let (entry, function) = offsets_of(double as fn(u64) -> u64);
        // SAFETY: the offsets come from this very process.
        let result = unsafe { call(entry, function, &[]) };
        assert!(matches!(result, TaskResult::Failed(m) if m.contains("decode")));
    }
}
