//! Compressed chunks of samples: Gorilla-style delta-of-delta timestamps
//! and XOR-ed float bits, as Prometheus' XOR chunks (about 1.3 bytes per
//! sample for regular scrapes).
//!
//! Values are stored by their bit pattern, so every NaN (the staleness
//! marker included) comes back bit-exact. A chunk holds samples in strictly
//! increasing time order; out-of-order samples live beside the chunks in the
//! head and are merged on read and persist.

use crate::Sample;

/// The number of samples after which the head closes a chunk.
pub(crate) const SAMPLES_PER_CHUNK: u16 = 120;

/// Appends bits to a byte vector, most significant bit first.
#[derive(Debug, Clone, Default)]
struct BitWriter {
    buf: Vec<u8>,
    /// Bits used in the last byte (0 = the last byte is full or none).
    used: u8,
}

impl BitWriter {
    fn write_bit(&mut self, bit: bool) {
        if self.used == 0 {
            self.buf.push(0);
        }
        if bit {
            let last = self.buf.len() - 1;
            self.buf[last] |= 0x80 >> self.used;
        }
        self.used = (self.used + 1) % 8;
    }

    /// Writes the low `n` bits of `v` (n <= 64).
    fn write_bits(&mut self, v: u64, n: u8) {
        let mut n = n;
        while n > 0 {
            if self.used == 0 {
                self.buf.push(0);
            }
            let free = 8 - self.used;
            let take = free.min(n);
            let chunk = ((v >> (n - take)) & ((1u64 << take) - 1)) as u8;
            let last = self.buf.len() - 1;
            self.buf[last] |= chunk << (free - take);
            self.used = (self.used + take) % 8;
            n -= take;
        }
    }
}

/// Reads bits written by [`BitWriter`].
#[derive(Debug, Clone)]
struct BitReader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> BitReader<'a> {
    fn read_bit(&mut self) -> Option<bool> {
        let byte = *self.buf.get(self.pos / 8)?;
        let bit = byte & (0x80 >> (self.pos % 8)) != 0;
        self.pos += 1;
        Some(bit)
    }

    fn read_bits(&mut self, n: u8) -> Option<u64> {
        if self.pos + usize::from(n) > self.buf.len() * 8 {
            return None;
        }
        let mut v = 0u64;
        let mut n = n;
        while n > 0 {
            let byte = self.buf[self.pos / 8];
            let off = (self.pos % 8) as u8;
            let avail = 8 - off;
            let take = avail.min(n);
            let bits = (byte >> (avail - take)) & (((1u16 << take) - 1) as u8);
            v = (v << take) | u64::from(bits);
            self.pos += usize::from(take);
            n -= take;
        }
        Some(v)
    }
}

/// The delta-of-delta buckets: a prefix of ones ending in a zero, then a
/// signed value of this many bits; the last bucket holds any i64.
const DOD_BUCKETS: [u8; 3] = [14, 17, 20];

fn fits(v: i64, bits: u8) -> bool {
    let lim = 1i64 << (bits - 1);
    (-lim..lim).contains(&v)
}

/// Builds one chunk sample by sample.
#[derive(Debug, Clone, Default)]
pub struct ChunkAppender {
    bits: BitWriter,
    num: u16,
    t: i64,
    delta: i64,
    v: u64,
    leading: u8,
    trailing: u8,
    min_t: i64,
}

impl ChunkAppender {
    /// An empty chunk.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of samples in the chunk.
    pub fn len(&self) -> u16 {
        self.num
    }

    /// Whether the chunk has no sample.
    pub fn is_empty(&self) -> bool {
        self.num == 0
    }

    /// The first sample's time (meaningless when empty).
    pub fn min_t(&self) -> i64 {
        self.min_t
    }

    /// The last sample's time (meaningless when empty).
    pub fn max_t(&self) -> i64 {
        self.t
    }

    /// Appends a sample; the caller keeps times strictly increasing.
    pub fn append(&mut self, s: Sample) {
        let bits = s.v.to_bits();
        match self.num {
            0 => {
                self.bits.write_bits(s.t as u64, 64);
                self.bits.write_bits(bits, 64);
                self.min_t = s.t;
                self.leading = 0xff;
            }
            1 => {
                let delta = s.t.wrapping_sub(self.t);
                self.write_dod(delta);
                self.write_value(bits);
                self.delta = delta;
            }
            _ => {
                let delta = s.t.wrapping_sub(self.t);
                self.write_dod(delta.wrapping_sub(self.delta));
                self.write_value(bits);
                self.delta = delta;
            }
        }
        self.t = s.t;
        self.v = bits;
        self.num += 1;
    }

    fn write_dod(&mut self, dod: i64) {
        if dod == 0 {
            self.bits.write_bit(false);
            return;
        }
        for (i, &n) in DOD_BUCKETS.iter().enumerate() {
            if fits(dod, n) {
                // i+1 ones then a zero
                self.bits.write_bits((1u64 << (i + 2)) - 2, i as u8 + 2);
                self.bits.write_bits(dod as u64, n);
                return;
            }
        }
        self.bits.write_bits(0b1111, 4);
        self.bits.write_bits(dod as u64, 64);
    }

