//! [`TaskFunction`]: which functions may run as tasks (function items and
//! closures that capture nothing, of up to eight owned serde arguments), and
//! how each becomes the one-argument function pointer that travels to a
//! worker.
//!
//! A function item or a capture-free closure is a zero-sized value: the
//! type *is* the function. For each such type `F` a small function
//! `shim::<F, ..>` takes the arguments as one tuple and calls `F`; its
//! address is what [`offsets_of`](super::offsets_of) sends. In the worker,
//! the shim makes its `F` out of nothing (a zero-sized value has no bytes
//! to copy) and calls it.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A function that can run as a task: a function item, or a closure that
/// captures nothing, taking up to eight arguments.
///
/// Every argument and the return value must be an *owned* serde type
/// (`String`, `Vec<T>`, your own `#[derive(Serialize, Deserialize)]`
/// types...): the arguments are serialised when the task is queued and
/// decoded in the worker, a process of its own. You never implement this
/// trait; `Signature` is the function's signature (`fn(A, B) -> R`), which
/// the compiler infers.
///
/// The arguments are given as one value: the argument itself for a
/// function of one parameter, `()` for none, a tuple for several.
///
/// ```
/// # dummymp::init();
/// fn answer() -> u32 { 42 }
/// fn double(x: u32) -> u32 { 2 * x }
/// fn add(a: u32, b: u32) -> u32 { a + b }
/// fn add_pair((a, b): (u32, u32)) -> u32 { a + b }
///
/// let mut mp = dummymp::DummyMp::new();
/// let none = mp.run(answer, ())?;
/// let one = mp.run(double, 21)?;
/// let two = mp.run(add, (40, 2))?;
/// let pair = mp.run(add_pair, (40, 2))?; // one parameter that is a tuple
/// let closure = mp.run(|x: u32| x + 1, 41)?; // parameter types written out
/// mp.process_until_done()?;
/// for task in [none, one, two, pair, closure] {
///     assert_eq!(mp.value(task), Some(&42));
/// }
/// # Ok::<(), dummymp::Error>(())
/// ```
///
/// # What does not compile
///
/// A closure that captures something: only the function's address travels
/// to the worker, not what it captured. Pass the value as an argument
/// instead.
///
/// ```compile_fail,E0277
/// # dummymp::init();
/// let offset = String::from("x");
/// let mut mp = dummymp::DummyMp::new();
/// mp.run(move |x: u32| x + offset.len() as u32, 1)?; // error: `String: Copy` is not satisfied
/// # Ok::<(), dummymp::Error>(())
/// ```
///
/// A closure that captures only `Copy` values compiles to the point where
/// the compiler makes the code that sends it, and stops there: "a dummymp
/// task function must be a function item or a closure that captures
/// nothing".
///
/// ```compile_fail,E0080
/// # dummymp::init();
/// let offset = 1u32;
/// let mut mp = dummymp::DummyMp::new();
/// mp.run(move |x: u32| x + offset, 1)?;
/// # Ok::<(), dummymp::Error>(())
/// ```
///
/// A borrowed argument: the task runs in another process, which receives
/// its own copy of the data, so take the owned type instead (`String`,
/// `Vec<T>`, `PathBuf`). For `&[T]` the compiler says that the function
/// "cannot run as a dummymp task" and why; for the types serde can borrow
/// (`&str`, `&[u8]`, `&Path`) it says "implementation of `Deserialize` is
/// not general enough" (Rust offers no way to a clearer message there).
///
/// ```compile_fail,E0277
/// # dummymp::init();
/// fn total(values: &[u64]) -> u64 { values.iter().sum() } // take `Vec<u64>` instead
/// let mut mp = dummymp::DummyMp::new();
/// mp.run(total, &[1, 2, 3][..])?;
/// # Ok::<(), dummymp::Error>(())
/// ```
///
/// ```compile_fail
/// # dummymp::init();
/// fn shout(text: &str) -> String { text.to_uppercase() } // take `String` instead
/// let mut mp = dummymp::DummyMp::new();
/// mp.run(shout, "hello")?;
/// # Ok::<(), dummymp::Error>(())
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot run as a dummymp task",
    label = "not a function item or capture-free closure of up to 8 owned serde arguments",
    note = "a task function's arguments and return value must be owned serde types \
            (`String`, not `&str`; `Vec<T>`, not `&[T]`)"
)]
pub trait TaskFunction<Signature>: Copy + 'static + sealed::Sealed<Signature> {
    /// The arguments as one value: `()`, the single argument, or a tuple.
    type Args: Serialize + DeserializeOwned + 'static;
    /// What the function returns.
    type Output: Serialize + DeserializeOwned + Send + 'static;

    /// The function as a pointer taking its arguments as one value.
    #[doc(hidden)]
    fn into_pointer(self) -> fn(Self::Args) -> Self::Output;
}

