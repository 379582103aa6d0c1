//! Streaming local price levels: per (area, kind, metric) group, the most recent values of distinct
//! properties in a small ring, whose median is the comparable price. Memory is bounded by the ring size
//! times the number of groups, and the number of groups is capped.

use super::super::dedupe::hashing::{U64Map, map_heap_bytes};

struct Ring {
    values: Vec<f32>,
    /// Property (truncated id) of each value: a property reposted ten times counts once.
    owners: Vec<u32>,
    /// Slot the next new property overwrites once the ring is full.
    next: usize,
}

pub(crate) struct Comparables {
    window: usize,
    max_groups: usize,
    groups: U64Map<Ring>,
    scratch: Vec<f32>,
}

impl Comparables {
    pub(crate) fn new(window: usize, max_groups: usize) -> Self {
        Comparables {
            window: window.max(1),
            max_groups,
            groups: U64Map::default(),
            scratch: Vec::with_capacity(window),
        }
    }

    /// Median of the group and how many properties it rests on.
    pub(crate) fn median(&mut self, group: u64) -> Option<(f32, usize)> {
        let ring = self.groups.get(&group)?;
        self.scratch.clear();
        self.scratch.extend_from_slice(&ring.values);
        let count = self.scratch.len();
        if count == 0 {
            return None;
        }
        let middle = count / 2;
        let (_, upper, _) = self.scratch.select_nth_unstable_by(middle, f32::total_cmp);
        let upper = *upper;
        let median = if count % 2 == 1 {
            upper
        } else {
            // Even count: the largest of the lower half sits somewhere before `middle`.
            let lower = self.scratch[..middle]
                .iter()
                .copied()
                .fold(f32::NEG_INFINITY, f32::max);
            (lower + upper) / 2.0
        };
        Some((median, count))
    }

    /// Adds (or, for a property already in the ring, replaces) one value.
    pub(crate) fn record(&mut self, group: u64, owner: u32, value: f32) {
        if !value.is_finite() {
            return;
        }
        if !self.groups.contains_key(&group) && self.groups.len() >= self.max_groups {
            // Full: new areas go unmeasured rather than growing memory without bound.
            return;
        }
        let window = self.window;
        let ring = self.groups.entry(group).or_insert_with(|| Ring {
            values: Vec::with_capacity(window.min(8)),
            owners: Vec::with_capacity(window.min(8)),
            next: 0,
        });
        if let Some(slot) = ring.owners.iter().position(|&o| o == owner) {
            ring.values[slot] = value;
        } else if ring.values.len() < window {
            ring.values.push(value);
            ring.owners.push(owner);
        } else {
            ring.values[ring.next] = value;
            ring.owners[ring.next] = owner;
            ring.next = (ring.next + 1) % window;
        }
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        map_heap_bytes(&self.groups)
            + self
                .groups
                .values()
                .map(|ring| ring.values.capacity() * 4 + ring.owners.capacity() * 4)
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_rings() {
        let mut comparables = Comparables::new(8, 10);
        for (owner, value) in [5.0, 1.0, 3.0].into_iter().enumerate() {
            comparables.record(1, owner as u32, value);
        }
        assert_eq!(comparables.median(1), Some((3.0, 3)));
        comparables.record(1, 9, 10.0);
        assert_eq!(comparables.median(1), Some((4.0, 4)));
        assert_eq!(comparables.median(2), None);
    }

    #[test]
    fn one_property_counts_once_and_the_ring_forgets_oldest() {
        let mut comparables = Comparables::new(3, 10);
        for _ in 0..10 {
            comparables.record(1, 7, 2.0);
        }
        assert_eq!(comparables.median(1), Some((2.0, 1)));
        for owner in 0..3 {
            comparables.record(1, 100 + owner, 9.0);
        }
        assert_eq!(comparables.median(1), Some((9.0, 3)));
    }

    #[test]
    fn group_count_is_capped() {
        let mut comparables = Comparables::new(4, 2);
        for group in 0..5 {
            comparables.record(group, 1, 1.0);
        }
        assert_eq!(comparables.groups.len(), 2);
        assert!(comparables.heap_bytes() > 0);
    }
}
