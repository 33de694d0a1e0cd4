//! Value types of the descriptor: ids, the frame-number sequence space, and
//! fixed-capacity lists so that a parsed descriptor never allocates.

use std::fmt;

/// Most templates a structure can hold: `frame_dependency_template_id` is
/// 6 bits and indexes templates modulo 64 (A.8.2 `frame_dependency_definition`).
pub const MAX_TEMPLATES: usize = 64;
/// Most decode targets: `dt_cnt_minus_one` is 5 bits (A.8.2).
pub const MAX_DECODE_TARGETS: usize = 32;
/// Most chains: `chain_cnt = ns(DtCnt + 1)` is at most `DtCnt` (A.8.2).
pub const MAX_CHAINS: usize = 32;
/// Most spatial layers: AV1 codes `spatial_id` in 2 bits (AV1 spec 5.3.3).
pub const MAX_SPATIAL_LAYERS: usize = 4;
/// Most temporal layers: AV1 codes `temporal_id` in 3 bits (AV1 spec 5.3.3).
pub const MAX_TEMPORAL_LAYERS: usize = 8;
/// Most frame diffs kept per frame or template. An AV1 frame references at
/// most 7 frames (`REFS_PER_FRAME`), so 16 leaves room for the non-reference
/// dependencies of A.3 (entropy state) while keeping the list inline.
pub const MAX_FRAME_DIFFS: usize = 16;
/// Largest frame diff: `fdiff_minus_one` is at most 12 bits (A.8.2 `frame_fdiffs`).
pub const MAX_FRAME_DIFF: u16 = 4096;

/// `frame_number`: 16 bits, strictly increasing in decode order, wrapping (A.8.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FrameNumber(pub u16);

impl FrameNumber {
    /// The frame `diff` frames earlier, modulo 2^16 (how fdiffs and chain
    /// fdiffs are applied, A.8.3).
    #[must_use]
    pub const fn minus(self, diff: u16) -> Self {
        Self(self.0.wrapping_sub(diff))
    }

    /// True when `self` comes after `other` in the wrapping sequence space
    /// (forward distance below half the space).
    #[must_use]
    pub const fn is_after(self, other: Self) -> bool {
        let d = self.0.wrapping_sub(other.0);
        d != 0 && d < 0x8000
    }
}

impl fmt::Display for FrameNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Spatial layer id of a frame or template, `0..MAX_SPATIAL_LAYERS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SpatialId(pub u8);

/// Temporal layer id of a frame or template, `0..MAX_TEMPORAL_LAYERS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct TemporalId(pub u8);

/// Index of a decode target in the structure, `0..decode_target_count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct DecodeTargetIndex(pub u8);

/// Decode Target Indication, Table A.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Dti {
    /// `0`, "-": no payload for this decode target.
    #[default]
    NotPresent,
    /// `1`, "D": present, and no later frame of the target references it.
    Discardable,
    /// `2`, "S": present, and the target can be switched to at this frame.
    Switch,
    /// `3`, "R": present and referenced by later frames of the target.
    Required,
}

impl Dti {
    /// The 2-bit wire value.
    #[must_use]
    pub const fn to_bits(self) -> u8 {
        match self {
            Self::NotPresent => 0,
            Self::Discardable => 1,
            Self::Switch => 2,
            Self::Required => 3,
        }
    }

    /// From the 2-bit wire value; only the low two bits are used.
    #[must_use]
    pub const fn from_bits(bits: u8) -> Self {
        match bits & 3 {
            0 => Self::NotPresent,
            1 => Self::Discardable,
            2 => Self::Switch,
            _ => Self::Required,
        }
    }

    /// True for every indication except [`Dti::NotPresent`].
    #[must_use]
    pub const fn is_present(self) -> bool {
        !matches!(self, Self::NotPresent)
    }
}

/// One DTI per decode target, packed two bits each (inline, no allocation).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DtiList {
    /// DTI `i` at bits `2i..2i+2`; bits past `len` are always zero.
    packed: u64,
    len: u8,
}