mod sealed {
    /// Keeps [`TaskFunction`](super::TaskFunction) for the functions this
    /// module implements it for.
    pub trait Sealed<Signature> {}
}

/// The value of the zero-sized function type `F`, in a process that never
/// received one.
fn conjure<F: Copy>() -> F {
    const {
        assert!(
            size_of::<F>() == 0,
            "a dummymp task function must be a function item or a closure that captures \
             nothing: only its address travels to the worker, not what it captured"
        );
    }
    // SAFETY: `F` has no bytes (asserted above), so no bit pattern of it
    // can be invalid, and it is inhabited: `F` is a function item or a
    // closure type (nothing else implements the `Fn` traits on stable
    // Rust), and the parent held a value of it when it queued the task.
    // `F: Copy`, so making another value of it duplicates nothing that
    // could not be duplicated anyway.
    unsafe { std::mem::zeroed() }
}

/// Implements [`TaskFunction`] for functions of the given parameters.
macro_rules! task_function {
    ($($arg:ident),*) => {
        impl<F, R, $($arg),*> sealed::Sealed<fn($($arg),*) -> R> for F
        where
            F: Fn($($arg),*) -> R + Copy + 'static,
        {
        }

        impl<F, R, $($arg),*> TaskFunction<fn($($arg),*) -> R> for F
        where
            F: Fn($($arg),*) -> R + Copy + 'static,
            R: Serialize + DeserializeOwned + Send + 'static,
            $($arg: Serialize + DeserializeOwned + 'static,)*
        {
            type Args = task_function!(@args $($arg),*);
            type Output = R;

            fn into_pointer(self) -> fn(Self::Args) -> R {
                #[allow(non_snake_case)]
                fn shim<F, R, $($arg),*>(args: task_function!(@args $($arg),*)) -> R
                where
                    F: Fn($($arg),*) -> R + Copy,
                {
                    let task_function!(@args $($arg),*) = args;
                    conjure::<F>()($($arg),*)
                }
                shim::<F, R, $($arg),*>
            }
        }
    };
    (@args) => { () };
    (@args $one:ident) => { $one };
    (@args $($arg:ident),+) => { ($($arg),+) };
}

task_function!();
task_function!(A);
task_function!(A, B);
task_function!(A, B, C);
task_function!(A, B, C, D);
task_function!(A, B, C, D, E);
task_function!(A, B, C, D, E, G);
task_function!(A, B, C, D, E, G, H);
task_function!(A, B, C, D, E, G, H, I);

#[cfg(test)]
mod tests {
    use super::*;

    fn pointer_of<F: TaskFunction<S>, S>(function: F) -> fn(F::Args) -> F::Output {
        function.into_pointer()
    }

    fn none() -> u8 {
        7
    }

    fn one(x: u8) -> u8 {
        x + 1
    }

    fn pair((a, b): (u8, u8)) -> u8 {
        a * b
    }

    fn two(a: u8, b: u8) -> u8 {
        a - b
    }

    #[allow(clippy::too_many_arguments)]
    fn eight(a: u8, b: u8, c: u8, d: u8, e: u8, f: u8, g: u8, h: String) -> String {
        format!("{a}{b}{c}{d}{e}{f}{g}{h}")
    }

    #[test]
    fn every_arity_calls_the_function() {
        assert_eq!(pointer_of(none)(()), 7);
        assert_eq!(pointer_of(one)(1), 2);
        assert_eq!(pointer_of(pair)((3, 4)), 12);
        assert_eq!(pointer_of(two)((9, 4)), 5);
        assert_eq!(
            pointer_of(eight)((1, 2, 3, 4, 5, 6, 7, "8".to_string())),
            "12345678"
        );
        assert_eq!(
            pointer_of(|s: String, n: usize| s.len() * n)(("abc".into(), 2)),
            6
        );
    }

    #[test]
    fn each_function_gets_its_own_shim() {
        fn three(x: u8) -> u8 {
            x + 3
        }
        assert_ne!(pointer_of(one) as usize, pointer_of(three) as usize);
    }
}
