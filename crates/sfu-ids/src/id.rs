//! Identifier newtypes.

use std::fmt;
use std::str::FromStr;

use str0m::media::{Mid, Pt, Rid};

/// Identifies one peer (one str0m `Rtc`) inside a room.
///
/// Allocated by whoever creates clients (usually the room runtime); unique within a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId(u64);

impl ClientId {
    /// Wraps a raw id.
    pub const fn new(raw: u64) -> Self {
        Self(raw)
    }

    /// The raw id.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Media line identifier (`a=mid:` in SDP), a newtype over str0m's [`Mid`].
///
/// str0m stores at most 16 characters and maps every character that is not ASCII
/// alphanumeric to `_`; converting from a `&str` applies the same rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SfuMid(Mid);

impl SfuMid {
    /// The mid as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The str0m mid.
    pub const fn to_str0m(self) -> Mid {
        self.0
    }
}

impl From<Mid> for SfuMid {
    fn from(mid: Mid) -> Self {
        Self(mid)
    }
}

impl From<SfuMid> for Mid {
    fn from(mid: SfuMid) -> Self {
        mid.0
    }
}

impl From<&str> for SfuMid {
    fn from(s: &str) -> Self {
        Self(Mid::from(s))
    }
}

impl fmt::Display for SfuMid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An RTP payload type: 7 bits, so `0..=127`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SfuPt(u8);

/// A payload type outside the 7-bit range of the RTP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("payload type {0} does not fit the 7-bit RTP payload type field")]
pub struct InvalidPt(pub u8);

impl SfuPt {
    /// The numeric payload type.
    pub const fn get(self) -> u8 {
        self.0
    }

    /// The str0m payload type.
    pub fn to_str0m(self) -> Pt {
        Pt::from(self.0)
    }
}

impl TryFrom<u8> for SfuPt {
    type Error = InvalidPt;

    fn try_from(v: u8) -> Result<Self, InvalidPt> {
        if v < 128 {
            Ok(Self(v))
        } else {
            Err(InvalidPt(v))
        }
    }
}

impl TryFrom<Pt> for SfuPt {
    type Error = InvalidPt;

    fn try_from(pt: Pt) -> Result<Self, InvalidPt> {
        Self::try_from(*pt)
    }
}

impl From<SfuPt> for Pt {
    fn from(pt: SfuPt) -> Self {
        pt.to_str0m()
    }
}

impl fmt::Display for SfuPt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A simulcast RTP stream id (`rid`), validated against RFC 8851 §10:
/// `rid-id = 1*(alpha-numeric / "-" / "_")`.
///
/// The length is further bounded by [`SfuRid::MAX_LEN`], the capacity of str0m's `Rid`.
/// The characters are kept exactly; see [`SfuRid::to_str0m`] for the one lossy direction.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SfuRid {
    bytes: [u8; SfuRid::MAX_LEN],
    len: u8,
}

/// Why a string is not a valid rid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidRid {
    /// RFC 8851 requires at least one character.
    #[error("rid is empty")]
    Empty,
    /// Longer than str0m can carry.
    #[error("rid is {len} bytes long, at most {max} are supported", max = SfuRid::MAX_LEN)]
    TooLong {
        /// Length of the rejected input in bytes.
        len: usize,
    },
    /// A character outside `ALPHA / DIGIT / "-" / "_"`.
    #[error("rid has invalid character {ch:?} at byte {index}")]
    InvalidChar {
        /// The offending character.
        ch: char,
        /// Its byte offset in the input.
        index: usize,
    },
}

impl SfuRid {
    /// Longest rid supported (str0m's `Rid` holds 8 bytes).
    pub const MAX_LEN: usize = 8;

    /// Validates `s` against the RFC 8851 grammar and the length bound.
    pub fn new(s: &str) -> Result<Self, InvalidRid> {
        if s.is_empty() {
            return Err(InvalidRid::Empty);
        }
        if let Some((index, ch)) = s
            .char_indices()
            .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        {
            return Err(InvalidRid::InvalidChar { ch, index });
        }
        if s.len() > Self::MAX_LEN {
            return Err(InvalidRid::TooLong { len: s.len() });
        }
        let mut bytes = [0u8; Self::MAX_LEN];
        bytes[..s.len()].copy_from_slice(s.as_bytes());
        Ok(Self {
            bytes,
            len: s.len() as u8,
        })
    }

