//! Task slots: each running task holds the smallest free number from 1, so
//! that N tasks at once use slots 1 to N (GNU parallel's `{%}`).

/// The slots in use.
#[derive(Debug, Default)]
pub(crate) struct SlotPool {
    in_use: Vec<bool>,
}

impl SlotPool {
    /// Takes the smallest free slot.
    pub(crate) fn acquire(&mut self) -> usize {
        match self.in_use.iter().position(|used| !used) {
            Some(index) => {
                self.in_use[index] = true;
                index + 1
            }
            None => {
                self.in_use.push(true);
                self.in_use.len()
            }
        }
    }

    /// Gives `slot` back.
    pub(crate) fn release(&mut self, slot: usize) {
        if let Some(used) = slot.checked_sub(1).and_then(|i| self.in_use.get_mut(i)) {
            *used = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_smallest_free_slot_is_reused() {
        let mut pool = SlotPool::default();
        assert_eq!((pool.acquire(), pool.acquire(), pool.acquire()), (1, 2, 3));
        pool.release(2);
        assert_eq!(pool.acquire(), 2);
        pool.release(1);
        pool.release(3);
        assert_eq!(pool.acquire(), 1);
        assert_eq!(pool.acquire(), 3);
        pool.release(0);
        pool.release(99);
        assert_eq!(pool.acquire(), 4);
    }
}
