//! Per-chunk bloom filters of the 4-byte substrings (4-grams) of its lines,
//! so that a line filter `|= "literal"` skips every chunk that cannot hold
//! the literal: each of the literal's 4-grams must be in the filter.
//!
//! Why 4-grams rather than words: `|=` matches substrings, so a filter of
//! words could only prune for literals that hold a whole word between two
//! separators; 4-grams prune for any literal of four bytes or more (Loki's
//! bloom filters chose n-grams for the same reason).
//!
//! The number of distinct 4-grams is only known after the chunk is read,
//! so the filter is built at its largest size and then folded: with a
//! power-of-two size, OR-ing the upper half onto the lower half gives the
//! filter a half-size build would have given, because positions are taken
//! modulo the size. It is folded while at most [`MAX_FILL`] of the bits
//! would be set (about 9% false positives per gram with two probes).
//!
//! A query does not read a whole filter: [`Bloom::positions`] says which
//! bits a literal needs, and the segment reads only the words that hold
//! them.
//!
//! Two layouts ([`Probes`]): segments of version 1 set two bits anywhere
//! in the filter per gram; version 2 sets both in one 64-bit word chosen
//! by the gram (a blocked bloom filter). Building it touches one word per
//! byte of lines instead of two, from one multiplication instead of two
//! and a shift: about half the cost, and building filters was as much of
//! a flush as compressing. Its false positives are a little higher at the
//! same fill (the two bits of a gram share a word), which the query's
//! several grams make up for.

/// Bits of the filter a chunk starts with.
const MAX_BITS: usize = 1 << 22;
/// Fewest bits a filter keeps (small chunks).
const MIN_BITS: usize = 1 << 10;
/// Largest share of set bits a fold may reach.
const MAX_FILL: f64 = 0.3;

/// How a filter maps a gram to its two bits: the layout of a segment's
/// version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Probes {
    /// Two bits anywhere in the filter (segments of version 1).
    Spread,
    /// Two bits in one word (version 2, what is written now).
    Blocked,
}

/// A bloom filter of 4-grams, two bits per gram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Bloom {
    words: Vec<u64>,
    probes: Probes,
}

/// The two bits of a gram in a filter of `bits` bits (a power of two of
/// at least 64).
#[inline]
fn bits_of(probes: Probes, gram: u32, bits: usize) -> (usize, usize) {
    let mask = bits.wrapping_sub(1);
    match probes {
        Probes::Spread => {
            let h = u64::from(gram).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let h = h ^ (h >> 29);
            let h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
            ((h >> 32) as usize & mask, (h & 0xFFFF_FFFF) as usize & mask)
        }
        Probes::Blocked => {
            // The bits of a 64-bit product from bit 26 up depend on every
            // bit of the 32-bit gram: the word from the top ones, the two
            // bits within it from two groups of six below them.
            let h = u64::from(gram).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let word = ((h >> 40) as usize) & (mask >> 6);
            let base = word << 6;
            (
                base | ((h >> 26) & 63) as usize,
                base | ((h >> 32) & 63) as usize,
            )
        }
    }
}

/// The 4-grams of `bytes`, as little-endian u32s.
#[inline]
fn grams(bytes: &[u8]) -> impl Iterator<Item = u32> + '_ {
    bytes
        .windows(4)
        .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
}

impl Bloom {
    /// A filter of every 4-gram of `lines` (`bytes` long in all), folded
    /// to its size. It starts at one bit per byte of lines (up to
    /// [`MAX_BITS`]): at most an eighth of the chunk's lines, whatever
    /// their grams. Lines full of ids have nearly as many distinct grams
    /// as bytes, which fills such a filter to about 60% (each gram a
    /// 40% false positive); a literal is ruled out when any of its grams
    /// is, so a literal of a dozen bytes still prunes all but a chunk in
    /// ten thousand, and a filter never outweighs its chunk (the first
    /// version, at 16 bits a byte, made segments twice their data).
    pub(crate) fn build<'a>(
        probes: Probes,
        lines: impl IntoIterator<Item = &'a [u8]>,
        bytes: usize,
    ) -> Bloom {
        let bits = bytes.next_power_of_two().clamp(MIN_BITS, MAX_BITS);
        let mut words = vec![0u64; bits / 64];
        for line in lines {
            for gram in grams(line) {
                let (a, b) = bits_of(probes, gram, bits);
                words[a / 64] |= 1 << (a % 64);
                words[b / 64] |= 1 << (b % 64);
            }
        }
        let mut bloom = Bloom { words, probes };
        bloom.fold();
        bloom
    }

    /// Halves the filter while the result stays sparse enough.
    fn fold(&mut self) {
        while self.words.len() * 64 > MIN_BITS {
            let half = self.words.len() / 2;
            let set: u64 = self.words[..half]
                .iter()
                .zip(&self.words[half..])
                .map(|(a, b)| u64::from((a | b).count_ones()))
                .sum();
            if set as f64 > MAX_FILL * (half * 64) as f64 {
                break;
            }
            let (low, high) = self.words.split_at_mut(half);
            for (a, b) in low.iter_mut().zip(high.iter()) {
                *a |= b;
            }
            self.words.truncate(half);
        }
    }

    /// The bit positions a line holding `literal` sets in a filter of
    /// `bits` bits (a power of two): every one must be set for the chunk
    /// to hold it. None for literals of fewer than four bytes.
    pub(crate) fn positions(
        probes: Probes,
        literal: &[u8],
        bits: usize,
    ) -> impl Iterator<Item = usize> + '_ {
        grams(literal).flat_map(move |gram| {
            let (a, b) = bits_of(probes, gram, bits);
            [a, b]
        })
    }

    /// Whether a line holding `literal` may be in the chunk (what
    /// [`Segment::may_contain`](super::segment::Segment::may_contain)
    /// answers from the stored words). Literals of fewer than four bytes
    /// always may.
    #[cfg(test)]
    pub(crate) fn may_contain(&self, literal: &[u8]) -> bool {
        Self::positions(self.probes, literal, self.words.len() * 64)
            .all(|bit| self.words[bit / 64] & (1 << (bit % 64)) != 0)
    }

    /// The filter's bytes, as stored in a segment.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        self.words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    /// A filter read back from its bytes; `None` unless their length is
    /// a power of two of at least [`MIN_BITS`] bits.
    #[cfg(test)]
    pub(crate) fn from_bytes(probes: Probes, bytes: &[u8]) -> Option<Bloom> {
        let bits = bytes.len().checked_mul(8)?;
        if bits < MIN_BITS || !bits.is_power_of_two() || bits > MAX_BITS {
            return None;
        }
        let words = bytes
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect();
        Some(Bloom { words, probes })
    }

    /// Size of the filter in bytes.
    #[cfg(test)]
    pub(crate) fn len_bytes(&self) -> usize {
        self.words.len() * 8
    }
}
