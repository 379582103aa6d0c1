//! Sliding-window sums per area: a ring of time buckets per area plus one ring of totals, so that an
//! area's share of recent activity is two ring sums and a division.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::dedupe::hashing::{U64Map, map_heap_bytes};

/// Bucket index of each slot (0 = never written) and its sum.
#[derive(Clone)]
struct Ring {
    epochs: Box<[u32]>,
    sums: Box<[f32]>,
}

impl Ring {
    fn new(buckets: usize) -> Self {
        Ring {
            epochs: vec![0; buckets].into_boxed_slice(),
            sums: vec![0.0; buckets].into_boxed_slice(),
        }
    }

    fn add(&mut self, bucket: u32, amount: f32) {
        let slot = bucket as usize % self.epochs.len();
        if self.epochs[slot] != bucket {
            // The slot holds a bucket that has slid out of the window: reuse it.
            self.epochs[slot] = bucket;
            self.sums[slot] = 0.0;
        }
        self.sums[slot] += amount;
    }

    /// Sum of the buckets in `(now - buckets, now]`.
    fn sum(&self, now: u32) -> f64 {
        let len = self.epochs.len() as u32;
        self.epochs
            .iter()
            .zip(self.sums.iter())
            .filter(|(epoch, _)| **epoch != 0 && **epoch <= now && now - **epoch < len)
            .map(|(_, sum)| f64::from(*sum))
            .sum()
    }
}

pub(crate) struct AreaWindows {
    bucket_seconds: i64,
    buckets: usize,
    max_areas: usize,
    areas: U64Map<Ring>,
    totals: Ring,
    /// Areas with activity in the window, exact as of the last sweep and counted up since.
    active_areas: usize,
    /// Newest bucket seen; events older than the window behind it are dropped.
    newest: u32,
    last_sweep: u32,
}

impl AreaWindows {
    pub(crate) fn new(window: Duration, buckets: u32, max_areas: usize) -> Self {
        let buckets = buckets.max(1) as usize;
        let bucket_seconds = (window.as_secs() / buckets as u64).max(1) as i64;
        AreaWindows {
            bucket_seconds,
            buckets,
            max_areas,
            areas: U64Map::default(),
            totals: Ring::new(buckets),
            active_areas: 0,
            newest: 0,
            last_sweep: 0,
        }
    }

    /// Bucket of a time; 1-based so that 0 can mean "never written". Times before 1970 share bucket 1.
    fn bucket(&self, at: DateTime<Utc>) -> u32 {
        let index = at.timestamp().div_euclid(self.bucket_seconds) + 1;
        index.clamp(1, i64::from(u32::MAX)) as u32
    }

    pub(crate) fn add(&mut self, area: u64, at: DateTime<Utc>, amount: f32) {
        if !(amount.is_finite() && amount > 0.0) {
            return;
        }
        let bucket = self.bucket(at);
        self.sweep_if_advanced(bucket);
        self.newest = self.newest.max(bucket);
        if self.newest - bucket >= self.buckets as u32 {
            return;
        }
        if !self.areas.contains_key(&area) && self.areas.len() >= self.max_areas {
            return;
        }
        let newest = self.newest;
        let buckets = self.buckets;
        let ring = self.areas.entry(area).or_insert_with(|| Ring::new(buckets));
        if ring.sum(newest) == 0.0 {
            self.active_areas += 1;
        }
        ring.add(bucket, amount);
        self.totals.add(bucket, amount);
    }

    /// The area's window sum relative to the average active area, smoothed by one unit on both sides:
    /// `(area + 1) / (average + 1)`. `None` when there is nothing to compare (no activity at all, or
    /// an area that could not be tracked because the map is full).
    pub(crate) fn relative(&mut self, area: u64, now: DateTime<Utc>) -> Option<f64> {
        let bucket = self.bucket(now);
        self.sweep_if_advanced(bucket);
        let total = self.totals.sum(bucket);
        if total <= 0.0 {
            return None;
        }
        let area_sum = match self.areas.get(&area) {
            Some(ring) => ring.sum(bucket),
            None if self.areas.len() >= self.max_areas => return None,
            None => 0.0,
        };
        let average = total / self.active_areas.max(1) as f64;
        Some((area_sum + 1.0) / (average + 1.0))
    }

    /// Once per bucket step: drop areas whose window is empty and recount the active ones exactly.
    fn sweep_if_advanced(&mut self, bucket: u32) {
        if bucket <= self.last_sweep {
            return;
        }
        self.last_sweep = bucket;
        let at = bucket.max(self.newest);
        self.areas.retain(|_, ring| ring.sum(at) > 0.0);
        self.active_areas = self.areas.len();
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        map_heap_bytes(&self.areas) + self.areas.len() * self.buckets * 8 + self.buckets * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(hours: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + hours * 3600, 0).unwrap()
    }

    #[test]
    fn events_slide_out_of_the_window() {
        let mut windows = AreaWindows::new(Duration::from_secs(24 * 3600), 24, 100);
        windows.add(1, at(0), 5.0);
        windows.add(2, at(0), 1.0);
        // Area 1: 5 of 6 total over 2 active areas -> (5 + 1) / (3 + 1).
        assert_eq!(windows.relative(1, at(1)), Some(1.5));
        assert_eq!(windows.relative(3, at(1)), Some(0.25));
        // A day later everything has slid out.
        assert_eq!(windows.relative(1, at(25)), None);
        assert!(windows.areas.is_empty(), "empty areas are swept");
    }

    #[test]
    fn events_older_than_the_window_are_dropped() {
        let mut windows = AreaWindows::new(Duration::from_secs(24 * 3600), 24, 100);
        windows.add(1, at(100), 1.0);
        windows.add(2, at(10), 50.0);
        assert_eq!(windows.relative(1, at(100)), Some(1.0));
    }

    #[test]
    fn area_count_is_capped() {
        let mut windows = AreaWindows::new(Duration::from_secs(3600), 4, 2);
        for area in 0..5 {
            windows.add(area, at(0), 1.0);
        }
        assert_eq!(windows.areas.len(), 2);
        assert_eq!(
            windows.relative(9, at(0)),
            None,
            "untracked areas count as average"
        );
    }
}
