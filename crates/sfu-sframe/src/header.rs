//! The header itself.

use crate::SframeError;

/// An SFrame key id: which key encrypted the frame.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(pub u64);

/// An SFrame counter: the per-key nonce input, unique for every frame under one key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Counter(pub u64);

/// The header in front of an SFrame ciphertext (RFC 9605 §4.3).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct SframeHeader {
    /// The key id.
    pub kid: KeyId,
    /// The counter.
    pub ctr: Counter,
}

/// Values below this fit in the config byte's three bits.
const INLINE_LIMIT: u64 = 8;

impl SframeHeader {
    /// The longest header: the config byte, an 8-byte KID and an 8-byte CTR.
    pub const MAX_LEN: usize = 17;

    /// Parses the header at the start of `data`; returns it and its length in bytes (the
    /// ciphertext starts there).
    pub fn parse(data: &[u8]) -> Result<(Self, usize), SframeError> {
        let &config = data
            .first()
            .ok_or(SframeError::Truncated { needed: 1, have: 0 })?;
        let (k, c) = ((config >> 4) & 0x07, config & 0x07);
        let kid_len = if config & 0x80 != 0 {
            usize::from(k) + 1
        } else {
            0
        };
        let ctr_len = if config & 0x08 != 0 {
            usize::from(c) + 1
        } else {
            0
        };
        let needed = 1 + kid_len + ctr_len;
        if data.len() < needed {
            return Err(SframeError::Truncated {
                needed,
                have: data.len(),
            });
        }
        let kid = if kid_len == 0 {
            u64::from(k)
        } else {
            big_endian(&data[1..1 + kid_len])
        };
        let ctr = if ctr_len == 0 {
            u64::from(c)
        } else {
            big_endian(&data[1 + kid_len..needed])
        };
        Ok((
            Self {
                kid: KeyId(kid),
                ctr: Counter(ctr),
            },
            needed,
        ))
    }

    /// The length of the shortest encoding.
    pub fn encoded_len(&self) -> usize {
        1 + field_len(self.kid.0) + field_len(self.ctr.0)
    }

    /// Writes the shortest encoding into `out`; returns its length.
    pub fn write(&self, out: &mut [u8]) -> Result<usize, SframeError> {
        let needed = self.encoded_len();
        if out.len() < needed {
            return Err(SframeError::BufferTooSmall {
                needed,
                have: out.len(),
            });
        }
        let (kid_len, ctr_len) = (field_len(self.kid.0), field_len(self.ctr.0));
        let k = if kid_len == 0 {
            self.kid.0 as u8
        } else {
            0x08 | (kid_len as u8 - 1)
        };
        let c = if ctr_len == 0 {
            self.ctr.0 as u8
        } else {
            0x08 | (ctr_len as u8 - 1)
        };
        out[0] = (k << 4) | c;
        out[1..1 + kid_len].copy_from_slice(&self.kid.0.to_be_bytes()[8 - kid_len..]);
        out[1 + kid_len..needed].copy_from_slice(&self.ctr.0.to_be_bytes()[8 - ctr_len..]);
        Ok(needed)
    }
}

/// Bytes a KID or CTR takes after the config byte: none when it fits the three bits,
/// else the fewest that hold it.
fn field_len(v: u64) -> usize {
    if v < INLINE_LIMIT {
        0
    } else {
        (64 - v.leading_zeros() as usize).div_ceil(8)
    }
}

fn big_endian(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0, |acc, &b| (acc << 8) | u64::from(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(kid: u64, ctr: u64) -> SframeHeader {
        SframeHeader {
            kid: KeyId(kid),
            ctr: Counter(ctr),
        }
    }

    #[test]
    fn small_values_live_in_the_config_byte() {
        assert_eq!(SframeHeader::parse(&[0x57]), Ok((header(5, 7), 1)));
        let mut out = [0u8; SframeHeader::MAX_LEN];
        assert_eq!(header(5, 7).write(&mut out), Ok(1));
        assert_eq!(out[0], 0x57);
    }

    #[test]
    fn long_fields_carry_their_length_minus_one() {
        // X=1 K=1 (2-byte KID 0x0100), Y=1 C=0 (1-byte CTR 0xff).
        let wire = [0x98, 0x01, 0x00, 0xff, 0xee];
        assert_eq!(SframeHeader::parse(&wire), Ok((header(0x100, 0xff), 4)));
        let mut out = [0u8; SframeHeader::MAX_LEN];
        assert_eq!(header(0x100, 0xff).write(&mut out), Ok(4));
        assert_eq!(out[..4], wire[..4]);
        let max = header(u64::MAX, u64::MAX);
        assert_eq!(max.encoded_len(), SframeHeader::MAX_LEN);
        assert_eq!(max.write(&mut out), Ok(SframeHeader::MAX_LEN));
        assert_eq!(SframeHeader::parse(&out), Ok((max, SframeHeader::MAX_LEN)));
    }

    #[test]
    fn a_longer_than_needed_field_parses_to_the_same_value() {
        // KID 3 in one byte instead of the config byte's bits.
        assert_eq!(SframeHeader::parse(&[0x80, 0x03]), Ok((header(3, 0), 2)));
    }

    #[test]
    fn truncation_and_small_buffers_are_typed_errors() {
        assert_eq!(
            SframeHeader::parse(&[]),
            Err(SframeError::Truncated { needed: 1, have: 0 })
        );
        assert_eq!(
            SframeHeader::parse(&[0xf8, 1, 2]),
            Err(SframeError::Truncated {
                needed: 10,
                have: 3
            })
        );
        assert_eq!(
            header(9, 0).write(&mut [0u8; 1]),
            Err(SframeError::BufferTooSmall { needed: 2, have: 1 })
        );
    }
}
