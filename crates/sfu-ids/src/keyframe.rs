//! Keyframe requests.

use str0m::media::{KeyframeRequest, KeyframeRequestKind};

use crate::{SfuMid, SfuRid};

/// How a keyframe is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SfuKeyframeKind {
    /// Picture Loss Indication (RFC 4585 §6.3.1): the usual, cheap request.
    Pli,
    /// Full Intra Request (RFC 5104 §4.3.1): the stronger request, used as a fallback.
    Fir,
}

impl From<KeyframeRequestKind> for SfuKeyframeKind {
    fn from(kind: KeyframeRequestKind) -> Self {
        match kind {
            KeyframeRequestKind::Pli => Self::Pli,
            KeyframeRequestKind::Fir => Self::Fir,
        }
    }
}

impl From<SfuKeyframeKind> for KeyframeRequestKind {
    fn from(kind: SfuKeyframeKind) -> Self {
        match kind {
            SfuKeyframeKind::Pli => Self::Pli,
            SfuKeyframeKind::Fir => Self::Fir,
        }
    }
}

/// A request for a keyframe on one media line (and simulcast layer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SfuKeyframeRequest {
    /// The media line the request is about.
    pub mid: SfuMid,
    /// The simulcast layer, if the media is simulcast.
    pub rid: Option<SfuRid>,
    /// PLI or FIR.
    pub kind: SfuKeyframeKind,
}

impl From<KeyframeRequest> for SfuKeyframeRequest {
    fn from(req: KeyframeRequest) -> Self {
        Self {
            mid: req.mid.into(),
            rid: req.rid.map(SfuRid::from),
            kind: req.kind.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_round_trips_through_str0m() {
        for kind in [SfuKeyframeKind::Pli, SfuKeyframeKind::Fir] {
            assert_eq!(SfuKeyframeKind::from(KeyframeRequestKind::from(kind)), kind);
        }
    }

    #[test]
    fn request_keeps_mid_and_rid() {
        let req = KeyframeRequest {
            mid: "1".into(),
            rid: Some("q".into()),
            kind: KeyframeRequestKind::Fir,
        };
        let ours = SfuKeyframeRequest::from(req);
        assert_eq!(ours.mid.as_str(), "1");
        assert_eq!(ours.rid.map(|r| r.to_string()), Some("q".to_string()));
        assert_eq!(ours.kind, SfuKeyframeKind::Fir);
    }
}
