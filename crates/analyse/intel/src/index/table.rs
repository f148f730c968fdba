//! Compact building blocks of the match index: a host-name hash that gives the hash of every
//! label suffix of a host in one pass, an open-addressing table of `u32` ids, a bit set, a
//! sorted `u32` array with a radix bucket table, and the 128-bit content hash behind
//! `intel_version`.

/// FNV-1a style fold of bytes, for the exact (case-sensitive) hash of URL parts.
const FOLD_SEED: u64 = 0xcbf2_9ce4_8422_2325;
const FOLD_PRIME: u64 = 0x0000_0100_0000_01b3;

/// The murmur3 64-bit finaliser: spreads a state over all 64 bits.
#[inline(always)]
pub(crate) fn finish(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// Hash of a byte string, exactly as written (URLs: their path is case-sensitive).
pub(crate) fn hash_bytes(s: &[u8]) -> u64 {
    finish(s.iter().fold(FOLD_SEED, |h, &b| (h ^ u64::from(b)).wrapping_mul(FOLD_PRIME)))
}

const ONES: u64 = 0x0101_0101_0101_0101;

/// ASCII lower case of 8 bytes at once (other bytes unchanged).
#[inline(always)]
fn lower8(w: u64) -> u64 {
    let heptets = w & (0x7f * ONES);
    let ge_a = heptets + (0x80 - u64::from(b'A')) * ONES;
    let gt_z = heptets + (0x80 - u64::from(b'Z') - 1) * ONES;
    let upper = ge_a & !gt_z & !w & (0x80 * ONES);
    w | (upper >> 2)
}

#[inline(always)]
fn load8(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

/// Hash of one label `name[start..end]` (ASCII case folded), 8 bytes a step; the last,
/// partial step holds the remaining bytes in its low bytes, zeros above.
#[inline(always)]
fn label_hash(name: &[u8], start: usize, end: usize) -> u64 {
    let mut acc = 0x9e37_79b9_7f4a_7c15 ^ (end - start) as u64;
    let mut mix = |w: u64| {
        acc = (acc ^ lower8(w)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        acc ^= acc >> 31;
    };
    let mut c = start;
    while c + 8 <= end {
        mix(load8(name, c));
        c += 8;
    }
    let k = end - c;
    if k > 0 {
        if end >= 8 {
            // The 8 bytes ending at `end`, shifted so that the k wanted ones are the low bytes.
            mix(load8(name, end - 8) >> (8 * (8 - k)));
        } else {
            let mut w = [0u8; 8];
            w[..k].copy_from_slice(&name[c..end]);
            mix(u64::from_le_bytes(w));
        }
    }
    acc
}

/// Walk the label suffixes of a host name right to left (`com`, `evil.com`, `a.evil.com`),
/// ASCII case folded: `f(start, level, hash)` gets the byte offset where the suffix starts, its
/// number of labels and its hash, and returns whether to go on. Returns the hash of the whole
/// name (of the part walked, if stopped). Labels are hashed 8 bytes a step and the suffix
/// hash is extended one label at a time, so one pass gives the hash of every suffix: a label
/// walk over a host costs about as much as hashing it once.
#[inline]
pub(crate) fn walk_name(name: &[u8], mut f: impl FnMut(usize, u32, u64) -> bool) -> u64 {
    let mut h = 0x243f_6a88_85a3_08d3u64;
    let (mut end, mut level) = (name.len(), 0u32);
    loop {
        let start = name[..end].iter().rposition(|&b| b == b'.').map_or(0, |d| d + 1);
        h = (h.rotate_left(23) ^ label_hash(name, start, end)).wrapping_mul(0x94d0_49bb_1331_11eb);
        level += 1;
        let hh = finish(h);
        if !f(start, level, hh) || start == 0 {
            return hh;
        }
        end = start - 1;
    }
}

/// Hash of a host name with ASCII case folded (the hash of its whole-name suffix).
pub(crate) fn hash_name(name: &[u8]) -> u64 {
    walk_name(name, |_, _, _| true)
}

/// An open-addressing (linear probing) hash table of `u32` ids. The table stores no keys:
/// each slot holds 32 bits of the key's hash as a tag and the id, and the caller confirms a
/// candidate by comparing the key it keeps elsewhere. 8 bytes a slot at a load of at most 0.7,
/// so about 11.5 bytes an entry; capacity is not rounded to a power of two (the home slot is
/// `hash * capacity >> 32`, Lemire's multiply-shift reduction).
#[derive(Debug, Clone, Default)]
pub(crate) struct Table {
    slots: Vec<u64>, // (tag << 32) | (id + 1); 0 = empty
}

impl Table {
    pub(crate) fn with_entries(n: usize) -> Table {
        let cap = (n * 10 / 7 + 1).max(8);
        Table { slots: vec![0; cap] }
    }

    #[inline(always)]
    fn home(&self, hash: u64) -> usize {
        (((hash & 0xffff_ffff) * self.slots.len() as u64) >> 32) as usize
    }

    /// Insert an id; keys must be distinct (the builder inserts each distinct key once).
    pub(crate) fn insert(&mut self, hash: u64, id: u32) {
        let tag = hash >> 32;
        let mut i = self.home(hash);
        loop {
            if self.slots[i] == 0 {
                self.slots[i] = (tag << 32) | (u64::from(id) + 1);
                return;
            }
            i += 1;
            if i == self.slots.len() {
                i = 0;
            }
        }
    }

    /// The first id whose tag matches and for which `eq` confirms the key.
    #[inline]
    pub(crate) fn find(&self, hash: u64, mut eq: impl FnMut(u32) -> bool) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let tag = hash >> 32;
        let mut i = self.home(hash);
        loop {
            let s = self.slots[i];
            if s == 0 {
                return None;
            }
            if s >> 32 == tag {
                let id = (s & 0xffff_ffff) as u32 - 1;
                if eq(id) {
                    return Some(id);
                }
            }
            i += 1;
            if i == self.slots.len() {
                i = 0;
            }
        }
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.slots.capacity() * 8
    }
}

/// A fixed-size bit set.
#[derive(Debug, Clone, Default)]
pub(crate) struct BitSet {
    words: Vec<u64>,
}

impl BitSet {
    pub(crate) fn new(n: usize) -> BitSet {
        BitSet { words: vec![0; n.div_ceil(64)] }
    }
    pub(crate) fn set(&mut self, i: usize) {
        self.words[i / 64] |= 1 << (i % 64);
    }
    #[inline(always)]
    pub(crate) fn get(&self, i: usize) -> bool {
        self.words.get(i / 64).is_some_and(|w| w >> (i % 64) & 1 == 1)
    }
    pub(crate) fn heap_bytes(&self) -> usize {
        self.words.capacity() * 8
    }
}

/// A radix table over the top bits of sorted `u32` keys: `buckets[p]` is the index of the
/// first key whose top bits are >= `p`. A search reads one bucket entry and binary-searches the
/// few keys of the bucket, instead of ~19 dependent probes over 400 000 keys. The radix has
/// about a quarter as many buckets as keys (at most 16 bits, 256 KiB of buckets).
#[derive(Debug, Clone, Default)]
pub(crate) struct Radix {
    buckets: Vec<u32>,
    shift: u32,
}

impl Radix {
    /// `keys` must be sorted ascending (duplicates allowed).
    pub(crate) fn new(keys: &[u32]) -> Radix {
        let bits = (usize::BITS - keys.len().leading_zeros()).saturating_sub(2).clamp(1, 16);
        let shift = 32 - bits;
        let mut buckets = vec![0u32; (1usize << bits) + 1];
        let mut j = 0usize;
        for (p, b) in buckets.iter_mut().enumerate() {
            while j < keys.len() && ((keys[j] >> shift) as usize) < p {
                j += 1;
            }
            *b = j as u32;
        }
        Radix { buckets, shift }
    }

    /// The index range of the keys that share `x`'s top bits.
    #[inline(always)]
    pub(crate) fn range(&self, x: u32) -> (usize, usize) {
        let p = (x >> self.shift) as usize;
        (self.buckets[p] as usize, self.buckets[p + 1] as usize)
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.buckets.capacity() * 4
    }
}

/// A sorted array of `u32` (IPv4 addresses) with a [`Radix`] table.
#[derive(Debug, Clone, Default)]
pub(crate) struct SortedU32 {
    pub(crate) vals: Vec<u32>,
    radix: Radix,
}

impl SortedU32 {
    /// `vals` must be sorted ascending (duplicates allowed).
    pub(crate) fn new(vals: Vec<u32>) -> SortedU32 {
        debug_assert!(vals.windows(2).all(|w| w[0] <= w[1]));
        SortedU32 { radix: Radix::new(&vals), vals }
    }

    /// Index of the first value >= `x`.
    #[inline]
    pub(crate) fn lower_bound(&self, x: u32) -> usize {
        let (lo, hi) = self.radix.range(x);
        lo + self.vals[lo..hi].partition_point(|&v| v < x)
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.vals.capacity() * 4 + self.radix.heap_bytes()
    }
}

/// A cache-line-blocked Bloom filter: each key sets 3 bits in one 64-byte block, so a lookup
/// reads one cache line. At 8 bits a key it is about 1 byte per key, small enough to stay in
/// the CPU's L2 cache, and it answers "certainly absent" for ~97% of absent keys, sparing the
/// probe of the much larger hash table (a cache miss) for most event values, which match nothing.
#[derive(Debug, Clone, Default)]
pub(crate) struct Bloom {
    blocks: Vec<Block>,
}

#[derive(Debug, Clone, Copy, Default)]
#[repr(align(64))]
struct Block([u64; 8]);

impl Bloom {
    /// A filter for `n` keys at `bits_per_key` bits a key.
    pub(crate) fn with_entries(n: usize, bits_per_key: usize) -> Bloom {
        Bloom { blocks: vec![Block::default(); (n * bits_per_key).div_ceil(512).max(1)] }
    }

    #[inline(always)]
    fn bits(&self, hash: u64) -> (usize, [u32; 3]) {
        let b = (((hash >> 32) * self.blocks.len() as u64) >> 32) as usize;
        let h2 = hash.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        (b, [(h2 >> 37) as u32 & 511, (h2 >> 46) as u32 & 511, (h2 >> 55) as u32 & 511])
    }

    pub(crate) fn insert(&mut self, hash: u64) {
        self.insert_in(hash, hash);
    }

    /// Insert a key whose bits come from `hash`, in the block chosen by `block` (keys that are
    /// looked up together can share a block, and so one cache line).
    pub(crate) fn insert_in(&mut self, block: u64, hash: u64) {
        let (b, _) = self.bits(block);
        let (_, bits) = self.bits(hash);
        for p in bits {
            self.blocks[b].0[(p >> 6) as usize] |= 1 << (p & 63);
        }
    }

    /// `false`: certainly absent; `true`: maybe present.
    #[inline(always)]
    pub(crate) fn may_contain(&self, hash: u64) -> bool {
        self.may_contain_in(hash, hash)
    }

    #[inline(always)]
    pub(crate) fn may_contain_in(&self, block: u64, hash: u64) -> bool {
        if self.blocks.is_empty() {
            return false;
        }
        let (b, _) = self.bits(block);
        let (_, bits) = self.bits(hash);
        let w = &self.blocks[b].0;
        bits.iter().all(|&p| w[(p >> 6) as usize] >> (p & 63) & 1 == 1)
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.blocks.capacity() * 64
    }
}

/// A 128-bit content hash, stable across runs, platforms and releases of sweep (it only uses
/// explicit little-endian words, wrapping multiplications and shifts). Two independent 64-bit
/// lanes, each a bijective multiply-xorshift update per 8-byte word, finalised with the
/// murmur3 finaliser and the total length. Not cryptographic: it identifies content, it does
/// not authenticate it.
#[derive(Debug, Clone)]
pub(crate) struct ContentHash {
    a: u64,
    b: u64,
    /// Bytes written and not hashed yet: hashed 8 at a time once a few KiB are pending, so
    /// that the many small writes of a build cost a copy each, not a call into the mixer.
    pending: Vec<u8>,
    len: u64,
}

impl Default for ContentHash {
    fn default() -> Self {
        ContentHash { a: 0x243f_6a88_85a3_08d3, b: 0x1319_8a2e_0370_7344, pending: Vec::new(), len: 0 }
    }
}

/// Pending bytes hashed at once.
const PENDING: usize = 8 << 10;

impl ContentHash {
    #[inline]
    fn word(&mut self, w: u64) {
        self.a = (self.a ^ w).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.a ^= self.a >> 29;
        self.b = (self.b ^ w.rotate_left(23)).wrapping_mul(0xd6e8_feb8_6659_fd93);
        self.b ^= self.b >> 31;
    }

    /// Hash the whole 8-byte words of `pending`; keep the rest.
    fn drain(&mut self) {
        let whole = self.pending.len() / 8 * 8;
        let (mut a, mut b) = (self.a, self.b);
        for c in self.pending[..whole].chunks_exact(8) {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            let w = u64::from_le_bytes(w);
            a = (a ^ w).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            a ^= a >> 29;
            b = (b ^ w.rotate_left(23)).wrapping_mul(0xd6e8_feb8_6659_fd93);
            b ^= b >> 31;
        }
        (self.a, self.b) = (a, b);
        self.pending.drain(..whole);
    }

    #[inline]
    pub(crate) fn write(&mut self, bytes: &[u8]) {
        self.len += bytes.len() as u64;
        if self.pending.capacity() == 0 {
            self.pending.reserve(PENDING + 64);
        }
        self.pending.extend_from_slice(bytes);
        if self.pending.len() >= PENDING {
            self.drain();
        }
    }

    pub(crate) fn write_u8(&mut self, v: u8) {
        self.write(&[v]);
    }

    pub(crate) fn write_u64(&mut self, v: u64) {
        self.write(&v.to_le_bytes());
    }

    /// A length-prefixed string, so that field boundaries cannot shift.
    pub(crate) fn write_str(&mut self, s: &str) {
        self.write_u64(s.len() as u64);
        self.write(s.as_bytes());
    }

    pub(crate) fn finish(mut self) -> u128 {
        let len = self.len;
        self.drain();
        if !self.pending.is_empty() {
            let mut w = [0u8; 8];
            w[..self.pending.len()].copy_from_slice(&self.pending);
            self.word(u64::from_le_bytes(w));
        }
        self.word(len);
        let hi = finish(self.a ^ self.b.rotate_left(32));
        let lo = finish(self.b ^ len.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        (u128::from(hi) << 64) | u128::from(lo)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_walk_gives_the_hash_of_every_suffix() {
        let host = b"a.bcdefghijklmnop.Evil.com";
        let mut seen = Vec::new();
        let full = walk_name(host, |start, level, h| {
            seen.push((start, level, h));
            true
        });
        let starts: Vec<(usize, u32)> = seen.iter().map(|&(s, l, _)| (s, l)).collect();
        assert_eq!(starts, [(23, 1), (18, 2), (2, 3), (0, 4)]);
        for &(start, _, h) in &seen {
            assert_eq!(h, hash_name(&host[start..]), "suffix at {start}");
        }
        assert_eq!(full, seen[3].2);
        assert_eq!(hash_name(b"EVIL.Com"), hash_name(b"evil.com"));
        assert_ne!(hash_name(b"evil.com"), hash_name(b"evil.co"));
        assert_ne!(hash_name(b"ab.c"), hash_name(b"a.bc"));
        assert_ne!(hash_name(b"a"), hash_name(b"a\0"));
        let long = "x".repeat(300);
        assert_eq!(hash_name(long.as_bytes()), hash_name(long.to_uppercase().as_bytes()));
        assert_eq!(lower8(u64::from_le_bytes(*b"AZaz@[\xc1\xda")), u64::from_le_bytes(*b"azaz@[\xc1\xda"));
        // Stopping early returns the hash reached.
        assert_eq!(walk_name(b"a.evil.com", |_, level, _| level < 2), hash_name(b"evil.com"));
    }

    #[test]
    fn table_finds_inserted_ids_and_only_them() {
        let keys: Vec<String> = (0..1000).map(|i| format!("k{i}.example")).collect();
        let mut t = Table::with_entries(keys.len());
        for (i, k) in keys.iter().enumerate() {
            t.insert(hash_bytes(k.as_bytes()), i as u32);
        }
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(t.find(hash_bytes(k.as_bytes()), |id| keys[id as usize] == *k), Some(i as u32));
        }
        assert_eq!(t.find(hash_bytes(b"absent"), |id| keys[id as usize] == "absent"), None);
        assert_eq!(Table::default().find(1, |_| true), None);
    }

    #[test]
    fn sorted_u32_search_matches_a_plain_search() {
        let mut vals: Vec<u32> = (0..5000u32).map(|i| i.wrapping_mul(2_654_435_761) >> 3).collect();
        vals.extend([0, 0, u32::MAX, u32::MAX, 77, 77, 77]);
        vals.sort_unstable();
        let s = SortedU32::new(vals.clone());
        for x in [0, 1, 76, 77, 78, u32::MAX, u32::MAX - 1, 1 << 31, 12345678] {
            assert_eq!(s.lower_bound(x), vals.partition_point(|&v| v < x), "lower {x}");
            let (lo, hi) = s.radix.range(x);
            assert!(vals[..lo].iter().all(|&v| v < x) && vals[hi..].iter().all(|&v| v > x), "bucket of {x}");
        }
        let empty = SortedU32::new(Vec::new());
        assert_eq!(empty.lower_bound(5), 0);
    }

    #[test]
    fn bloom_has_no_false_negatives_and_few_false_positives() {
        let n = 20_000u64;
        let mut b = Bloom::with_entries(n as usize, 8);
        for i in 0..n {
            b.insert(finish(i));
        }
        assert!((0..n).all(|i| b.may_contain(finish(i))));
        let fp = (n..11 * n).filter(|&i| b.may_contain(finish(i))).count();
        assert!(fp < (10 * n as usize) / 20, "false positives: {fp} of {}", 10 * n);
        assert!(!Bloom::default().may_contain(1));
    }

    #[test]
    fn content_hash_is_fixed_and_split_independent() {
        let mut a = ContentHash::default();
        a.write(b"hello, intel");
        a.write(b" world");
        let mut b = ContentHash::default();
        b.write(b"hello, intel world");
        let (ha, hb) = (a.finish(), b.finish());
        assert_eq!(ha, hb);
        let mut c = ContentHash::default();
        c.write(b"hello, intel world!");
        assert_ne!(ha, c.finish());
        // Longer than the pending buffer, in pieces of every size.
        let long: Vec<u8> = (0..3 * PENDING as u32 + 5).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
        let mut whole = ContentHash::default();
        whole.write(&long);
        let whole = whole.finish();
        for step in [1, 3, 8, 13, PENDING - 1, PENDING + 9] {
            let mut h = ContentHash::default();
            for c in long.chunks(step) {
                h.write(c);
            }
            assert_eq!(h.finish(), whole, "pieces of {step}");
        }
        // A fixed value: the version must never change for the same content.
        let mut d = ContentHash::default();
        d.write_str("evil.com");
        assert_eq!(format!("{:032x}", d.finish()), "b1b47cffd9c3cb4f7c9fc5ed6a328b1c");
    }
}
