//! The frame marking writer: the inverse of [`crate::FrameMarkingInfo::parse`].

use crate::error::VfmWriteError;
use crate::info::{FrameMarkingInfo, LayerFields};

/// Bytes [`write()`] produces for `info`: 1, 2 or 3 by [`LayerFields`].
#[must_use]
pub fn encoded_len(info: &FrameMarkingInfo) -> usize {
    match info.layer {
        LayerFields::Omitted => 1,
        LayerFields::LayerId(_) => 2,
        LayerFields::LayerIdAndTl0PicIdx(..) => 3,
    }
}

/// Writes the extension value for `info` into `out`; returns its length.
pub fn write(info: &FrameMarkingInfo, out: &mut [u8]) -> Result<usize, VfmWriteError> {
    if info.temporal_id.0 > 7 {
        return Err(VfmWriteError::TemporalId(info.temporal_id.0));
    }
    let needed = encoded_len(info);
    let Some(out) = out.get_mut(..needed) else {
        return Err(VfmWriteError::BufferTooSmall {
            needed,
            available: out.len(),
        });
    };
    out[0] = u8::from(info.start_of_frame) << 7
        | u8::from(info.end_of_frame) << 6
        | u8::from(info.independent) << 5
        | u8::from(info.discardable) << 4
        | u8::from(info.base_layer_sync) << 3
        | info.temporal_id.0;
    match info.layer {
        LayerFields::Omitted => {}
        LayerFields::LayerId(l) => out[1] = l.0,
        LayerFields::LayerIdAndTl0PicIdx(l, t) => {
            out[1] = l.0;
            out[2] = t.0;
        }
    }
    Ok(needed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::info::{LayerId, TemporalId, Tl0PicIdx};

    #[test]
    fn writes_the_scalable_form_bit_for_bit() {
        let info = FrameMarkingInfo {
            start_of_frame: true,
            end_of_frame: false,
            independent: true,
            discardable: false,
            base_layer_sync: true,
            temporal_id: TemporalId(5),
            layer: LayerFields::LayerIdAndTl0PicIdx(LayerId(2), Tl0PicIdx(0x7f)),
        };
        let mut buf = [0xffu8; 4];
        assert_eq!(write(&info, &mut buf), Ok(3));
        assert_eq!(buf[..3], [0b1010_1101, 2, 0x7f]);
    }

    #[test]
    fn refuses_what_the_wire_cannot_carry() {
        let info = FrameMarkingInfo {
            temporal_id: TemporalId(8),
            ..FrameMarkingInfo::default()
        };
        assert_eq!(write(&info, &mut [0; 3]), Err(VfmWriteError::TemporalId(8)));
        let info = FrameMarkingInfo {
            layer: LayerFields::LayerId(LayerId(1)),
            ..FrameMarkingInfo::default()
        };
        assert_eq!(
            write(&info, &mut [0; 1]),
            Err(VfmWriteError::BufferTooSmall {
                needed: 2,
                available: 1
            })
        );
    }
}
