//! A hasher for maps keyed by values that are already well-spread 64-bit numbers (xxh3 hashes, H3
//! indexes). SipHash costs more than the rest of a dedupe lookup; this finaliser costs two multiplies.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// MurmurHash3's 64-bit finaliser over the written integers. H3 indexes keep their unused low digits
/// all set, so the key is mixed rather than used as is: hashbrown picks buckets from the low bits.
#[derive(Default, Clone, Copy)]
pub(crate) struct MixHasher(u64);

impl Hasher for MixHasher {
    fn finish(&self) -> u64 {
        let mut x = self.0;
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        x ^ (x >> 33)
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only reached for non-integer keys; fold bytes in so any key type still works.
        for &byte in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 ^= value;
    }

    fn write_u32(&mut self, value: u32) {
        self.0 ^= u64::from(value);
    }
}

pub(crate) type U64Map<V> = HashMap<u64, V, BuildHasherDefault<MixHasher>>;

/// Heap bytes of a hash map's table: buckets hold the entry plus one control byte.
pub(crate) fn map_heap_bytes<V>(map: &U64Map<V>) -> usize {
    if map.capacity() == 0 {
        return 0;
    }
    // hashbrown keeps at most 7/8 of its buckets full; capacity() reports that usable share.
    let buckets = (map.capacity() * 8).div_ceil(7).next_power_of_two();
    buckets * (std::mem::size_of::<(u64, V)>() + 1)
}