impl DtiList {
    /// The list of `dtis`, or `None` when it exceeds [`MAX_DECODE_TARGETS`].
    #[must_use]
    pub fn from_slice(dtis: &[Dti]) -> Option<Self> {
        if dtis.len() > MAX_DECODE_TARGETS {
            return None;
        }
        let mut list = Self::default();
        for &d in dtis {
            list.push(d);
        }
        Some(list)
    }

    /// Appends; the caller keeps `len < MAX_DECODE_TARGETS`.
    pub(crate) fn push(&mut self, dti: Dti) {
        debug_assert!(usize::from(self.len) < MAX_DECODE_TARGETS);
        self.packed |= u64::from(dti.to_bits()) << (2 * u32::from(self.len));
        self.len += 1;
    }

    /// Number of decode targets covered.
    #[must_use]
    pub const fn len(&self) -> usize {
        self.len as usize
    }

    /// True when the list is empty.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// DTI for decode target `index`, `None` past the end.
    #[must_use]
    pub fn get(&self, index: DecodeTargetIndex) -> Option<Dti> {
        (index.0 < self.len)
            .then(|| Dti::from_bits((self.packed >> (2 * u32::from(index.0))) as u8))
    }

    /// The DTIs in decode-target order.
    pub fn iter(&self) -> impl Iterator<Item = Dti> + '_ {
        (0..self.len).map(|i| Dti::from_bits((self.packed >> (2 * u32::from(i))) as u8))
    }
}

impl fmt::Debug for DtiList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SYMBOLS: [char; 4] = ['-', 'D', 'S', 'R'];
        let s: String = self
            .iter()
            .map(|d| SYMBOLS[usize::from(d.to_bits())])
            .collect();
        write!(f, "DtiList({s:?})")
    }
}

/// Frame diffs of a frame or template: how many frames back each referred
/// frame is, each in `1..=MAX_FRAME_DIFF`. Inline, at most [`MAX_FRAME_DIFFS`].
#[derive(Clone, Copy, Default)]
pub struct FrameDiffs {
    diffs: [u16; MAX_FRAME_DIFFS],
    len: u8,
}

impl FrameDiffs {
    /// The list of `diffs`, or `None` when it exceeds [`MAX_FRAME_DIFFS`].
    /// Values are checked by the writer, not here.
    #[must_use]
    pub fn from_slice(diffs: &[u16]) -> Option<Self> {
        if diffs.len() > MAX_FRAME_DIFFS {
            return None;
        }
        let mut list = Self::default();
        list.diffs[..diffs.len()].copy_from_slice(diffs);
        list.len = diffs.len() as u8;
        Some(list)
    }

    /// Appends; returns `false` (and changes nothing) when full.
    pub(crate) fn try_push(&mut self, diff: u16) -> bool {
        match self.diffs.get_mut(usize::from(self.len)) {
            Some(slot) => {
                *slot = diff;
                self.len += 1;
                true
            }
            None => false,
        }
    }

    /// The diffs in the order they were signalled.
    #[must_use]
    pub fn as_slice(&self) -> &[u16] {
        &self.diffs[..usize::from(self.len)]
    }
}

impl PartialEq for FrameDiffs {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}
impl Eq for FrameDiffs {}

impl fmt::Debug for FrameDiffs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("FrameDiffs").field(&self.as_slice()).finish()
    }
}

/// One chain fdiff per chain: how many frames back the previous frame of
/// each chain is (`0` = no previous frame needed). Inline, at most [`MAX_CHAINS`].
#[derive(Clone, Copy, Default)]
pub struct ChainDiffs {
    diffs: [u8; MAX_CHAINS],
    len: u8,
}

impl ChainDiffs {
    /// The list of `diffs`, or `None` when it exceeds [`MAX_CHAINS`].
    #[must_use]
    pub fn from_slice(diffs: &[u8]) -> Option<Self> {
        if diffs.len() > MAX_CHAINS {
            return None;
        }
        let mut list = Self::default();
        list.diffs[..diffs.len()].copy_from_slice(diffs);
        list.len = diffs.len() as u8;
        Some(list)
    }

