//! VP8 payload descriptor rewriting for one outgoing track.
//!
//! Each simulcast layer numbers its pictures on its own (PictureID, TL0PICIDX, KEYIDX;
//! RFC 7741 §4.2). A subscriber switched between layers must still see one picture sequence,
//! or its decoder's reference finder sees jumps it has to guess about. Like sequence
//! numbers, the fields are rebased at every switch so the first picture of the new layer
//! follows the last one forwarded. The bytes are patched while str0m serializes the packet
//! ([`Vp8Patch`]); the shared payload is never copied.

use str0m::rtp::{Vp8Descriptor, Vp8Patch};

const PICTURE_ID_MOD: u16 = 1 << 15;
const SHORT_PICTURE_ID_MOD: u16 = 1 << 7;
const KEY_IDX_MOD: u8 = 1 << 5;

/// The three rewritable fields, as forwarded (outgoing values).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Fields {
    picture_id: Option<u16>,
    tl0_pic_idx: Option<u8>,
    key_idx: Option<u8>,
}

impl Fields {
    fn of(d: &Vp8Descriptor) -> Self {
        Self {
            picture_id: d.picture_id(),
            tl0_pic_idx: d.tl0_pic_idx(),
            key_idx: d.key_idx(),
        }
    }
}

/// Per-track VP8 rewriting state. Pure.
#[derive(Debug, Clone, Default)]
pub(crate) struct Vp8Rewriter {
    /// `out = in + offset` per field (modulo the field's range).
    picture_id: u16,
    tl0_pic_idx: u8,
    key_idx: u8,
    /// Fields of the newest forwarded packet.
    last_out: Option<Fields>,
}

impl Vp8Rewriter {
    /// Rebases onto a new layer whose first forwarded packet (a keyframe) has `d`: its
    /// picture follows the last forwarded one.
    pub(crate) fn switch(&mut self, d: &Vp8Descriptor) {
        let Some(last) = self.last_out else {
            return;
        };
        let input = Fields::of(d);
        if let (Some(out), Some(inp)) = (last.picture_id, input.picture_id) {
            self.picture_id = out.wrapping_add(1).wrapping_sub(inp) % PICTURE_ID_MOD;
        }
        if let (Some(out), Some(inp)) = (last.tl0_pic_idx, input.tl0_pic_idx) {
            self.tl0_pic_idx = out.wrapping_add(1).wrapping_sub(inp);
        }
        if let (Some(out), Some(inp)) = (last.key_idx, input.key_idx) {
            self.key_idx = out.wrapping_add(1).wrapping_sub(inp) % KEY_IDX_MOD;
        }
    }

    /// The patch for a forwarded packet with descriptor `d` (`None` when nothing changes);
    /// `newest` says it is the newest packet forwarded so far.
    pub(crate) fn patch(&mut self, d: &Vp8Descriptor, newest: bool) -> Option<Vp8Patch> {
        let input = Fields::of(d);
        let out = Fields {
            picture_id: input
                .picture_id
                .map(|p| p.wrapping_add(self.picture_id) % PICTURE_ID_MOD),
            tl0_pic_idx: input.tl0_pic_idx.map(|t| t.wrapping_add(self.tl0_pic_idx)),
            key_idx: input
                .key_idx
                .map(|k| k.wrapping_add(self.key_idx) % KEY_IDX_MOD),
        };
        let patch = (out != input).then(|| build(d, out)).flatten();
        if newest {
            self.last_out = Some(out);
        }
        patch
    }
}

/// Builds the patch writing `out` into `d`'s fields. A 7-bit PictureID field keeps its
/// width: the value is reduced to 7 bits.
fn build(d: &Vp8Descriptor, out: Fields) -> Option<Vp8Patch> {
    let with = |picture_id: Option<u16>| {
        let mut b = d.patch();
        if let Some(p) = picture_id {
            b = b.picture_id(p);
        }
        if let Some(t) = out.tl0_pic_idx {
            b = b.tl0_pic_idx(t);
        }
        if let Some(k) = out.key_idx {
            b = b.key_idx(k);
        }
        b.build()
    };
    with(out.picture_id)
        .or_else(|_| with(out.picture_id.map(|p| p % SHORT_PICTURE_ID_MOD)))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A VP8 payload with X, S; I with a 15-bit picture id; L (TL0PICIDX); T/K (TID, KEYIDX).
    fn payload(picture_id: u16, tl0: u8, key_idx: u8) -> Vec<u8> {
        vec![
            0x90,
            0xf0,
            0x80 | (picture_id >> 8) as u8,
            picture_id as u8,
            tl0,
            key_idx & 0x1f,
            0x00,
            0x00,
        ]
    }

    fn desc(p: &[u8]) -> Vp8Descriptor {
        Vp8Descriptor::parse(p).unwrap()
    }

    /// The patch that writes these field values into `p`'s descriptor.
    fn expected(p: &[u8], picture_id: u16, tl0: u8, key_idx: u8) -> Vp8Patch {
        desc(p)
            .patch()
            .picture_id(picture_id)
            .tl0_pic_idx(tl0)
            .key_idx(key_idx)
            .build()
            .unwrap()
    }

    #[test]
    fn the_first_layer_goes_through_unpatched() {
        let mut r = Vp8Rewriter::default();
        let p = payload(1000, 7, 3);
        r.switch(&desc(&p));
        assert!(r.patch(&desc(&p), true).is_none());
    }

    #[test]
    fn a_switch_continues_picture_id_tl0picidx_and_keyidx() {
        let mut r = Vp8Rewriter::default();
        for pid in 1000..1010u16 {
            let p = payload(pid, (pid % 256) as u8, 3);
            assert!(r.patch(&desc(&p), true).is_none());
        }
        // The new layer numbers its pictures from elsewhere.
        r.switch(&desc(&payload(30_000, 200, 9)));
        for i in 0..5u16 {
            let p = payload(30_000 + i, 200u8.wrapping_add(i as u8), 9);
            let want = expected(&p, 1010 + i, (1009 % 256 + 1 + i) as u8, 4);
            assert_eq!(r.patch(&desc(&p), true), Some(want));
        }
    }

    #[test]
    fn picture_ids_and_keyidx_wrap_within_their_fields() {
        let mut r = Vp8Rewriter::default();
        r.patch(&desc(&payload(0x7fff, 255, 31)), true);
        let first = payload(5, 17, 2);
        r.switch(&desc(&first));
        assert_eq!(
            r.patch(&desc(&first), true),
            Some(expected(&first, 0, 0, 0))
        );
    }

    #[test]
    fn reordered_packets_do_not_move_the_reference() {
        let mut r = Vp8Rewriter::default();
        r.patch(&desc(&payload(100, 1, 1)), true);
        // A late packet of an older picture.
        r.patch(&desc(&payload(90, 0, 1)), false);
        let first = payload(7000, 50, 1);
        r.switch(&desc(&first));
        assert_eq!(
            r.patch(&desc(&first), true),
            Some(expected(&first, 101, 2, 2))
        );
    }
}
