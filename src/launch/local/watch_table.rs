//! The watchdog's table: one entry per running command, what its end
//! signals reach as `kill(2)` takes it (a negative process group, a
//! positive process id; 0 for a free entry), in a memory file the engine
//! writes with one `pwrite` per start and per end and the watchdog reads
//! when this program dies.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Mutex, PoisonError};

/// The size of one table entry: a `kill(2)` target, 0 when free.
const ENTRY: u64 = 4;

/// The table the watchdog reads, shared with the entries that are in it.
pub(crate) struct Table {
    file: OwnedFd,
    /// Free entries, and how many were ever used.
    entries: Mutex<(Vec<u32>, u32)>,
}

/// A task's entry in the watchdog's table, taken out when dropped: drop it
/// before the task's process is reaped, so that a stale entry can never
/// name a reused id.
#[derive(Debug)]
pub(crate) struct WatchEntry {
    table: Arc<Table>,
    entry: u32,
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table").finish_non_exhaustive()
    }
}

impl Table {
    /// A table in `file` (a memory file the watchdog has a copy of).
    pub(crate) fn new(file: OwnedFd) -> Table {
        Table {
            file,
            entries: Mutex::new((Vec::new(), 0)),
        }
    }

    /// Puts `target` in the table.
    pub(crate) fn add(table: &Arc<Table>, target: i32) -> WatchEntry {
        let entry = {
            let mut entries = table.entries.lock().unwrap_or_else(PoisonError::into_inner);
            let (free, used) = &mut *entries;
            free.pop().unwrap_or_else(|| {
                *used += 1;
                *used - 1
            })
        };
        table.write(entry, target);
        WatchEntry {
            table: Arc::clone(table),
            entry,
        }
    }

    fn write(&self, entry: u32, target: i32) {
        let offset = u64::from(entry) * ENTRY;
        if let Err(e) = rustix::io::pwrite(&self.file, &target.to_le_bytes(), offset) {
            log::warn!(target: "dummymp::engine", "cannot update the watchdog's table: {e}");
        }
    }
}

impl Drop for WatchEntry {
    fn drop(&mut self) {
        self.table.write(self.entry, 0);
        self.table
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .0
            .push(self.entry);
    }
}

/// The targets in the table behind `table` (never 0, 1, -1: "everything").
pub(crate) fn read_table(table: &impl AsFd) -> Vec<i32> {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match rustix::io::pread(table, &mut chunk, bytes.len() as u64) {
            Ok(0) | Err(_) => break,
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
        }
    }
    bytes
        .chunks_exact(ENTRY as usize)
        .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .filter(|target| target.unsigned_abs() > 1)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::fs::MemfdFlags;

    #[test]
    fn the_table_lists_registered_targets_only() {
        let table = rustix::fs::memfd_create("t", MemfdFlags::CLOEXEC).unwrap();
        let write = |entry: u64, target: i32| {
            rustix::io::pwrite(&table, &target.to_le_bytes(), entry * ENTRY).unwrap();
        };
        write(0, -4242);
        write(1, 4343);
        write(2, 4444);
        write(3, -1);
        write(1, 0);
        assert_eq!(read_table(&table), vec![-4242, 4444]);
    }
}