    /// Appends; the caller keeps `len < MAX_CHAINS`.
    pub(crate) fn push(&mut self, diff: u8) {
        debug_assert!(usize::from(self.len) < MAX_CHAINS);
        self.diffs[usize::from(self.len)] = diff;
        self.len += 1;
    }

    /// The chain fdiffs in chain order.
    #[must_use]
    pub fn as_slice(&self) -> &[u8] {
        &self.diffs[..usize::from(self.len)]
    }
}

impl PartialEq for ChainDiffs {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}
impl Eq for ChainDiffs {}

impl fmt::Debug for ChainDiffs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ChainDiffs").field(&self.as_slice()).finish()
    }
}

/// `active_decode_targets_bitmask`: bit `i` set when decode target `i` is
/// available for decoding (A.4, A.8.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DecodeTargetMask(pub u32);

impl DecodeTargetMask {
    /// Every one of `count` decode targets active (`(1 << DtCnt) - 1`).
    #[must_use]
    pub const fn all(count: usize) -> Self {
        if count >= 32 {
            Self(u32::MAX)
        } else {
            Self((1u32 << count) - 1)
        }
    }

    /// True when decode target `index` is active.
    #[must_use]
    pub const fn contains(self, index: DecodeTargetIndex) -> bool {
        index.0 < 32 && (self.0 >> index.0) & 1 == 1
    }
}

/// Maximum render size of a spatial layer (`max_render_width_minus_1 + 1`,
/// `max_render_height_minus_1 + 1`), each in `1..=65536`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RenderResolution {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_number_arithmetic_wraps() {
        assert_eq!(FrameNumber(2).minus(5), FrameNumber(65533));
        assert!(FrameNumber(1).is_after(FrameNumber(65535)));
        assert!(!FrameNumber(65535).is_after(FrameNumber(1)));
        assert!(!FrameNumber(7).is_after(FrameNumber(7)));
    }

    #[test]
    fn dti_list_keeps_order_and_bounds() {
        let dtis = [
            Dti::Switch,
            Dti::NotPresent,
            Dti::Required,
            Dti::Discardable,
        ];
        let list = DtiList::from_slice(&dtis).unwrap();
        assert_eq!(list.iter().collect::<Vec<_>>(), dtis);
        assert_eq!(list.get(DecodeTargetIndex(2)), Some(Dti::Required));
        assert_eq!(list.get(DecodeTargetIndex(4)), None);
        assert!(DtiList::from_slice(&[Dti::Switch; 33]).is_none());
        assert_eq!(DtiList::from_slice(&[Dti::Required; 32]).unwrap().len(), 32);
    }

    #[test]
    fn frame_diffs_equality_ignores_unused_capacity() {
        let mut a = FrameDiffs::from_slice(&[1, 2, 3]).unwrap();
        let b = FrameDiffs::from_slice(&[1, 2]).unwrap();
        assert_ne!(a, b);
        a = FrameDiffs::from_slice(&a.as_slice()[..2]).unwrap();
        assert_eq!(a, b);
        let mut full = FrameDiffs::default();
        for i in 0..MAX_FRAME_DIFFS as u16 {
            assert!(full.try_push(i + 1));
        }
        assert!(!full.try_push(99));
        assert_eq!(full.as_slice().len(), MAX_FRAME_DIFFS);
    }

    #[test]
    fn mask_of_all_targets_covers_exactly_count_bits() {
        assert_eq!(DecodeTargetMask::all(1), DecodeTargetMask(1));
        assert_eq!(DecodeTargetMask::all(9), DecodeTargetMask(0x1ff));
        assert_eq!(DecodeTargetMask::all(32), DecodeTargetMask(u32::MAX));
        assert!(!DecodeTargetMask(0b01).contains(DecodeTargetIndex(1)));
    }
}
