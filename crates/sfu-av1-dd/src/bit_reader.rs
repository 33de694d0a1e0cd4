//! Bounds-checked MSB-first bit reader: one `read_*` per syntax element kind of
//! the descriptor (`f(n)` and `ns(n)` in Appendix A.8.2).

use crate::error::Av1DdError;

/// Reads bits high to low from a byte slice. Every read names the syntax
/// element it reads so that a short input reports which field was cut off.
#[derive(Debug, Clone)]
pub(crate) struct BitReader<'a> {
    data: &'a [u8],
    /// Position of the next bit, counted from the first bit of `data`.
    pos: usize,
}

impl<'a> BitReader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    /// Bit offset of the next read.
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    /// Bits left to read.
    pub(crate) fn remaining(&self) -> usize {
        self.data.len() * 8 - self.pos
    }

    /// `f(n)`: an unsigned `n`-bit number, `n <= 32`.
    pub(crate) fn read_bits(&mut self, n: u32, field: &'static str) -> Result<u32, Av1DdError> {
        debug_assert!(n <= 32, "f(n) is only used with n <= 32");
        if self.remaining() < n as usize {
            return Err(Av1DdError::Truncated {
                field,
                bit_offset: self.pos,
                needed_bits: n,
                available_bits: self.remaining(),
            });
        }
        let mut value: u64 = 0;
        let mut left = n;
        while left > 0 {
            let byte = self.data[self.pos / 8];
            let used = (self.pos % 8) as u32;
            let avail = 8 - used;
            let take = avail.min(left);
            let bits = (u32::from(byte) >> (avail - take)) & ((1u32 << take) - 1);
            value = (value << take) | u64::from(bits);
            self.pos += take as usize;
            left -= take;
        }
        // `n <= 32`, so the accumulated value fits.
        Ok(value as u32)
    }

    /// `f(1)` as a flag.
    pub(crate) fn read_flag(&mut self, field: &'static str) -> Result<bool, Av1DdError> {
        Ok(self.read_bits(1, field)? == 1)
    }

    /// `ns(n)`: a non-symmetric unsigned value in `0..n`, `1 <= n <= 33`.
    pub(crate) fn read_ns(&mut self, n: u32, field: &'static str) -> Result<u32, Av1DdError> {
        debug_assert!((1..=33).contains(&n), "ns(n) is used with n in 1..=33");
        let w = 32 - n.leading_zeros();
        let m = (1u32 << w) - n;
        let v = self.read_bits(w - 1, field)?;
        if v < m {
            return Ok(v);
        }
        let extra = self.read_bits(1, field)?;
        Ok((v << 1) - m + extra)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_across_byte_boundaries_msb_first() {
        let mut r = BitReader::new(&[0b1010_1100, 0b0101_0011]);
        assert_eq!(r.read_bits(3, "a").unwrap(), 0b101);
        assert_eq!(r.read_bits(7, "b").unwrap(), 0b011_0001);
        assert_eq!(r.read_bits(6, "c").unwrap(), 0b01_0011);
        assert_eq!(r.remaining(), 0);
    }

    #[test]
    fn reads_32_bits_at_unaligned_offset() {
        let mut r = BitReader::new(&[0xff, 0x12, 0x34, 0x56, 0x78, 0xff]);
        r.read_bits(4, "pad").unwrap();
        assert_eq!(r.read_bits(32, "x").unwrap(), 0xf123_4567);
    }

    #[test]
    fn truncation_reports_field_and_offset_without_advancing() {
        let mut r = BitReader::new(&[0xab]);
        r.read_bits(5, "first").unwrap();
        let err = r.read_bits(4, "second").unwrap_err();
        assert_eq!(
            err,
            Av1DdError::Truncated {
                field: "second",
                bit_offset: 5,
                needed_bits: 4,
                available_bits: 3
            }
        );
        assert_eq!(r.position(), 5);
    }

    /// The ns(5) encodings from the table in A.8.2.
    #[test]
    fn ns_matches_the_spec_table_for_five_values() {
        let cases: [(&[u8], u32); 5] = [
            (&[0b0000_0000], 0),
            (&[0b0100_0000], 1),
            (&[0b1000_0000], 2),
            (&[0b1100_0000], 3),
            (&[0b1110_0000], 4),
        ];
        for (bytes, want) in cases {
            assert_eq!(BitReader::new(bytes).read_ns(5, "v").unwrap(), want);
        }
    }

    #[test]
    fn ns_of_one_reads_no_bits() {
        let mut r = BitReader::new(&[]);
        assert_eq!(r.read_ns(1, "v").unwrap(), 0);
        assert_eq!(r.position(), 0);
    }
}
