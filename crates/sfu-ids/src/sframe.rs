//! SFrame key epochs.

use std::cmp::Ordering;
use std::fmt;

/// An SFrame (RFC 9605) key epoch as carried in the low bits of the key id (KID).
///
/// The SFU never decrypts SFrame payloads; it only watches epochs so that it can tell
/// subscribers which key a publisher switched to. Epochs wrap around within
/// `bits` bits; comparison uses serial-number arithmetic (RFC 1982) so that a wrapped
/// epoch still counts as newer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyEpoch {
    value: u64,
    bits: u8,
}

impl KeyEpoch {
    /// An epoch `value` in a space of `bits` bits (1..=64; out-of-range `bits` is clamped,
    /// and `value` is masked to fit).
    pub const fn new(value: u64, bits: u8) -> Self {
        let bits = if bits == 0 {
            1
        } else if bits > 64 {
            64
        } else {
            bits
        };
        Self {
            value: value & Self::mask(bits),
            bits,
        }
    }

    /// The epoch encoded in the low `bits` bits of an SFrame key id.
    pub const fn from_kid(kid: u64, bits: u8) -> Self {
        Self::new(kid, bits)
    }

    const fn mask(bits: u8) -> u64 {
        if bits >= 64 {
            u64::MAX
        } else {
            (1u64 << bits) - 1
        }
    }

    /// The epoch number.
    pub const fn get(self) -> u64 {
        self.value
    }

    /// The width of the epoch space in bits.
    pub const fn bits(self) -> u8 {
        self.bits
    }

    /// The following epoch, wrapping at the width.
    pub const fn next(self) -> Self {
        Self::new(self.value.wrapping_add(1), self.bits)
    }

    /// Serial-number comparison (RFC 1982): `Some(Greater)` when `self` is newer than
    /// `other`. `None` when the widths differ or the two are exactly half the space apart.
    pub fn serial_cmp(self, other: Self) -> Option<Ordering> {
        if self.bits != other.bits {
            return None;
        }
        if self.value == other.value {
            return Some(Ordering::Equal);
        }
        let mask = Self::mask(self.bits);
        let diff = self.value.wrapping_sub(other.value) & mask;
        let half = 1u64 << (self.bits - 1);
        match diff.cmp(&half) {
            Ordering::Less => Some(Ordering::Greater),
            Ordering::Greater => Some(Ordering::Less),
            Ordering::Equal => None,
        }
    }

    /// `true` when `self` is strictly newer than `other` in serial-number order.
    pub fn is_newer_than(self, other: Self) -> bool {
        self.serial_cmp(other) == Some(Ordering::Greater)
    }
}

impl fmt::Display for KeyEpoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn next_wraps_and_stays_newer() {
        let e = KeyEpoch::new(255, 8);
        assert_eq!(e.next().get(), 0);
        assert!(e.next().is_newer_than(e));
        assert!(!e.is_newer_than(e.next()));
    }

    #[test]
    fn value_is_masked_to_width() {
        assert_eq!(KeyEpoch::from_kid(0x1ff, 8).get(), 0xff);
        assert_eq!(KeyEpoch::new(5, 0).bits(), 1);
    }

    #[test]
    fn different_widths_are_incomparable() {
        assert_eq!(KeyEpoch::new(1, 8).serial_cmp(KeyEpoch::new(1, 16)), None);
    }

    proptest! {
        #[test]
        fn next_is_always_newer(v in any::<u64>(), bits in 2u8..=64) {
            let e = KeyEpoch::new(v, bits);
            prop_assert!(e.next().is_newer_than(e));
        }

        #[test]
        fn serial_cmp_is_antisymmetric(a in any::<u64>(), b in any::<u64>(), bits in 1u8..=64) {
            let (a, b) = (KeyEpoch::new(a, bits), KeyEpoch::new(b, bits));
            prop_assert_eq!(a.serial_cmp(b).map(Ordering::reverse), b.serial_cmp(a));
        }
    }
}