    /// The rid as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII bytes are ever stored (checked in `new`, guaranteed by str0m in `From<Rid>`),
        // so this cannot fail; the fallback keeps the function total anyway.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("")
    }

    /// The str0m rid.
    ///
    /// str0m represents `-` as `_`, so a rid containing `-` converts to its `_` spelling.
    /// All other rids round-trip exactly.
    pub fn to_str0m(self) -> Rid {
        Rid::from(self.as_str())
    }
}

impl FromStr for SfuRid {
    type Err = InvalidRid;

    fn from_str(s: &str) -> Result<Self, InvalidRid> {
        Self::new(s)
    }
}

impl From<Rid> for SfuRid {
    fn from(rid: Rid) -> Self {
        let s: &str = &rid;
        let mut bytes = [0u8; Self::MAX_LEN];
        // str0m's Rid is at most 8 ASCII bytes; `take` keeps this total regardless.
        let mut len = 0;
        for (dst, src) in bytes.iter_mut().zip(s.bytes()) {
            *dst = if src.is_ascii() { src } else { b'_' };
            len += 1;
        }
        Self {
            bytes,
            len: len as u8,
        }
    }
}

impl From<SfuRid> for Rid {
    fn from(rid: SfuRid) -> Self {
        rid.to_str0m()
    }
}

impl fmt::Debug for SfuRid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SfuRid({})", self.as_str())
    }
}

impl fmt::Display for SfuRid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rid_rejects_empty_long_and_bad_chars() {
        assert_eq!(SfuRid::new(""), Err(InvalidRid::Empty));
        assert_eq!(
            SfuRid::new("abcdefghi"),
            Err(InvalidRid::TooLong { len: 9 })
        );
        assert_eq!(
            SfuRid::new("a b"),
            Err(InvalidRid::InvalidChar { ch: ' ', index: 1 })
        );
        assert_eq!(
            SfuRid::new("hé"),
            Err(InvalidRid::InvalidChar { ch: 'é', index: 1 })
        );
    }

    #[test]
    fn rid_accepts_dash_and_underscore() {
        assert_eq!(SfuRid::new("a-b_c").unwrap().as_str(), "a-b_c");
    }

    #[test]
    fn rid_with_dash_maps_to_str0m_underscore() {
        let rid = SfuRid::new("lo-1").unwrap();
        assert_eq!(&*rid.to_str0m(), "lo_1");
    }

    #[test]
    fn pt_rejects_values_above_127() {
        assert_eq!(SfuPt::try_from(127).unwrap().get(), 127);
        assert_eq!(SfuPt::try_from(128), Err(InvalidPt(128)));
    }

    fn rfc_char(c: char) -> bool {
        c.is_ascii_alphanumeric() || c == '-' || c == '_'
    }

    proptest! {
        #[test]
        fn rid_accepts_exactly_the_rfc_grammar(s in ".{0,12}") {
            let expected = !s.is_empty() && s.len() <= SfuRid::MAX_LEN && s.chars().all(rfc_char);
            prop_assert_eq!(SfuRid::new(&s).is_ok(), expected);
        }

        #[test]
        fn valid_rid_round_trips_through_str(s in "[A-Za-z0-9_-]{1,8}") {
            let rid = SfuRid::new(&s).unwrap();
            prop_assert_eq!(rid.as_str(), s.as_str());
            prop_assert_eq!(rid.to_string().parse::<SfuRid>().unwrap(), rid);
        }

        #[test]
        fn rid_round_trips_through_str0m(s in "[A-Za-z0-9_]{1,8}") {
            let ours = SfuRid::new(&s).unwrap();
            let theirs: Rid = ours.into();
            prop_assert_eq!(SfuRid::from(theirs), ours);
            prop_assert_eq!(Rid::from(SfuRid::from(theirs)), theirs);
        }

        #[test]
        fn mid_round_trips_through_str0m(s in "[A-Za-z0-9]{1,16}") {
            let mid = Mid::from(s.as_str());
            let ours = SfuMid::from(mid);
            prop_assert_eq!(Mid::from(ours), mid);
            prop_assert_eq!(ours.as_str(), s.as_str());
        }

        #[test]
        fn pt_round_trips_through_str0m(v in 0u8..128) {
            let pt = SfuPt::try_from(v).unwrap();
            prop_assert_eq!(SfuPt::try_from(Pt::from(pt)).unwrap(), pt);
        }

        #[test]
        fn client_id_round_trips(v in any::<u64>()) {
            prop_assert_eq!(ClientId::new(v).get(), v);
        }
    }
}
