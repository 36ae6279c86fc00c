//! Which refusals of the system may pass: a start refused with one of
//! these errors is tried again once one of our tasks ends (it freed a
//! process, memory or descriptors), and is final only when nothing of ours
//! runs.

use std::io;

/// Whether starting a process may work once others have ended.
pub(crate) fn is_transient(error: &io::Error) -> bool {
    is_transient_errno(error.raw_os_error())
}

/// [`is_transient`] for a raw error number.
pub(crate) fn is_transient_errno(errno: Option<i32>) -> bool {
    errno.is_some_and(crate::platform::is_resource_shortage)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_shortages_pass_and_other_errors_do_not() {
        assert!(is_transient(&io::Error::from_raw_os_error(libc::EAGAIN)));
        assert!(is_transient_errno(Some(libc::EMFILE)));
        assert!(!is_transient(&io::Error::from_raw_os_error(libc::ENOENT)));
        assert!(!is_transient(&io::Error::other("not a system error")));
        assert!(!is_transient_errno(None));
    }
}
