//! The frame marking fields and their parser (RFC 9626 §3.1, §3.2).

use crate::error::VfmError;

/// `TID`: temporal layer id, `0..=7` (3 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct TemporalId(pub u8);

/// `LID`: spatial/quality layer id (8 bits; its mapping to a codec's layers
/// is codec-specific, RFC 9626 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct LayerId(pub u8);

/// `TL0PICIDX`: running index of base temporal layer (`TID` 0) frames,
/// wrapping at 256.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Tl0PicIdx(pub u8);

impl Tl0PicIdx {
    /// Forward distance from `earlier` to `self`, modulo 256.
    #[must_use]
    pub const fn distance_from(self, earlier: Self) -> u8 {
        self.0.wrapping_sub(earlier.0)
    }
}

/// The optional trailing fields of the scalable form, by length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LayerFields {
    /// 1-byte value: no `LID`, no `TL0PICIDX` (the non-scalable form, or the
    /// scalable form with both omitted).
    #[default]
    Omitted,
    /// 2-byte value: `LID` only (`TL0PICIDX` omitted).
    LayerId(LayerId),
    /// 3-byte value: `LID` and `TL0PICIDX`.
    LayerIdAndTl0PicIdx(LayerId, Tl0PicIdx),
}

/// One packet's frame marking. `Copy`; parsing never allocates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FrameMarkingInfo {
    /// `S`: the packet starts a frame.
    pub start_of_frame: bool,
    /// `E`: the packet ends a frame.
    pub end_of_frame: bool,
    /// `I`: the frame is independent (decodable without earlier frames).
    pub independent: bool,
    /// `D`: the frame is discardable (no other frame depends on it).
    pub discardable: bool,
    /// `B`: base layer sync: the frame depends only on the base temporal
    /// layer, so forwarding can switch up to its `TID` here. Always false in
    /// the non-scalable form.
    pub base_layer_sync: bool,
    /// `TID`; 0 in the non-scalable form.
    pub temporal_id: TemporalId,
    /// `LID` and `TL0PICIDX`, when present.
    pub layer: LayerFields,
}

impl FrameMarkingInfo {
    /// Parses the extension value (1, 2 or 3 bytes).
    ///
    /// A 1-byte value is the non-scalable form (§3.1), whose low four bits are
    /// zero, or the scalable form with `LID` and `TL0PICIDX` omitted (§3.2):
    /// both read the same way, `B` and `TID` from the low four bits.
    #[inline]
    pub fn parse(data: &[u8]) -> Result<Self, VfmError> {
        let (first, layer) = match *data {
            [first] => (first, LayerFields::Omitted),
            [first, lid] => (first, LayerFields::LayerId(LayerId(lid))),
            [first, lid, tl0] => (
                first,
                LayerFields::LayerIdAndTl0PicIdx(LayerId(lid), Tl0PicIdx(tl0)),
            ),
            [] => return Err(VfmError::Empty),
            _ => return Err(VfmError::TooLong { len: data.len() }),
        };
        Ok(Self {
            start_of_frame: first & 0x80 != 0,
            end_of_frame: first & 0x40 != 0,
            independent: first & 0x20 != 0,
            discardable: first & 0x10 != 0,
            base_layer_sync: first & 0x08 != 0,
            temporal_id: TemporalId(first & 0x07),
            layer,
        })
    }

    /// `LID`, 0 when omitted.
    #[must_use]
    pub fn layer_id(&self) -> LayerId {
        match self.layer {
            LayerFields::Omitted => LayerId(0),
            LayerFields::LayerId(l) | LayerFields::LayerIdAndTl0PicIdx(l, _) => l,
        }
    }

    /// `TL0PICIDX`, when present.
    #[must_use]
    pub fn tl0_pic_idx(&self) -> Option<Tl0PicIdx> {
        match self.layer {
            LayerFields::LayerIdAndTl0PicIdx(_, t) => Some(t),
            _ => None,
        }
    }

    /// True when the packet is in the non-scalable form: one byte, `B` and
    /// `TID` zero.
    #[must_use]
    pub fn is_non_scalable(&self) -> bool {
        self.layer == LayerFields::Omitted
            && !self.base_layer_sync
            && self.temporal_id == TemporalId(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flag_maps_to_its_bit() {
        let cases = [
            (0x80, "S"),
            (0x40, "E"),
            (0x20, "I"),
            (0x10, "D"),
            (0x08, "B"),
        ];
        for (bit, name) in cases {
            let i = FrameMarkingInfo::parse(&[bit]).unwrap();
            let got = [
                (i.start_of_frame, "S"),
                (i.end_of_frame, "E"),
                (i.independent, "I"),
                (i.discardable, "D"),
                (i.base_layer_sync, "B"),
            ];
            for (value, field) in got {
                assert_eq!(value, field == name, "bit {bit:#x} field {field}");
            }
            assert_eq!(i.temporal_id, TemporalId(0));
        }
        assert_eq!(
            FrameMarkingInfo::parse(&[0x07]).unwrap().temporal_id,
            TemporalId(7)
        );
    }

    #[test]
    fn length_selects_the_form() {
        assert_eq!(
            FrameMarkingInfo::parse(&[0]).unwrap().layer,
            LayerFields::Omitted
        );
        assert_eq!(
            FrameMarkingInfo::parse(&[0, 5]).unwrap().layer,
            LayerFields::LayerId(LayerId(5))
        );
        let full = FrameMarkingInfo::parse(&[0, 5, 200]).unwrap();
        assert_eq!(full.layer_id(), LayerId(5));
        assert_eq!(full.tl0_pic_idx(), Some(Tl0PicIdx(200)));
        assert_eq!(FrameMarkingInfo::parse(&[]), Err(VfmError::Empty));
        assert_eq!(
            FrameMarkingInfo::parse(&[0; 4]),
            Err(VfmError::TooLong { len: 4 })
        );
    }

    #[test]
    fn tl0picidx_distance_wraps() {
        assert_eq!(Tl0PicIdx(1).distance_from(Tl0PicIdx(255)), 2);
        assert_eq!(Tl0PicIdx(255).distance_from(Tl0PicIdx(1)), 254);
    }
}
