//! [`CpuSet`]: a set of CPU ids, the value CPU affinity masks are made of.

use std::fmt;

/// A set of CPU ids, as used by CPU affinity masks.
///
/// ```
/// use dummymp::CpuSet;
/// let a = CpuSet::from_ids([0, 1, 2, 3]);
/// let b = CpuSet::from_ids([2, 3, 4]);
/// assert_eq!(a.len(), 4);
/// assert_eq!(a.intersection_len(&b), 2);
/// assert!(b.contains(4));
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct CpuSet {
    words: Vec<u64>,
}

impl CpuSet {
    /// The set of the given CPU ids.
    ///
    /// ```
    /// use dummymp::CpuSet;
    /// let set = CpuSet::from_ids([3, 1, 1]);
    /// assert_eq!(set.iter().collect::<Vec<_>>(), [1, 3]);
    /// ```
    pub fn from_ids(ids: impl IntoIterator<Item = usize>) -> Self {
        let mut set = CpuSet::default();
        for id in ids {
            let word = id / 64;
            if set.words.len() <= word {
                set.words.resize(word + 1, 0);
            }
            set.words[word] |= 1 << (id % 64);
        }
        set
    }

    /// Number of CPUs in the set.
    ///
    /// ```
    /// use dummymp::CpuSet;
    /// assert_eq!(CpuSet::from_ids(0..8).len(), 8);
    /// ```
    pub fn len(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Whether the set holds no CPU.
    ///
    /// ```
    /// use dummymp::CpuSet;
    /// assert!(CpuSet::default().is_empty());
    /// assert!(!CpuSet::from_ids([0]).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `cpu` is in the set.
    ///
    /// ```
    /// use dummymp::CpuSet;
    /// let set = CpuSet::from_ids([0, 2]);
    /// assert!(set.contains(2));
    /// assert!(!set.contains(1));
    /// ```
    pub fn contains(&self, cpu: usize) -> bool {
        self.words
            .get(cpu / 64)
            .is_some_and(|w| w & (1 << (cpu % 64)) != 0)
    }

    /// Number of CPUs in both sets.
    ///
    /// ```
    /// use dummymp::CpuSet;
    /// let mine = CpuSet::from_ids(0..4);
    /// assert_eq!(mine.intersection_len(&CpuSet::from_ids([2, 3, 4, 5])), 2);
    /// ```
    pub fn intersection_len(&self, other: &CpuSet) -> usize {
        self.words
            .iter()
            .zip(&other.words)
            .map(|(a, b)| (a & b).count_ones() as usize)
            .sum()
    }

    /// The CPUs in both sets.
    pub(crate) fn intersection(&self, other: &CpuSet) -> CpuSet {
        CpuSet {
            words: self
                .words
                .iter()
                .zip(&other.words)
                .map(|(a, b)| a & b)
                .collect(),
        }
    }

    /// Adds the CPUs of `other` to the set.
    pub(crate) fn add_all(&mut self, other: &CpuSet) {
        if self.words.len() < other.words.len() {
            self.words.resize(other.words.len(), 0);
        }
        for (word, more) in self.words.iter_mut().zip(&other.words) {
            *word |= more;
        }
    }

    /// The CPU ids in the set, in increasing order.
    ///
    /// ```
    /// use dummymp::CpuSet;
    /// let set = CpuSet::from_ids([70, 4, 0]);
    /// assert_eq!(set.iter().collect::<Vec<_>>(), [0, 4, 70]);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(i, &w)| {
            (0..64)
                .filter(move |bit| w & (1 << bit) != 0)
                .map(move |bit| i * 64 + bit)
        })
    }
}

impl fmt::Debug for CpuSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets() {
        let set = CpuSet::from_ids([0, 5, 64, 130]);
        assert_eq!(set.len(), 4);
        assert_eq!(set.iter().collect::<Vec<_>>(), vec![0, 5, 64, 130]);
        assert!(set.contains(64) && !set.contains(63));
        assert_eq!(set.intersection_len(&CpuSet::from_ids([5, 130, 7])), 2);
        assert_eq!(format!("{set:?}"), "{0, 5, 64, 130}");
    }
}
