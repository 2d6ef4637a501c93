//! Majority arithmetic, kept pure so it can be tested in isolation.

use crate::Index;

/// The highest index that a strict majority of `matches` has reached: the median of the
/// match indexes sorted in descending order. `None` for an empty set.
///
/// Runs on every acknowledgement, so small clusters sort on the stack.
pub(crate) fn majority_index(matches: impl ExactSizeIterator<Item = Index>) -> Option<Index> {
    const STACK: usize = 16;
    let n = matches.len();
    if n == 0 {
        return None;
    }
    if n > STACK {
        return Some(majority_of_many(matches.collect()));
    }
    let mut stack = [Index(0); STACK];
    for (slot, m) in stack.iter_mut().zip(matches) {
        *slot = m;
    }
    let sorted = &mut stack[..n];
    sort_descending(sorted);
    Some(sorted[n / 2])
}

/// [`majority_index`] of more servers than fit on the stack: rare, so out of the way.
#[cold]
fn majority_of_many(mut matches: Vec<Index>) -> Index {
    matches.sort_unstable_by(|a, b| b.cmp(a));
    matches[matches.len() / 2]
}

/// Sorts a handful of indexes in descending order: an insertion sort, which for a cluster's
/// few servers costs less than the general sort's setup.
fn sort_descending(v: &mut [Index]) {
    for i in 1..v.len() {
        let x = v[i];
        let mut j = i;
        while j > 0 && v[j - 1] < x {
            v[j] = v[j - 1];
            j -= 1;
        }
        v[j] = x;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A table in the spirit of raft-rs/etcd's quorum tests: match indexes → committed index.
    #[test]
    fn r4_majority_index_table() {
        let table: &[(&[u64], Option<u64>)] = &[
            (&[], None),
            (&[5], Some(5)),
            (&[5, 3], Some(3)),
            (&[9, 7, 5], Some(7)),
            (&[1, 9, 7, 5], Some(5)),
            (&[2, 2, 9, 9, 9], Some(9)),
            (&[0, 0, 0, 9, 9], Some(0)),
        ];
        for (matches, want) in table {
            let got = majority_index(matches.iter().map(|&m| Index(m)));
            assert_eq!(got, want.map(Index), "{matches:?}");
        }
    }

    proptest! {
        /// The result is reached by a strict majority, and nothing higher is.
        #[test]
        fn majority_index_is_the_highest_majority(v in proptest::collection::vec(0u64..20, 1..40)) {
            let m = majority_index(v.iter().map(|&x| Index(x))).unwrap().0;
            let at_least = |i: u64| v.iter().filter(|&&x| x >= i).count();
            prop_assert!(at_least(m) > v.len() / 2);
            prop_assert!(at_least(m + 1) <= v.len() / 2);
        }
    }
}