    fn write_value(&mut self, bits: u64) {
        let xor = bits ^ self.v;
        if xor == 0 {
            self.bits.write_bit(false);
            return;
        }
        self.bits.write_bit(true);
        let leading = (xor.leading_zeros() as u8).min(31);
        let trailing = xor.trailing_zeros() as u8;
        if self.leading != 0xff && leading >= self.leading && trailing >= self.trailing {
            self.bits.write_bit(false);
            let sig = 64 - self.leading - self.trailing;
            self.bits.write_bits(xor >> self.trailing, sig);
        } else {
            self.bits.write_bit(true);
            let sig = 64 - leading - trailing;
            self.bits.write_bits(u64::from(leading), 5);
            // 64 significant bits do not fit 6 bits: 0 stands for 64
            self.bits.write_bits(u64::from(sig % 64), 6);
            self.bits.write_bits(xor >> trailing, sig);
            self.leading = leading;
            self.trailing = trailing;
        }
    }

    /// The encoded chunk: a 2-byte sample count then the bit stream.
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(2 + self.bits.buf.len());
        out.extend_from_slice(&self.num.to_be_bytes());
        out.extend_from_slice(&self.bits.buf);
        out
    }

    /// The samples of the chunk being built, decoded.
    pub fn iter(&self) -> ChunkIter<'_> {
        ChunkIter::over_bits(&self.bits.buf, self.num)
    }

    /// Bytes of memory the chunk holds.
    pub fn mem_bytes(&self) -> usize {
        self.bits.buf.capacity() + std::mem::size_of::<Self>()
    }
}

/// Decodes the samples of an encoded chunk. Stops early (and sets
/// [`ChunkIter::corrupt`]) when the bytes end before the count says.
#[derive(Debug, Clone)]
pub struct ChunkIter<'a> {
    r: BitReader<'a>,
    left: u16,
    read: u16,
    t: i64,
    delta: i64,
    v: u64,
    leading: u8,
    trailing: u8,
    corrupt: bool,
}

impl<'a> ChunkIter<'a> {
    /// Iterates an encoded chunk as [`ChunkAppender::bytes`] made it.
    pub fn new(chunk: &'a [u8]) -> Self {
        match chunk {
            [a, b, rest @ ..] => Self::over_bits(rest, u16::from_be_bytes([*a, *b])),
            _ => {
                let mut it = Self::over_bits(&[], 0);
                it.corrupt = !chunk.is_empty();
                it
            }
        }
    }

    fn over_bits(bits: &'a [u8], num: u16) -> Self {
        Self {
            r: BitReader { buf: bits, pos: 0 },
            left: num,
            read: 0,
            t: 0,
            delta: 0,
            v: 0,
            leading: 0,
            trailing: 0,
            corrupt: false,
        }
    }

    /// Whether decoding stopped on malformed bytes.
    pub fn corrupt(&self) -> bool {
        self.corrupt
    }

    fn read_dod(&mut self) -> Option<i64> {
        let mut ones = 0;
        while ones < 4 && self.r.read_bit()? {
            ones += 1;
        }
        if ones == 0 {
            return Some(0);
        }
        let n = DOD_BUCKETS.get(ones - 1).copied().unwrap_or(64);
        let raw = self.r.read_bits(n)?;
        // sign-extend an n-bit two's complement value
        Some(if n == 64 {
            raw as i64
        } else {
            ((raw << (64 - n)) as i64) >> (64 - n)
        })
    }

    fn read_value(&mut self) -> Option<u64> {
        if !self.r.read_bit()? {
            return Some(self.v);
        }
        if self.r.read_bit()? {
            self.leading = self.r.read_bits(5)? as u8;
            let sig = match self.r.read_bits(6)? as u8 {
                0 => 64,
                n => n,
            };
            if self.leading + sig > 64 {
                return None;
            }
            self.trailing = 64 - self.leading - sig;
        }
        let sig = 64 - self.leading - self.trailing;
        let xor = self.r.read_bits(sig)?;
        Some(self.v ^ (xor << self.trailing))
    }

    fn step(&mut self) -> Option<Sample> {
        match self.read {
            0 => {
                self.t = self.r.read_bits(64)? as i64;
                self.v = self.r.read_bits(64)?;
            }
            1 => {
                self.delta = self.read_dod()?;
                self.t = self.t.wrapping_add(self.delta);
                self.v = self.read_value()?;
            }
            _ => {
                self.delta = self.delta.wrapping_add(self.read_dod()?);
                self.t = self.t.wrapping_add(self.delta);
                self.v = self.read_value()?;
            }
        }
        Some(Sample::new(self.t, f64::from_bits(self.v)))
    }
}

impl Iterator for ChunkIter<'_> {
    type Item = Sample;

    fn next(&mut self) -> Option<Sample> {
        if self.left == 0 || self.corrupt {
            return None;
        }
        match self.step() {
            Some(s) => {
                self.left -= 1;
                self.read += 1;
                Some(s)
            }
            None => {
                self.corrupt = true;
                None
            }
        }
    }
}

/// Encodes sorted samples into chunks of at most [`SAMPLES_PER_CHUNK`].
pub(crate) fn encode_chunks(samples: &[Sample]) -> Vec<ChunkAppender> {
    samples
        .chunks(usize::from(SAMPLES_PER_CHUNK))
        .map(|part| {
            let mut c = ChunkAppender::new();
            for s in part {
                c.append(*s);
            }
            c
        })
        .collect()
}

#[cfg(test)]
mod tests;
