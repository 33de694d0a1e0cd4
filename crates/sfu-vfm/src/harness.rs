//! Robustness harness shared by the property tests and the `sfu-fuzz` binary:
//! the invariants every input must satisfy and a generator of valid
//! extensions to mutate. Not part of the stable API.

use std::fmt;

use crate::decision::{VfmLayerFilter, VfmTarget};
use crate::info::{FrameMarkingInfo, LayerFields, LayerId, TemporalId, Tl0PicIdx};
use crate::writer::{encoded_len, write};

/// A broken invariant, with what was being checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The invariant.
    pub invariant: &'static str,
    /// Values that show the failure.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.invariant, self.detail)
    }
}

fn violation(invariant: &'static str, detail: impl fmt::Debug) -> Violation {
    Violation {
        invariant,
        detail: format!("{detail:?}"),
    }
}

/// Checks every invariant for one input:
///
/// * parsing returns `Ok` or a typed `Err` (a panic is caught by the caller);
/// * `Err` exactly when the length is not 1, 2 or 3;
/// * every 1–3 byte value parses, and writing the result gives the same bytes;
/// * the layer filter accepts the result (from a fresh and a started state).
pub fn check_input(data: &[u8], filter: &mut VfmLayerFilter) -> Result<(), Violation> {
    match FrameMarkingInfo::parse(data) {
        Err(e) => {
            if (1..=3).contains(&data.len()) {
                return Err(violation("valid length refused", (data, e)));
            }
        }
        Ok(info) => {
            if !(1..=3).contains(&data.len()) {
                return Err(violation("invalid length accepted", data));
            }
            let mut buf = [0u8; 3];
            let n = write(&info, &mut buf)
                .map_err(|e| violation("parsed value not writable", (info, e)))?;
            if n != encoded_len(&info) || buf[..n] != *data {
                return Err(violation("write(parse(x)) != x", (data, &buf[..n])));
            }
            let _ = filter.handle_packet(&info);
        }
    }
    Ok(())
}

/// A filter already forwarding, to drive [`check_input`] from a started state.
#[must_use]
pub fn started_filter() -> VfmLayerFilter {
    let mut f = VfmLayerFilter::new(VfmTarget::ALL);
    let key = FrameMarkingInfo {
        start_of_frame: true,
        independent: true,
        layer: LayerFields::LayerIdAndTl0PicIdx(LayerId(0), Tl0PicIdx(0)),
        ..FrameMarkingInfo::default()
    };
    let _ = f.handle_packet(&key);
    f
}

/// A random valid extension value from 64 random bits.
#[must_use]
pub fn arbitrary_value(bits: u64) -> Vec<u8> {
    let b = bits.to_le_bytes();
    let info = FrameMarkingInfo {
        start_of_frame: b[0] & 1 != 0,
        end_of_frame: b[0] & 2 != 0,
        independent: b[0] & 4 != 0,
        discardable: b[0] & 8 != 0,
        base_layer_sync: b[0] & 16 != 0,
        temporal_id: TemporalId(b[1] & 7),
        layer: match b[2] % 3 {
            0 => LayerFields::Omitted,
            1 => LayerFields::LayerId(LayerId(b[3])),
            _ => LayerFields::LayerIdAndTl0PicIdx(LayerId(b[3]), Tl0PicIdx(b[4])),
        },
    };
    let mut buf = vec![0u8; 3];
    // Every generated info has TID <= 7 and fits in 3 bytes.
    let n = write(&info, &mut buf).expect("generated frame marking is writable");
    buf.truncate(n);
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_one_and_two_byte_value_round_trips() {
        let mut f = started_filter();
        for a in 0..=255u8 {
            check_input(&[a], &mut f).unwrap();
            for b in [0u8, 1, 127, 255] {
                check_input(&[a, b], &mut f).unwrap();
            }
        }
        check_input(&[], &mut f).unwrap();
        check_input(&[1, 2, 3, 4], &mut f).unwrap();
    }

    #[test]
    fn generated_values_have_every_length() {
        let lens: std::collections::BTreeSet<usize> =
            (0..64u64).map(|i| arbitrary_value(i << 16).len()).collect();
        assert_eq!(lens.into_iter().collect::<Vec<_>>(), [1, 2, 3]);
    }
}
