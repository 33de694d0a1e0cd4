//! Media kinds and the forwarded media packet.

use std::sync::Arc;
use std::time::Instant;

use str0m::media::MediaKind;

use crate::{SfuMid, SfuPt, SfuRid};

/// Audio or video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SfuMediaKind {
    /// An audio track.
    Audio,
    /// A video track.
    Video,
}

impl SfuMediaKind {
    /// `true` for video.
    pub const fn is_video(self) -> bool {
        matches!(self, Self::Video)
    }
}

impl From<MediaKind> for SfuMediaKind {
    fn from(kind: MediaKind) -> Self {
        match kind {
            MediaKind::Audio => Self::Audio,
            MediaKind::Video => Self::Video,
        }
    }
}

impl From<SfuMediaKind> for MediaKind {
    fn from(kind: SfuMediaKind) -> Self {
        match kind {
            SfuMediaKind::Audio => Self::Audio,
            SfuMediaKind::Video => Self::Video,
        }
    }
}

/// One RTP packet received from a publisher, as the room forwards it.
///
/// The payload is shared (`Arc<[u8]>`, the type str0m both emits and accepts), so handing
/// the packet to every subscriber clones a pointer, never the bytes. Sequence number and
/// RTP time are the publisher's; each subscriber rewrites them into its own continuous
/// sequence space.
#[derive(Debug, Clone)]
pub struct SfuMediaPayload {
    /// The publisher's media line.
    pub mid: SfuMid,
    /// The simulcast layer, when the publisher sends simulcast.
    pub rid: Option<SfuRid>,
    /// The publisher's payload type.
    pub pt: SfuPt,
    /// Extended (roll-over free) RTP sequence number.
    pub seq_no: u64,
    /// RTP timestamp in the codec's clock rate.
    pub rtp_time: u32,
    /// The RTP marker bit (end of a video frame).
    pub marker: bool,
    /// Whether this packet starts a keyframe (codec-specific detection).
    pub keyframe: bool,
    /// The RTP payload, without header.
    pub payload: Arc<[u8]>,
    /// When the SFU received the packet.
    pub received_at: Instant,
    /// RFC 6464 audio level (−dBov, 0 loudest … −127 silence), when present.
    pub audio_level: Option<i8>,
    /// RFC 6464 voice activity flag, when present.
    pub voice_activity: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_round_trips_through_str0m() {
        for kind in [SfuMediaKind::Audio, SfuMediaKind::Video] {
            assert_eq!(SfuMediaKind::from(MediaKind::from(kind)), kind);
        }
        assert!(SfuMediaKind::Video.is_video());
        assert!(!SfuMediaKind::Audio.is_video());
    }
}
