//! MSB-first bit writer, the mirror of [`crate::bit_reader`]. It counts bits
//! even past the end of its buffer so that the writer can size a descriptor
//! with the same code that writes it.

/// Writes bits high to low into a byte slice. Bits past the end of the slice
/// are counted but not stored; [`BitWriter::overflowed`] reports that.
#[derive(Debug)]
pub(crate) struct BitWriter<'a> {
    out: &'a mut [u8],
    pos: usize,
}

impl<'a> BitWriter<'a> {
    /// A writer over `out`; the bytes it covers are zeroed as they are reached.
    pub(crate) fn new(out: &'a mut [u8]) -> Self {
        Self { out, pos: 0 }
    }

    /// Bits written (or counted) so far.
    pub(crate) fn bits(&self) -> usize {
        self.pos
    }

    /// True when more bits were written than the buffer holds.
    pub(crate) fn overflowed(&self) -> bool {
        self.pos > self.out.len() * 8
    }

    /// `write_f(n, v)`: the low `n` bits of `v`, `n <= 32`.
    pub(crate) fn write_bits(&mut self, n: u32, value: u32) {
        debug_assert!(n <= 32, "f(n) is only used with n <= 32");
        for i in (0..n).rev() {
            let bit = (value >> i) & 1;
            let byte = self.pos / 8;
            if let Some(b) = self.out.get_mut(byte) {
                let shift = 7 - (self.pos % 8);
                if shift == 7 {
                    *b = 0;
                }
                *b |= (bit as u8) << shift;
            }
            self.pos += 1;
        }
    }

    /// `f(1)`.
    pub(crate) fn write_flag(&mut self, flag: bool) {
        self.write_bits(1, u32::from(flag));
    }

    /// `write_ns(n, v)` from A.8.2, for `v < n`, `1 <= n <= 33`.
    pub(crate) fn write_ns(&mut self, n: u32, v: u32) {
        debug_assert!(v < n, "ns(n) encodes values below n");
        if n == 1 {
            return;
        }
        let w = 32 - n.leading_zeros();
        let m = (1u32 << w) - n;
        if v < m {
            self.write_bits(w - 1, v);
        } else {
            self.write_bits(w, v + m);
        }
    }

    /// Zero bits up to the next byte boundary (the descriptor's `zero_padding`).
    pub(crate) fn pad_to_byte(&mut self) {
        while !self.pos.is_multiple_of(8) {
            self.write_bits(1, 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bit_reader::BitReader;

    #[test]
    fn ns_round_trips_every_value_for_every_alphabet_size() {
        for n in 1..=33u32 {
            for v in 0..n {
                let mut buf = [0u8; 2];
                let mut w = BitWriter::new(&mut buf);
                w.write_ns(n, v);
                let written = w.bits();
                let mut r = BitReader::new(&buf);
                assert_eq!(r.read_ns(n, "v").unwrap(), v, "n={n} v={v}");
                assert_eq!(r.position(), written, "n={n} v={v}");
            }
        }
    }

    #[test]
    fn counts_bits_past_the_end_without_writing_them() {
        let mut buf = [0u8; 1];
        let mut w = BitWriter::new(&mut buf);
        w.write_bits(12, 0xfff);
        assert!(w.overflowed());
        assert_eq!(w.bits(), 12);
        assert_eq!(buf, [0xff]);
    }

    #[test]
    fn overwrites_stale_bytes_with_zero_padding() {
        let mut buf = [0xffu8; 2];
        let mut w = BitWriter::new(&mut buf);
        w.write_bits(3, 0b101);
        w.pad_to_byte();
        assert_eq!(buf[0], 0b1010_0000);
    }
}
